/**
 * {@linkcode BufferPool}: the transfer buffers of a server, reused from transfer to
 * transfer, large while few transfers run and smaller as more do, so that memory
 * stays flat under many concurrent transfers.
 *
 * @module
 */

/** The smallest buffer handed out. */
export const MIN_BUFFER_SIZE = 64 * 1024;

/** Recycles transfer buffers, sized so that all in use stay near a budget. */
export class BufferPool {
  readonly #largest: number;
  readonly #budget: number;
  readonly #free = new Map<number, Uint8Array[]>();
  #inUse = 0;

  /** Buffers are at most `largest` bytes; together they aim at `budget` bytes. */
  constructor(largest: number, budget: number) {
    this.#largest = Math.max(MIN_BUFFER_SIZE, largest);
    this.#budget = budget;
  }

  /** How many buffers are out. */
  get inUse(): number {
    return this.#inUse;
  }

  /** A buffer for one more transfer: the largest size, halved until the buffers in use fit the budget (64 KiB at least). */
  acquire(): Uint8Array {
    this.#inUse++;
    let size = this.#largest;
    while (size > MIN_BUFFER_SIZE && size * this.#inUse > this.#budget) size /= 2;
    size = Math.max(MIN_BUFFER_SIZE, size);
    return this.#free.get(size)?.pop() ?? new Uint8Array(size);
  }

  /** Gives a buffer back; it is kept for reuse while the idle ones fit in the budget. */
  release(buffer: Uint8Array): void {
    this.#inUse--;
    const idle = [...this.#free.values()].reduce(
      (sum, list) => sum + list.length * (list[0]?.length ?? 0),
      0,
    );
    if (idle + buffer.length > this.#budget) return;
    const list = this.#free.get(buffer.length);
    if (list) list.push(buffer);
    else this.#free.set(buffer.length, [buffer]);
  }
}

/**
 * {@linkcode BufferPool}: the transfer buffers of a server, cut from one slab
 * allocated once, large while few transfers run and smaller as more do, so that
 * memory stays flat under many concurrent transfers and transfers make no garbage.
 *
 * @module
 */

/** The smallest buffer handed out. */
export const MIN_BUFFER_SIZE = 64 * 1024;

/**
 * Hands out transfer buffers from one slab of `budget` bytes with a buddy
 * allocator: sizes are powers of two from {@linkcode MIN_BUFFER_SIZE} to the
 * largest, split and merged in place, never freed. The size a transfer gets is
 * its fair share of the slab; a running transfer calls {@linkcode BufferPool.fit}
 * between chunks, so its buffer shrinks when more transfers start and grows back
 * when they end. Only when the slab has no block left (over
 * `budget / MIN_BUFFER_SIZE` transfers) is a buffer of the smallest size allocated
 * on its own.
 */
export class BufferPool {
  readonly #largest: number;
  readonly #slabSize: number;
  /**
   * Free block offsets per order (order `k` holds blocks of `MIN_BUFFER_SIZE << k`
   * bytes), the block freed last at the end, to be reused first while its memory is hot.
   */
  readonly #free: number[][];
  #slab: Uint8Array | null = null;
  #inUse = 0;

  /** Buffers are at most `largest` bytes, cut from a slab of `budget` bytes. */
  constructor(largest: number, budget: number) {
    let size = MIN_BUFFER_SIZE;
    while (size * 2 <= largest && size * 2 <= budget) size *= 2;
    this.#largest = size;
    this.#slabSize = Math.max(1, Math.floor(budget / size)) * size;
    this.#free = Array.from({ length: orderOf(size) + 1 }, () => []);
    for (let offset = this.#slabSize - size; offset >= 0; offset -= size) {
      this.#free.at(-1)!.push(offset);
    }
  }

  /** How many transfers hold a buffer or a share ({@linkcode BufferPool.share}). */
  get inUse(): number {
    return this.#inUse;
  }

  /** The size each transfer gets now: the largest, halved until all in use fit the slab (64 KiB at least). */
  get fairSize(): number {
    let size = this.#largest;
    while (size > MIN_BUFFER_SIZE && size * this.#inUse > this.#slabSize) size /= 2;
    return size;
  }

  /** Whether `buffer` was cut from this pool's slab (rather than allocated on its own). */
  fromSlab(buffer: Uint8Array): boolean {
    return buffer.buffer === this.#slab?.buffer;
  }

  /** A buffer for one more transfer, of the size {@linkcode BufferPool.fairSize} gives if the slab has one. */
  acquire(): Uint8Array {
    this.#inUse++;
    return this.#take(this.fairSize);
  }

  /**
   * The buffer a running transfer goes on with: `buffer` itself while it has the
   * fair size, else one of the fair size in its place when the slab has one: a
   * smaller one when more transfers have started since, a larger one when some
   * have ended, or one cut from the slab in place of a buffer of its own.
   */
  fit(buffer: Uint8Array): Uint8Array {
    const size = this.fairSize;
    if (buffer.length > size) {
      this.#giveBack(buffer);
      return this.#take(size);
    }
    if (buffer.length === size && this.fromSlab(buffer)) return buffer;
    const offset = this.#allocate(orderOf(size));
    if (offset === undefined) return buffer;
    this.#giveBack(buffer);
    return this.#cut(offset, size);
  }

  /**
   * Counts one more transfer in the fair share without a buffer, until disposed:
   * one that the kernel moves (`sendfile`, `splice`) in steps of
   * {@linkcode BufferPool.fairSize}, so that its steps shrink as more transfers
   * run, as buffers do.
   */
  share(): Disposable {
    this.#inUse++;
    let held = true;
    return {
      [Symbol.dispose]: () => {
        if (held) this.#inUse--;
        held = false;
      },
    };
  }

  /** Gives a buffer back at the end of a transfer. */
  release(buffer: Uint8Array): void {
    this.#inUse--;
    this.#giveBack(buffer);
  }

  /** A block of `size` bytes or, when the slab has none, the largest smaller one it has. */
  #take(size: number): Uint8Array {
    for (; size >= MIN_BUFFER_SIZE; size /= 2) {
      const offset = this.#allocate(orderOf(size));
      if (offset !== undefined) return this.#cut(offset, size);
    }
    return new Uint8Array(MIN_BUFFER_SIZE);
  }

  #cut(offset: number, size: number): Uint8Array {
    this.#slab ??= new Uint8Array(this.#slabSize);
    return this.#slab.subarray(offset, offset + size);
  }

  #giveBack(buffer: Uint8Array): void {
    if (this.fromSlab(buffer)) this.#deallocate(buffer.byteOffset, orderOf(buffer.length));
  }

  /** The offset of a free block of `order`, splitting a larger one if need be. */
  #allocate(order: number): number | undefined {
    let found = order;
    while (found < this.#free.length && this.#free[found].length === 0) found++;
    if (found === this.#free.length) return undefined;
    const offset = this.#free[found].pop()!;
    while (found > order) {
      found--;
      this.#free[found].push(offset + (MIN_BUFFER_SIZE << found));
    }
    return offset;
  }

  /** Frees a block, merging it with its buddy as long as that one is free too. */
  #deallocate(offset: number, order: number): void {
    while (order < this.#free.length - 1) {
      const free = this.#free[order];
      const buddy = free.indexOf(offset ^ (MIN_BUFFER_SIZE << order));
      if (buddy === -1) break;
      offset = Math.min(offset, free[buddy]);
      free[buddy] = free.at(-1)!;
      free.pop();
      order++;
    }
    this.#free[order].push(offset);
  }
}

/** The buddy order of a power-of-two size. */
function orderOf(size: number): number {
  return Math.log2(size / MIN_BUFFER_SIZE);
}

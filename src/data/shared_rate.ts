/**
 * {@linkcode SharedRate}: one rate limit that several transfers draw from at
 * once, such as every transfer of one user's sessions.
 *
 * @module
 */

/**
 * A budget of bytes per second shared by the transfers handed it: each one
 * debits the bytes it has moved and waits as long as {@linkcode SharedRate.debit}
 * says, so that all of them together keep to the rate, however many run. Time not
 * used is not saved up: a transfer that starts after a pause gets no burst.
 */
export class SharedRate {
  /** The most bytes per second, all transfers together. */
  readonly bytesPerSecond: number;
  /** When (`performance.now()`) the bytes debited so far are paid for. */
  #paidUntil = 0;

  /** A budget of `bytesPerSecond` (above 0). */
  constructor(bytesPerSecond: number) {
    if (!(bytesPerSecond > 0) || !Number.isFinite(bytesPerSecond)) {
      throw new RangeError(`a shared rate must be above 0 bytes per second, not ${bytesPerSecond}`);
    }
    this.bytesPerSecond = bytesPerSecond;
  }

  /** Debits `bytes` just moved; returns the milliseconds to wait before moving more. */
  debit(bytes: number): number {
    const now = performance.now();
    this.#paidUntil = Math.max(this.#paidUntil, now) + bytes / this.bytesPerSecond * 1000;
    return this.#paidUntil - now;
  }
}

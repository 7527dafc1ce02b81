/**
 * {@linkcode ConcurrencyLimit}: at most so many tasks at once, the others waiting
 * their turn in order (password hashes, which keep a processor busy each).
 *
 * @module
 */

/** The default number of hashes computed at once: the processors less one, at least 1. */
function defaultConcurrency(): number {
  return Math.max(1, (navigator.hardwareConcurrency || 1) - 1);
}

/** Runs at most `concurrency` tasks at once; the others wait, first come first served. */
export class ConcurrencyLimit {
  /** Most tasks running at once. */
  readonly concurrency: number;
  #active = 0;
  readonly #waiting: (() => void)[] = [];

  /** A limit of `concurrency` tasks at once (at least 1; default {@linkcode defaultConcurrency}). */
  constructor(concurrency = defaultConcurrency()) {
    this.concurrency = Math.max(1, Math.floor(concurrency));
  }

  /** Runs `task` once fewer than `concurrency` others run. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#active >= this.concurrency) {
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else this.#active++;
    try {
      return await task();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#active--;
    }
  }
}

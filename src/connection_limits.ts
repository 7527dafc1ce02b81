/**
 * {@linkcode ConnectionCounts}: how many connections are open, in all and per
 * address, and whether `maxCons` and `maxConsPerIp` let one more in. One process's
 * server keeps them; with workers, the supervisor keeps them for all.
 *
 * @module
 */

import type { ConnectionRefusal } from "./metrics.ts";

/** The limits on simultaneous connections; 0 is no limit. */
export interface ConnectionLimits {
  /** Most simultaneous connections. */
  readonly maxCons: number;
  /** Most simultaneous connections from one IP address. */
  readonly maxConsPerIp: number;
}

/** No limit at all: for counts that only record what another count admitted. */
export const UNLIMITED: ConnectionLimits = { maxCons: 0, maxConsPerIp: 0 };

/** Open connections, in all and by IP address. */
export class ConnectionCounts {
  #total = 0;
  readonly #perIp = new Map<string, number>();

  /** How many connections are counted. */
  get total(): number {
    return this.#total;
  }

  /** The addresses counted, each with its number of connections. */
  entries(): IterableIterator<[string, number]> {
    return this.#perIp.entries();
  }

  /**
   * Counts one more connection from `ip` if `limits` let it in; otherwise counts
   * nothing and returns the limit it is over.
   */
  admit(ip: string, limits: ConnectionLimits): ConnectionRefusal | null {
    if (limits.maxCons > 0 && this.#total >= limits.maxCons) return "max_cons";
    const fromIp = this.#perIp.get(ip) ?? 0;
    if (limits.maxConsPerIp > 0 && fromIp >= limits.maxConsPerIp) return "max_cons_per_ip";
    this.#total++;
    this.#perIp.set(ip, fromIp + 1);
    return null;
  }

  /** Forgets `count` (default one) of the connections counted from `ip`. */
  release(ip: string, count = 1): void {
    const fromIp = this.#perIp.get(ip) ?? 0;
    const released = Math.min(count, fromIp);
    this.#total -= released;
    if (fromIp > released) this.#perIp.set(ip, fromIp - released);
    else this.#perIp.delete(ip);
  }
}

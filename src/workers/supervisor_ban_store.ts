/**
 * {@linkcode SupervisorBanStore}: a worker's end of the defender's store that its
 * supervisor holds, so that an address banned by one worker is refused by all.
 *
 * @module
 */

import type { BanRecord, BanStore } from "../defender/ban_store.ts";
import type { WorkerLink } from "./worker_link.ts";

/**
 * The {@linkcode BanStore} of a worker process: every call goes to the
 * supervisor's one `MemoryBanStore` over the worker's link (one round trip on a
 * unix socket). A `Defender` made in a worker uses it unless given a store.
 */
export class SupervisorBanStore implements BanStore {
  readonly #link: WorkerLink;

  /** The store reached over `link`. */
  constructor(link: WorkerLink) {
    this.#link = link;
  }

  async addPoints(key: string, points: number, now: number, since: number): Promise<number> {
    return await this.#link.callBans({
      method: "addPoints",
      args: [key, points, now, since],
    }) as number;
  }

  async get(key: string): Promise<BanRecord | null> {
    return await this.#link.callBans({ method: "get", args: [key] }) as BanRecord | null;
  }

  async put(record: BanRecord): Promise<void> {
    await this.#link.callBans({ method: "put", args: [record] });
  }

  async delete(key: string): Promise<boolean> {
    return await this.#link.callBans({ method: "delete", args: [key] }) as boolean;
  }

  async list(now: number): Promise<BanRecord[]> {
    return await this.#link.callBans({ method: "list", args: [now] }) as BanRecord[];
  }
}

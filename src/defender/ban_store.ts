/**
 * {@linkcode BanStore}: where a {@linkcode Defender}'s scores and bans live, and
 * {@linkcode MemoryBanStore}, the store of one process. A store holds plain data
 * (numbers and strings, times in milliseconds since the epoch), so one shared by
 * several processes (a supervisor's, a database's) can carry it as it is.
 *
 * @import { Defender } from "./defender.ts"
 * @module
 */

/** A ban, in force or ended but remembered (its offences count towards the next one). */
export interface BanRecord {
  /** What is banned: an IPv4 address, or an IPv6 network (`2001:db8:1:2::/64`). */
  readonly key: string;
  /** When the ban began (ms since the epoch). */
  readonly since: number;
  /** When it ends (ms since the epoch). */
  readonly until: number;
  /** How many bans the key has had, this one included: a repeat offence bans longer. */
  readonly offences: number;
  /** Why, for the log and the list of bans. */
  readonly reason: string;
  /** When the store may forget the record, and its offences with it (ms since the epoch). */
  readonly expires: number;
  /** Whether the ban's end has been noticed (and logged) yet. */
  readonly ended: boolean;
}

/**
 * The state of a {@linkcode Defender}: each key's recent points and its ban. Every
 * method is asynchronous, so a store may live in another process or a database;
 * each call is one step on its own (two processes adding points at once both
 * count).
 */
export interface BanStore {
  /**
   * Adds `points` to `key`'s score at the time `now`, forgetting what was scored
   * before `since`; resolves to the score since `since`, these points included.
   */
  addPoints(key: string, points: number, now: number, since: number): Promise<number>;
  /** `key`'s ban record (in force, or ended but not yet expired), if any. */
  get(key: string): Promise<BanRecord | null>;
  /** Stores `record` as its key's ban, replacing any before and clearing the key's score. */
  put(record: BanRecord): Promise<void>;
  /** Forgets `key`: its ban, offences and score; resolves to whether it had a ban record. */
  delete(key: string): Promise<boolean>;
  /** The bans in force at the time `now`. */
  list(now: number): Promise<BanRecord[]>;
}

/** Options of a {@linkcode MemoryBanStore}. */
export interface MemoryBanStoreOptions {
  /**
   * Most keys held, scores and bans together (default 10,000). Past it, what has
   * expired goes first, then scores, least recently touched first, then bans,
   * oldest first: an attacker rotating addresses can never grow the table.
   */
  maxEntries?: number;
}

/** One key's state: its recent points and its ban record. */
interface Entry {
  /** Points scored, oldest first: `[time, points]`. */
  points: [number, number][];
  /** When its points are all older than the window they were scored in. */
  scoreExpires: number;
  ban: BanRecord | null;
}

/** The most points events one key keeps; older ones are summed into the oldest kept. */
const MAX_EVENTS = 256;

/** The default {@linkcode BanStore}: a table in this process, bounded in size. */
export class MemoryBanStore implements BanStore {
  /** Most keys held. */
  readonly maxEntries: number;
  /** In order of last change: the least recently touched first. */
  readonly #entries = new Map<string, Entry>();

  /** An empty store. */
  constructor(options: MemoryBanStoreOptions = {}) {
    const max = options.maxEntries ?? 10_000;
    if (!Number.isInteger(max) || max < 1) {
      throw new RangeError(`maxEntries must be a positive integer, not ${max}`);
    }
    this.maxEntries = max;
  }

  /** How many keys are held. */
  get size(): number {
    return this.#entries.size;
  }

  addPoints(key: string, points: number, now: number, since: number): Promise<number> {
    const entry = this.#touch(key, now);
    const kept = entry.points.filter(([at]) => at >= since);
    kept.push([now, points]);
    if (kept.length > MAX_EVENTS) {
      const [first, second] = kept.splice(0, 2);
      kept.unshift([second[0], first[1] + second[1]]);
    }
    entry.points = kept;
    entry.scoreExpires = now + (now - since);
    return Promise.resolve(kept.reduce((sum, [, scored]) => sum + scored, 0));
  }

  get(key: string): Promise<BanRecord | null> {
    return Promise.resolve(this.#entries.get(key)?.ban ?? null);
  }

  put(record: BanRecord): Promise<void> {
    const entry = this.#touch(record.key, record.since);
    entry.ban = record;
    entry.points = [];
    entry.scoreExpires = 0;
    return Promise.resolve();
  }

  delete(key: string): Promise<boolean> {
    const had = this.#entries.get(key)?.ban != null;
    this.#entries.delete(key);
    return Promise.resolve(had);
  }

  list(now: number): Promise<BanRecord[]> {
    const bans: BanRecord[] = [];
    for (const { ban } of this.#entries.values()) if (ban && ban.until > now) bans.push(ban);
    return Promise.resolve(bans);
  }

  /** `key`'s entry, made if missing, moved to the most recent end; the table trimmed if full. */
  #touch(key: string, now: number): Entry {
    const entry = this.#entries.get(key) ?? { points: [], scoreExpires: 0, ban: null };
    this.#entries.delete(key);
    if (this.#entries.size >= this.maxEntries) this.#trim(now);
    this.#entries.set(key, entry);
    return entry;
  }

  /** Makes room: down to nine tenths of the limit, so that trimming is rare. */
  #trim(now: number): void {
    const target = Math.floor(this.maxEntries * 0.9);
    const drop = (keep: (entry: Entry) => boolean) => {
      for (const [key, entry] of this.#entries) {
        if (this.#entries.size <= target) return;
        if (!keep(entry)) this.#entries.delete(key);
      }
    };
    drop((entry) => entry.scoreExpires > now || (entry.ban !== null && entry.ban.expires > now));
    drop((entry) => entry.ban !== null);
    drop(() => false);
  }
}

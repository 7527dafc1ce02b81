/**
 * {@linkcode Defender}: bans the addresses that brute-force logins or abuse the
 * protocol, fail2ban's idea built in (SFTPGo calls its own one a defender). Each
 * address scores points for what it does wrong; past a threshold within an
 * observation window it is banned, for longer at each repeat offence, and its
 * connections are refused at once.
 *
 * @module
 */

import { workerRole } from "../workers/role.ts";
import { SupervisorBanStore } from "../workers/supervisor_ban_store.ts";
import { workerLink } from "../workers/worker_link.ts";
import { inNetwork, type Network, parseNetwork } from "../auth/networks.ts";
import { formatLogTime, Logger } from "../log.ts";
import { formatIPv6, ipBytes } from "../net.ts";
import { type BanRecord, type BanStore, MemoryBanStore } from "./ban_store.ts";

/**
 * What a client can do wrong: a failed login; a connection refused because its
 * address has `maxConsPerIp` connections already; one refused because the server
 * has `maxCons`; a command line that is not FTP (an unknown command, a line too
 * long or not UTF-8) beyond the few each session may send for free.
 */
export type DefenderEvent = "loginFailed" | "perIpLimit" | "serverFull" | "protocolError";

/** Options of a {@linkcode Defender}; times are in seconds. */
export interface DefenderOptions {
  /** The score at which an address is banned (default 20). */
  threshold?: number;
  /** How far back points count towards the threshold (default 600: ten minutes). */
  observationTime?: number;
  /** How long a first ban lasts (default 600); each repeat offence doubles it. */
  banTime?: number;
  /**
   * The longest ban (default 86,400: a day). Offences are remembered this long
   * after a ban ends: an address that keeps clean that long starts over.
   */
  maxBanTime?: number;
  /**
   * The points of each event (defaults: `loginFailed` 2, `perIpLimit` 1,
   * `serverFull` 0, `protocolError` 1); 0 ignores an event.
   */
  points?: Partial<Record<DefenderEvent, number>>;
  /** Protocol errors each session may make before they score (default 5: clients probe). */
  freeProtocolErrors?: number;
  /**
   * Addresses and CIDR networks never scored nor banned (default the loopback:
   * `127.0.0.0/8` and `::1`); `[]` allows none.
   */
  allowList?: readonly string[];
  /**
   * The IPv6 prefix scored and banned as one (default 64): a host given a /64
   * picks any address in it, so banning one address would not hold it off.
   */
  ipv6Prefix?: number;
  /**
   * Where scores and bans live (default: a {@linkcode MemoryBanStore} of this process; in a
   * worker of the `workers` option, the one its supervisor holds for all workers).
   */
  store?: BanStore;
  /** Where bans, unbans and ends of bans are logged (default: info and above to stderr). */
  logger?: Logger;
}

/** The points of each event when not given. */
export const DEFAULT_POINTS: Readonly<Record<DefenderEvent, number>> = {
  loginFailed: 2,
  perIpLimit: 1,
  serverFull: 0,
  protocolError: 1,
};

/** The 421 text a banned address is refused with, at connection or when its session is banned. */
export const BANNED_REPLY =
  "Banned: too many failed logins or bad commands from your address; try again later.";

/** A process's own table; in a worker, the table its supervisor holds for every worker. */
function defaultStore(): BanStore {
  const role = workerRole();
  return role ? new SupervisorBanStore(workerLink(role)) : new MemoryBanStore();
}

/** The networks of the default allow-list: the loopback. */
const LOOPBACK = ["127.0.0.0/8", "::1"];

function positive(name: string, value: number): number {
  if (!(value > 0) || !Number.isFinite(value)) {
    throw new RangeError(`${name} must be a positive number of seconds, not ${value}`);
  }
  return value;
}

/**
 * Scores client addresses and bans those that cross the threshold. An
 * {@linkcode FTPServer} makes one unless given one (`defender: false` turns it
 * off); one instance may serve several servers, and several processes may share
 * its {@linkcode BanStore}. A failure of the store is logged and lets clients in.
 *
 * ```ts
 * import { Defender, DummyAuthorizer, FTPServer } from "../../mod.ts";
 *
 * const defender = new Defender({ threshold: 10, allowList: ["10.0.0.0/8"] });
 * const authorizer = new DummyAuthorizer();
 * authorizer.addAnonymous(Deno.cwd());
 * const server = new FTPServer({ port: 2121, authorizer, defender });
 * await defender.ban("203.0.113.9", 3600);
 * console.log(await defender.bans());
 * server.close();
 * ```
 */
export class Defender {
  /** The score at which an address is banned. */
  readonly threshold: number;
  /** Seconds back that points count. */
  readonly observationTime: number;
  /** Seconds a first ban lasts. */
  readonly banTime: number;
  /** Seconds the longest ban lasts. */
  readonly maxBanTime: number;
  /** The points of each event. */
  readonly points: Readonly<Record<DefenderEvent, number>>;
  /** Protocol errors each session makes for free. */
  readonly freeProtocolErrors: number;
  /** The networks never banned. */
  readonly allowList: readonly Network[];
  /** The IPv6 prefix banned as one. */
  readonly ipv6Prefix: number;
  /** Where scores and bans live. */
  readonly store: BanStore;
  /** Where bans are logged. */
  readonly logger: Logger;

  /** A defender with `options`; throws `RangeError` or `TypeError` on a bad one. */
  constructor(options: DefenderOptions = {}) {
    this.threshold = options.threshold ?? 20;
    if (!(this.threshold > 0)) throw new RangeError(`threshold must be positive`);
    this.observationTime = positive("observationTime", options.observationTime ?? 600);
    this.banTime = positive("banTime", options.banTime ?? 600);
    this.maxBanTime = positive("maxBanTime", options.maxBanTime ?? 86_400);
    this.points = { ...DEFAULT_POINTS, ...options.points };
    for (const [event, points] of Object.entries(this.points)) {
      if (!(points >= 0)) throw new RangeError(`points of ${event} must be 0 or more`);
    }
    this.freeProtocolErrors = options.freeProtocolErrors ?? 5;
    this.allowList = (options.allowList ?? LOOPBACK).map((text) => {
      const network = parseNetwork(text);
      if (!network) throw new TypeError(`not an address or CIDR network: ${text}`);
      return network;
    });
    this.ipv6Prefix = options.ipv6Prefix ?? 64;
    if (!Number.isInteger(this.ipv6Prefix) || this.ipv6Prefix < 1 || this.ipv6Prefix > 128) {
      throw new RangeError(`ipv6Prefix must be 1 to 128, not ${this.ipv6Prefix}`);
    }
    this.store = options.store ?? defaultStore();
    this.logger = options.logger ?? new Logger();
  }

  /** Its settings in a sentence, for the start-up log. */
  describe(): string {
    const allowed = this.allowList.map((network) => network.text).join(", ") || "none";
    return `ban at ${this.threshold} points in ${this.observationTime} s, for ${this.banTime} s ` +
      `doubling up to ${this.maxBanTime} s; allow-list: ${allowed}`;
  }

  /** Whether `address` is on the allow-list. */
  isAllowed(address: string): boolean {
    return this.allowList.some((network) => inNetwork(address, network));
  }

  /**
   * What is scored and banned for `address`: an IPv4 address itself, the
   * `ipv6Prefix` network of an IPv6 one (`2001:db8:1:2::/64`); a key as
   * {@linkcode bans} lists it is its own key. `null` if it is neither.
   */
  keyOf(address: string): string | null {
    const slash = address.indexOf("/");
    const bytes = ipBytes(slash < 0 ? address : address.slice(0, slash));
    if (!bytes) return null;
    if (bytes.length === 4) return slash < 0 ? bytes.join(".") : null;
    const network = parseNetwork(slash < 0 ? `${address}/${this.ipv6Prefix}` : address);
    if (!network || network.prefix !== this.ipv6Prefix) return null;
    return `${formatIPv6(network.bytes)}/${network.prefix}`;
  }

  /**
   * Adds the points of `event` to `address`'s score, banning it when the score
   * reaches the threshold; resolves to whether it is banned (then or already).
   * An allow-listed address is never scored.
   */
  async score(address: string, event: DefenderEvent): Promise<boolean> {
    const key = this.#scoredKey(address);
    if (key === null) return false;
    return await this.#guarded(false, async () => {
      const now = Date.now();
      const record = await this.#current(key, now);
      if (record && record.until > now) return true;
      const points = this.points[event];
      if (points <= 0) return false;
      const since = now - this.observationTime * 1000;
      const score = await this.store.addPoints(key, points, now, since);
      if (score < this.threshold) return false;
      const reason = `score ${score} in ${this.observationTime} s, the last for ${event}`;
      await this.#ban(key, record, now, null, reason);
      return true;
    });
  }

  /** Whether a ban on `address` is in force (an allow-listed one never is). */
  async isBanned(address: string): Promise<boolean> {
    const key = this.#scoredKey(address);
    if (key === null) return false;
    return await this.#guarded(false, async () => {
      const now = Date.now();
      const record = await this.#current(key, now);
      return record !== null && record.until > now;
    });
  }

  /**
   * Bans `address` (an address, or a key as {@linkcode bans} lists it) for
   * `seconds`, or as long as its next offence would; resolves to the ban. An
   * allow-listed address is refused with a `TypeError`, as is what is not an address.
   */
  async ban(
    address: string,
    seconds?: number,
    reason = "banned by the operator",
  ): Promise<BanRecord> {
    const key = this.keyOf(address);
    if (key === null) throw new TypeError(`not an address: ${address}`);
    if (this.isAllowed(address.replace(/\/.*/, ""))) {
      throw new TypeError(`${address} is on the allow-list: it cannot be banned`);
    }
    if (seconds !== undefined) positive("seconds", seconds);
    const now = Date.now();
    return await this.#ban(key, await this.#current(key, now), now, seconds ?? null, reason);
  }

  /** Lifts the ban on `address` and forgets its offences; resolves to whether it had one. */
  async unban(address: string): Promise<boolean> {
    const key = this.keyOf(address);
    if (key === null) throw new TypeError(`not an address: ${address}`);
    const record = await this.store.get(key);
    await this.store.delete(key);
    const inForce = record !== null && record.until > Date.now();
    if (inForce) this.logger.info(`defender: unbanned ${key}`);
    return inForce;
  }

  /** The bans in force, soonest to end first. */
  async bans(): Promise<BanRecord[]> {
    return (await this.store.list(Date.now())).sort((a, b) => a.until - b.until);
  }

  /** The view of one session from `address`: its first few protocol errors are free. */
  forSession(address: string): SessionOffences {
    return new SessionOffences(this, address);
  }

  /** The key of `address`, unless it is allow-listed (or not an address). */
  #scoredKey(address: string): string | null {
    return this.isAllowed(address) ? null : this.keyOf(address);
  }

  /** `key`'s ban record; a ban just found ended is logged (once) as such. */
  async #current(key: string, now: number): Promise<BanRecord | null> {
    const record = await this.store.get(key);
    if (!record || record.until > now || record.ended) return record;
    this.logger.info(`defender: ban of ${key} ended at ${formatLogTime(new Date(record.until))}`);
    const ended = { ...record, ended: true };
    await this.store.put(ended);
    return ended;
  }

  async #ban(
    key: string,
    previous: BanRecord | null,
    now: number,
    seconds: number | null,
    reason: string,
  ): Promise<BanRecord> {
    const offences = (previous?.offences ?? 0) + 1;
    const duration = seconds ?? Math.min(this.banTime * 2 ** (offences - 1), this.maxBanTime);
    const until = now + duration * 1000;
    const record: BanRecord = {
      key,
      since: now,
      until,
      offences,
      reason,
      expires: until + this.maxBanTime * 1000,
      ended: false,
    };
    await this.store.put(record);
    this.logger.warning(
      `defender: banned ${key} for ${duration} s, until ${formatLogTime(new Date(until))} ` +
        `(offence ${offences}): ${reason}`,
    );
    return record;
  }

  /** Runs `step` against the store; a failure is logged and answered with `fallback`. */
  async #guarded<T>(fallback: T, step: () => Promise<T>): Promise<T> {
    try {
      return await step();
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      this.logger.error(`defender: the ban store failed: ${detail}`);
      return fallback;
    }
  }
}

/** One session's events, reported to its {@linkcode Defender}, the first few protocol errors free. */
export class SessionOffences {
  readonly #defender: Defender;
  readonly #address: string;
  #protocolErrors = 0;

  /** The offences of a session from `address`, reported to `defender`. */
  constructor(defender: Defender, address: string) {
    this.#defender = defender;
    this.#address = address;
  }

  /** Reports `event`; resolves to whether the session's address is banned. */
  report(event: DefenderEvent): Promise<boolean> {
    if (event === "protocolError" && ++this.#protocolErrors <= this.#defender.freeProtocolErrors) {
      return Promise.resolve(false);
    }
    return this.#defender.score(this.#address, event);
  }
}

/**
 * Password hashes: the formats a users file may hold, how each is recognized and
 * checked, and {@linkcode PasswordVerifier}, which verifies them off the event
 * loop, a bounded number at a time.
 *
 * | format        | looks like                                    | verified by                    |
 * | ------------- | --------------------------------------------- | ------------------------------ |
 * | argon2        | `$argon2id$v=19$m=19456,t=2,p=1$salt$hash`    | `@node-rs/argon2` (native)     |
 * | bcrypt        | `$2b$10$...` (`$2a$`, `$2y$` too)             | `@node-rs/bcrypt` (native)     |
 * | scrypt        | `$scrypt$ln=17,r=8,p=1$salt$hash` (PHC)       | `node:crypto` `scrypt`         |
 * | SHA-512-crypt | `$6$salt$hash`, `$6$rounds=N$salt$hash`       | this project, in a worker      |
 *
 * @module
 */

import { scrypt, timingSafeEqual } from "node:crypto";
import { Buffer } from "node:buffer";
import { ConcurrencyLimit } from "./limit.ts";
import {
  DEFAULT_ROUNDS,
  MAX_ROUNDS,
  MIN_ROUNDS,
  type Sha512CryptAnswer,
  type Sha512CryptJob,
} from "./sha512_crypt.ts";

/** A password hash, recognized and checked by {@linkcode parsePasswordHash}. */
export type PasswordHash =
  | { readonly format: "argon2" | "bcrypt"; readonly text: string }
  | {
    readonly format: "scrypt";
    readonly text: string;
    readonly logN: number;
    readonly r: number;
    readonly p: number;
    readonly salt: Uint8Array;
    readonly hash: Uint8Array;
  }
  | {
    readonly format: "sha512-crypt";
    readonly text: string;
    readonly rounds: number;
    readonly salt: Uint8Array;
    readonly digest: string;
  };

/** Why a text is not a password hash this server can verify (the message says it). */
export class PasswordHashError extends Error {
  /** Always `"PasswordHashError"`. */
  override name = "PasswordHashError";
}

/** The parameters `hashPassword` uses: OWASP's first argon2id choice (19 MiB, 2 passes, 1 lane). */
export const ARGON2ID_PARAMETERS = { memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;

/**
 * An argon2id hash of a password nobody has, with {@linkcode ARGON2ID_PARAMETERS}:
 * verified for unknown users so that they take as long as known ones.
 */
const DUMMY_HASH =
  "$argon2id$v=19$m=19456,t=2,p=1$34VblLvVj4h2euStrpK2Tw$yG8xC9E+QtUjqdx7UZIPa0RozsLzIAZgoNWAvmRGwyc";

/** The most memory an scrypt hash may ask for (1 GiB). */
const SCRYPT_MAX_MEMORY = 1024 ** 3;

const B64 = "[A-Za-z0-9+/]+";
const ARGON2 = new RegExp(
  `^\\$argon2(?:id|i|d)\\$(?:v=(?:16|19)\\$)?m=(\\d{1,10}),t=(\\d{1,10}),p=(\\d{1,3})\\$${B64}\\$${B64}$`,
);
const BCRYPT = /^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$/;
const SCRYPT = new RegExp(
  `^\\$scrypt\\$ln=(\\d{1,2}),r=(\\d{1,4}),p=(\\d{1,4})\\$(${B64})\\$(${B64})$`,
);
const SHA512_CRYPT = /^\$6\$(?:rounds=(\d{1,9})\$)?([./0-9A-Za-z]{0,16})\$([./0-9A-Za-z]{86})$/;

/** Decodes unpadded standard base 64 (the PHC string format's B64). */
function decodeB64(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, "base64"));
}

/** The kind of hash `text` starts like, for error messages. */
function prefixOf(text: string): string {
  return /^\$[^$]*\$?/.exec(text)?.[0] ?? text.slice(0, 8);
}

/**
 * Recognizes a password hash; throws {@linkcode PasswordHashError} saying why when
 * `text` is plain text, a format this server does not know, or malformed.
 */
export function parsePasswordHash(text: string): PasswordHash {
  if (!text.startsWith("$")) {
    throw new PasswordHashError(
      "the password is not a hash (plain text is refused): make one with `tsftpd hash-password`",
    );
  }
  if (/^\$argon2(id|i|d)\$/.test(text)) {
    const match = ARGON2.exec(text);
    if (!match) throw new PasswordHashError("malformed argon2 hash");
    const [m, t, p] = match.slice(1).map(Number);
    if (m < 8 * p || t < 1 || p < 1) throw new PasswordHashError("argon2 parameters out of range");
    return { format: "argon2", text };
  }
  if (/^\$2[aby]\$/.test(text)) {
    const match = BCRYPT.exec(text);
    if (!match) throw new PasswordHashError("malformed bcrypt hash");
    const cost = Number(match[1]);
    if (cost < 4 || cost > 31) throw new PasswordHashError(`bcrypt cost ${cost} is not 04 to 31`);
    return { format: "bcrypt", text };
  }
  if (text.startsWith("$scrypt$")) {
    const match = SCRYPT.exec(text);
    if (!match) {
      throw new PasswordHashError(
        "malformed scrypt hash (expected $scrypt$ln=N,r=R,p=P$salt$hash)",
      );
    }
    const [logN, r, p] = match.slice(1, 4).map(Number);
    if (logN < 1 || logN > 31 || r < 1 || p < 1) {
      throw new PasswordHashError("scrypt parameters out of range");
    }
    if (128 * r * 2 ** logN > SCRYPT_MAX_MEMORY) {
      throw new PasswordHashError("scrypt parameters need more than 1 GiB of memory");
    }
    const hash = decodeB64(match[5]);
    if (hash.length < 16) throw new PasswordHashError("scrypt hash shorter than 16 bytes");
    return { format: "scrypt", text, logN, r, p, salt: decodeB64(match[4]), hash };
  }
  if (text.startsWith("$6$")) {
    const match = SHA512_CRYPT.exec(text);
    if (!match) throw new PasswordHashError("malformed SHA-512-crypt hash");
    const rounds = match[1] === undefined ? DEFAULT_ROUNDS : Number(match[1]);
    if (rounds < MIN_ROUNDS || rounds > MAX_ROUNDS) {
      throw new PasswordHashError(
        `SHA-512-crypt rounds ${rounds} are not ${MIN_ROUNDS} to ${MAX_ROUNDS}`,
      );
    }
    return {
      format: "sha512-crypt",
      text,
      rounds,
      salt: new TextEncoder().encode(match[2]),
      digest: match[3],
    };
  }
  throw new PasswordHashError(
    `unknown hash format ${JSON.stringify(prefixOf(text))}: use argon2id ($argon2id$), ` +
      "bcrypt ($2b$, $2a$, $2y$), scrypt ($scrypt$) or SHA-512-crypt ($6$)",
  );
}

type Argon2Module = typeof import("@node-rs/argon2");
type BcryptModule = typeof import("@node-rs/bcrypt");

let argon2Module: Promise<Argon2Module> | null = null;
let bcryptModule: Promise<BcryptModule> | null = null;

/** The native argon2 binding, loaded the first time it is needed. */
function argon2(): Promise<Argon2Module> {
  return argon2Module ??= import("@node-rs/argon2");
}

/** The native bcrypt binding, loaded the first time it is needed. */
function bcrypt(): Promise<BcryptModule> {
  return bcryptModule ??= import("@node-rs/bcrypt");
}

/**
 * The argon2id hash of `password` (with {@linkcode ARGON2ID_PARAMETERS} and a
 * random 16-byte salt), in the PHC string form a users file takes.
 */
export async function hashPassword(password: string): Promise<string> {
  const { hash } = await argon2();
  return await hash(password, {
    algorithm: 2, // Algorithm.Argon2id (a const enum the binding's types declare)
    version: 1, // Version.V0x13 (19)
    ...ARGON2ID_PARAMETERS,
    outputLen: 32,
  });
}

/** Options of a {@linkcode PasswordVerifier}. */
export interface PasswordVerifierOptions {
  /**
   * Most hashes computed at once (default: the number of processors less one, at
   * least 1), so that a burst of logins leaves a processor to the sessions.
   */
  concurrency?: number;
}

/** A SHA-512-crypt worker and the verifications it has been asked. */
interface Sha512Worker {
  worker: Worker;
  pending: Map<number, { resolve: (ok: boolean) => void; reject: (error: Error) => void }>;
  /** Ends the worker once it has been idle for {@linkcode WORKER_IDLE_MS}. */
  idleTimer?: ReturnType<typeof setTimeout>;
}

/**
 * How long a SHA-512-crypt worker is kept without work: a worker costs about
 * 20 MiB, and such hashes are usually a few accounts migrated from a shadow file.
 */
const WORKER_IDLE_MS = 30_000;

/**
 * Verifies password hashes off the event loop: argon2 and bcrypt in their native
 * bindings' threads, scrypt in the runtime's, SHA-512-crypt in workers, at most
 * `concurrency` at a time (the others wait their turn). Comparisons are constant
 * time. A SHA-512-crypt worker starts at the first such verification and ends
 * after 30 s without work; {@linkcode PasswordVerifier.close} ends them at once.
 */
export class PasswordVerifier implements Disposable {
  /** Most hashes computed at once. */
  readonly concurrency: number;
  readonly #limit: ConcurrencyLimit;
  readonly #idle: Sha512Worker[] = [];
  readonly #workers = new Set<Sha512Worker>();
  #nextId = 0;
  #closed = false;

  /** A verifier; see {@linkcode PasswordVerifierOptions}. */
  constructor(options: PasswordVerifierOptions = {}) {
    this.#limit = new ConcurrencyLimit(options.concurrency);
    this.concurrency = this.#limit.concurrency;
  }

  /** Whether `password` matches `hash` (a {@linkcode PasswordHash} or its text). */
  async verify(hash: PasswordHash | string, password: string): Promise<boolean> {
    const parsed = typeof hash === "string" ? parsePasswordHash(hash) : hash;
    return await this.#limit.run(() => this.#verify(parsed, password));
  }

  /**
   * Spends the time of an argon2id verification and resolves to `false`: what an
   * unknown user name costs, so that timing does not tell which names exist.
   */
  verifyNobody(password: string): Promise<boolean> {
    return this.#limit.run(async () => {
      await (await argon2()).verify(DUMMY_HASH, password);
      return false;
    });
  }

  /** Ends the SHA-512-crypt workers; verifications still waiting for one fail. */
  close(): void {
    this.#closed = true;
    for (const entry of this.#workers) this.#end(entry, new Error("the verifier was closed"));
  }

  /** Same as {@linkcode PasswordVerifier.close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  async #verify(hash: PasswordHash, password: string): Promise<boolean> {
    switch (hash.format) {
      case "argon2":
        return await (await argon2()).verify(hash.text, password);
      case "bcrypt":
        return await (await bcrypt()).verify(password, hash.text);
      case "scrypt": {
        const derived = await scryptAsync(password, hash);
        return derived.length === hash.hash.length && timingSafeEqual(derived, hash.hash);
      }
      case "sha512-crypt":
        return await this.#sha512Crypt({
          id: 0,
          password: new TextEncoder().encode(password),
          salt: hash.salt,
          rounds: hash.rounds,
          digest: hash.digest,
        });
    }
  }

  /** Runs a SHA-512-crypt job on an idle worker, starting one if none is idle. */
  async #sha512Crypt(job: Sha512CryptJob): Promise<boolean> {
    if (this.#closed) throw new Error("the verifier was closed");
    const entry = this.#idle.pop() ?? this.#startWorker();
    clearTimeout(entry.idleTimer);
    const id = ++this.#nextId;
    try {
      return await new Promise<boolean>((resolve, reject) => {
        entry.pending.set(id, { resolve, reject });
        entry.worker.postMessage({ ...job, id });
      });
    } finally {
      if (this.#workers.has(entry)) {
        this.#idle.push(entry);
        entry.idleTimer = setTimeout(
          () => this.#end(entry, new Error("the worker was idle")),
          WORKER_IDLE_MS,
        );
        // An idle worker never keeps the process alive.
        Deno.unrefTimer(entry.idleTimer as unknown as number);
      }
    }
  }

  #startWorker(): Sha512Worker {
    const worker = new Worker(new URL("./sha512_crypt_worker.ts", import.meta.url).href, {
      type: "module",
    });
    const entry: Sha512Worker = { worker, pending: new Map() };
    worker.onmessage = (event: MessageEvent<Sha512CryptAnswer>) => {
      const answer = event.data;
      const waiter = entry.pending.get(answer.id);
      entry.pending.delete(answer.id);
      if ("ok" in answer) waiter?.resolve(answer.ok);
      else waiter?.reject(new Error(`SHA-512-crypt failed: ${answer.error}`));
    };
    worker.onerror = (event) => {
      event.preventDefault();
      this.#end(entry, new Error(`the SHA-512-crypt worker failed: ${event.message}`));
    };
    this.#workers.add(entry);
    return entry;
  }

  #end(entry: Sha512Worker, error: Error): void {
    clearTimeout(entry.idleTimer);
    entry.worker.terminate();
    this.#workers.delete(entry);
    const index = this.#idle.indexOf(entry);
    if (index >= 0) this.#idle.splice(index, 1);
    for (const waiter of entry.pending.values()) waiter.reject(error);
    entry.pending.clear();
  }
}

/** scrypt in the runtime's thread pool, with the memory limit its parameters need. */
function scryptAsync(
  password: string,
  hash: Extract<PasswordHash, { format: "scrypt" }>,
): Promise<Uint8Array> {
  const N = 2 ** hash.logN;
  const maxmem = 128 * hash.r * (N + hash.p + 2) + 1024 * 1024;
  return new Promise((resolve, reject) => {
    scrypt(
      password,
      hash.salt,
      hash.hash.length,
      { N, r: hash.r, p: hash.p, maxmem },
      (error, key) => error ? reject(error) : resolve(new Uint8Array(key)),
    );
  });
}

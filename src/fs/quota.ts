/**
 * {@linkcode Quota}: how many bytes and files a user may keep in their home, and
 * how many they keep, shared by the user's sessions of one server.
 *
 * @module
 */

import { posix } from "node:path";
import { FTPError } from "../errors.ts";
import { FilesystemError, toFilesystemError } from "./errors.ts";
import type { FileSystem } from "./filesystem.ts";
import { formatSize } from "../sizes.ts";

/** How much a user may store; absent or 0: no limit. */
export interface QuotaLimits {
  /** Bytes of regular files, all together. */
  readonly bytes?: number;
  /** Regular files. */
  readonly files?: number;
}

/** What a home holds: its regular files (symlinks and directories are not counted) and their bytes. */
export interface Usage {
  /** Bytes of regular files, all together. */
  bytes: number;
  /** Regular files. */
  files: number;
}

/** The refusal of an upload past a quota: 552, the code RFC 959 gives "exceeded storage allocation". */
export class QuotaExceeded extends FilesystemError {
  /** Always `"QuotaExceeded"`. */
  override name = "QuotaExceeded";

  /** The refusal `Quota exceeded: <what>.` */
  constructor(what: string) {
    super(`Quota exceeded: ${what}.`, 552, { log: "info" });
  }
}

/**
 * Counts the regular files under `dir` of `fs` and their bytes, upload temporaries
 * included (they take room too). A directory that cannot be listed counts nothing.
 */
export async function measureUsage(fs: FileSystem, dir = "/"): Promise<Usage> {
  const usage: Usage = { bytes: 0, files: 0 };
  const pending = [dir];
  for (let next; (next = pending.pop()) !== undefined;) {
    try {
      for await (const { name, stat } of fs.list(next)) {
        if (stat?.type === "dir") pending.push(posix.join(next, name));
        else if (stat?.type === "file") {
          usage.bytes += stat.size;
          usage.files++;
        }
      }
    } catch (error) {
      if (!(toFilesystemError(error) instanceof FTPError)) throw error;
    }
  }
  return usage;
}

/**
 * A user's quota as one session sees it: the limits, and the usage every session
 * of the user shares (so two sessions uploading at once share the room left).
 */
export class Quota implements Disposable {
  /** The limits. */
  readonly limits: QuotaLimits;
  /** What the home holds, kept up to date by uploads, deletes and renames. */
  readonly usage: Usage;
  readonly #end: () => void;

  /** The quota `limits` over the shared `usage`; `end` is called when it is disposed of. */
  constructor(limits: QuotaLimits, usage: Usage, end: () => void = () => {}) {
    this.limits = limits;
    this.usage = usage;
    this.#end = end;
  }

  /** Ends this session's share of the usage. */
  [Symbol.dispose](): void {
    this.#end();
  }

  /** Whether a byte limit applies. */
  get limitsBytes(): boolean {
    return (this.limits.bytes ?? 0) > 0;
  }

  /**
   * Refuses (552) an upload when the user is already at or over the byte limit, or
   * at the file limit and the upload would make a new file (`newFile`).
   */
  checkRoom(newFile: boolean): void {
    const { bytes = 0, files = 0 } = this.limits;
    if (bytes > 0 && this.usage.bytes >= bytes) {
      throw new QuotaExceeded(`${formatSize(this.usage.bytes)} of ${formatSize(bytes)} used`);
    }
    if (newFile && files > 0 && this.usage.files >= files) {
      throw new QuotaExceeded(`${this.usage.files} of ${files} files used`);
    }
  }

  /** Counts `bytes` more, or refuses them (552) and counts nothing if they do not fit. */
  charge(bytes: number): void {
    const limit = this.limits.bytes ?? 0;
    if (limit > 0 && this.usage.bytes + bytes > limit) {
      throw new QuotaExceeded(`the upload would pass ${formatSize(limit)}`);
    }
    this.usage.bytes += bytes;
  }

  /** Changes the usage by `bytes` and `files` (either may be negative). */
  adjust(bytes: number, files: number): void {
    this.usage.bytes = Math.max(0, this.usage.bytes + bytes);
    this.usage.files = Math.max(0, this.usage.files + files);
  }

  /** The usage and the limits in words: `1.5M of 10M, 3 of 100 files`. */
  describe(): string {
    const { bytes = 0, files = 0 } = this.limits;
    const size = `${formatSize(this.usage.bytes)}${bytes > 0 ? ` of ${formatSize(bytes)}` : ""}`;
    const count = `${this.usage.files}${files > 0 ? ` of ${files}` : ""} files`;
    return `${size}, ${count}`;
  }
}

/** The usage of one user's home while the user has sessions. */
interface Entry {
  usage: Promise<Usage>;
  sessions: number;
}

const ledgers = new WeakMap<object, Map<string, Entry>>();

/**
 * The quota of a session of `username` with home `home`, over the usage that the
 * user's other sessions of the same `server` (any object that stands for it)
 * share; when there are none, the usage is measured anew (`measure`), so changes
 * made outside FTP are seen at the next login once every session has ended.
 * Disposing of it ends the session's share.
 */
export async function openQuota(
  server: object,
  username: string,
  home: string,
  limits: QuotaLimits,
  measure: () => Promise<Usage>,
): Promise<Quota> {
  let ledger = ledgers.get(server);
  if (!ledger) ledgers.set(server, ledger = new Map());
  const key = `${username}\0${home}`;
  let entry = ledger.get(key);
  if (!entry) ledger.set(key, entry = { usage: measure(), sessions: 0 });
  entry.sessions++;
  const shared = entry;
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    if (--shared.sessions === 0 && ledger.get(key) === shared) ledger.delete(key);
  };
  try {
    return new Quota(limits, await shared.usage, end);
  } catch (error) {
    end();
    throw error;
  }
}

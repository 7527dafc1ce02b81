/**
 * {@linkcode openUpload}: an upload (STOR, REST + STOR, APPE, STOU) into any
 * {@linkcode FileSystem}, written so that no file is ever lost or seen half-written.
 *
 * In the atomic modes a new file's bytes go to a hidden temporary in the target's
 * directory (see `partials.ts`), renamed over the target once the upload completed:
 * until then readers see the old file or nothing, and a failed upload leaves the
 * old file as it was. Its bytes are then kept as a partial, which `REST n` + `STOR`
 * (or `APPE`) of the same name resumes, or removed. APPE onto an existing file
 * appends in place (appending never destroys a byte); `REST n` + `STOR` onto an
 * existing file with no partial of that size copies the file's first `n` bytes
 * into the temporary and goes on from there, so the file stays whole until the
 * new one replaces it. The direct mode writes the target itself, as pyftplib does.
 *
 * A {@linkcode Quota}, if given, is charged as bytes arrive (552 past it: the
 * upload's bytes are then removed, whatever the mode).
 *
 * @module
 */

import { posix } from "node:path";
import { FilesystemError } from "./errors.ts";
import type { FileStat, FileSystem, FileWriter } from "./filesystem.ts";
import {
  partialPath,
  partialsOf,
  resumingPath,
  sweepPartials,
  temporaryPrefix,
} from "./partials.ts";
import { type Quota, QuotaExceeded } from "./quota.ts";
import { checkNameLength, temporaryName } from "./virtual_path.ts";

/**
 * How uploads are written: `"atomic-keep-partial"` (the default) and `"atomic"`
 * write a temporary renamed over the target once complete, the first keeping a
 * failed upload's bytes for a resume, the second removing them; `"direct"` writes
 * the target itself (pyftplib's way: a failed upload leaves what arrived).
 */
export type UploadMode = "atomic" | "atomic-keep-partial" | "direct";

/** The upload modes, for checking a setting. */
export const UPLOAD_MODES: readonly UploadMode[] = ["atomic-keep-partial", "atomic", "direct"];

/** How a session's uploads are written. */
export interface UploadSettings {
  /** See {@linkcode UploadMode}. */
  readonly mode: UploadMode;
  /** Whether a complete upload is flushed to stable storage (`fsync`), and its rename with it, before 226. */
  readonly fsync: boolean;
  /** Seconds a partial (or a temporary left by a crash) is kept before it is removed. */
  readonly partialLifetime: number;
}

/** What an upload asks for. */
export type UploadRequest =
  /** STOR, after `REST offset` when `offset` is not 0. */
  | { readonly offset: number }
  /** APPE. */
  | { readonly append: true }
  /** STOU: a new name starting with `prefix` in the directory the path names. */
  | { readonly unique: string };

/**
 * How an upload's transfer ended: every byte received (`"completed"`), cut short by
 * the client or the network (`"interrupted"`: ABOR, a reset, a stall), or stopped
 * by the storage (`"storage-failed"`: a full disk, a quota), whose bytes are
 * never kept as a partial, so that they free the room they took.
 */
export type UploadEnd = "completed" | "interrupted" | "storage-failed";

/** An upload opened by {@linkcode openUpload}. */
export interface Upload {
  /** The file's virtual path once complete (STOU's new name). */
  readonly path: string;
  /** Where the bytes are written: the temporary, or the file itself. */
  readonly file: FileWriter;
  /**
   * Ends the upload once the data connection closed: a complete one is put in
   * place; a failed one resolves to the virtual path of the bytes that arrived (a
   * partial, or the file itself when written in place), or `null` when they were
   * removed. A throw (the rename failed) means the upload is not in place.
   */
  finish(end: UploadEnd): Promise<string | null>;
}

/** The refusal of a REST offset past the end of the file: 554, as RFC 959 allows for REST. */
export function checkRestartFits(stat: FileStat, offset: number): void {
  if (offset <= stat.size) return;
  throw new FilesystemError(
    `Invalid REST parameter: ${offset} is past the end of the file (${stat.size} bytes).`,
    554,
  );
}

/** The stat of the regular file `path`; anything else is refused. */
export async function regularFile(fs: FileSystem, path: string): Promise<FileStat> {
  const stat = await fs.stat(path);
  if (stat.type === "dir") throw new FilesystemError("Is a directory.");
  if (stat.type !== "file") throw new FilesystemError("Not a regular file.");
  return stat;
}

/** What is at `path` itself (a symlink is not followed), or `null` for nothing (or nothing readable). */
async function entryAt(fs: FileSystem, path: string): Promise<FileStat | null> {
  const stat = await fs.lstat(path).catch(() => null);
  if (stat?.type === "dir") throw new FilesystemError("Is a directory.");
  return stat;
}

/** The bytes of a regular file `stat` frees when it is replaced or removed. */
function sizeOf(stat: FileStat | null): number {
  return stat?.type === "file" ? stat.size : 0;
}

/**
 * Opens the upload `request` of `path` on `fs`, as `settings` say, charging
 * `quota` if given. Refusals: 550 (what the filesystem refuses), 552 (the quota is
 * used up), 554 (a REST offset past the end of the file).
 */
export async function openUpload(
  fs: FileSystem,
  path: string,
  request: UploadRequest,
  settings: UploadSettings,
  quota: Quota | null = null,
): Promise<Upload> {
  const opener = new Opener(fs, settings, quota);
  if ("unique" in request) return await opener.unique(path, request.unique);
  if ("append" in request) return await opener.append(path);
  if (request.offset > 0) return await opener.resume(path, request.offset);
  return await opener.store(path);
}

/** What the bytes of an upload are counted against: nothing, or a quota. */
interface Charge {
  /** Bytes of the file replaced at the end: the first ones written are not charged again. */
  credit: number;
  /** Whether the upload makes a new file once in place. */
  newFile: boolean;
  /** The bytes (already counted) of the partial the upload resumes, if it resumes one. */
  resumed: number | null;
}

/** Opens uploads of one kind or another; one per upload. */
class Opener {
  readonly #fs: FileSystem;
  readonly #settings: UploadSettings;
  readonly #quota: Quota | null;

  constructor(fs: FileSystem, settings: UploadSettings, quota: Quota | null) {
    this.#fs = fs;
    this.#settings = settings;
    this.#quota = quota;
  }

  get #atomic(): boolean {
    return this.#settings.mode !== "direct";
  }

  /**
   * STOR: a temporary, or the target emptied (in the direct mode, and for a
   * symlink, which is written through as before rather than replaced).
   */
  async store(path: string): Promise<Upload> {
    const old = await entryAt(this.#fs, path);
    this.#quota?.checkRoom(old?.type !== "file");
    if (!this.#atomic || old?.type === "symlink") {
      const file = await this.#fs.openWrite(path, { truncate: true });
      this.#quota?.adjust(-sizeOf(old), old?.type === "file" ? 0 : 1);
      return this.#direct(path, file);
    }
    const charge = { credit: sizeOf(old), newFile: old?.type !== "file", resumed: null };
    return await this.#temporary(path, charge);
  }

  /**
   * REST + STOR: the partial of `path` that has `offset` bytes, if there is one;
   * otherwise the file's first `offset` bytes (copied into a temporary, in the
   * atomic modes; kept in place, the rest dropped, in the direct mode).
   */
  async resume(path: string, offset: number): Promise<Upload> {
    const fs = this.#fs;
    if (this.#atomic) {
      const partials = await partialsOf(fs, path, this.#settings.partialLifetime);
      for (const partial of partials.filter(({ stat }) => stat.size === offset)) {
        const upload = await this.#claim(path, partial.path, partial.stat, { offset });
        if (upload) return upload;
      }
    }
    const stat = await regularFile(fs, path);
    checkRestartFits(stat, offset);
    this.#quota?.checkRoom(false);
    if (!this.#atomic || (await entryAt(fs, path))?.type === "symlink") {
      const file = await fs.openWrite(path, { offset });
      this.#quota?.adjust(offset - stat.size, 0);
      return this.#direct(path, file);
    }
    const upload = await this.#temporary(path, {
      credit: stat.size,
      newFile: false,
      resumed: null,
    });
    try {
      await copyStart(fs, path, offset, upload.file);
    } catch (error) {
      await upload.discard();
      throw error;
    }
    return upload;
  }

  /**
   * APPE: an existing file is appended to in place; a missing one's newest
   * partial is resumed, in the atomic modes; otherwise it is a new file, written
   * as STOR writes one.
   */
  async append(path: string): Promise<Upload> {
    const fs = this.#fs;
    const old = await entryAt(fs, path);
    if (old === null && this.#atomic) {
      const [partial] = await partialsOf(fs, path, this.#settings.partialLifetime);
      if (partial) {
        const upload = await this.#claim(path, partial.path, partial.stat, { append: true });
        if (upload) return upload;
      }
      this.#quota?.checkRoom(true);
      return await this.#temporary(path, { credit: 0, newFile: true, resumed: null });
    }
    this.#quota?.checkRoom(old === null);
    const file = await fs.openWrite(path, { append: true });
    if (old === null) this.#quota?.adjust(0, 1);
    return this.#direct(path, file);
  }

  /** STOU: a name new in the directory `dir`, starting with `prefix`. */
  async unique(dir: string, prefix: string): Promise<Upload> {
    this.#quota?.checkRoom(true);
    if (!this.#atomic) {
      const { path, file } = await this.#fs.mkstemp(dir, prefix);
      this.#quota?.adjust(0, 1);
      return this.#direct(path, file);
    }
    let path: string;
    do path = posix.join(dir, temporaryName(prefix)); while (await entryAt(this.#fs, path));
    return await this.#temporary(path, { credit: 0, newFile: true, resumed: null }, true);
  }

  /** An upload written into a new temporary next to `path`. */
  async #temporary(path: string, charge: Charge, unique = false): Promise<AtomicUpload> {
    // The temporary's name is cut short; the target's must fit when it is renamed into place.
    checkNameLength(posix.basename(path));
    const prefix = temporaryPrefix(path);
    const { path: temporary, file } = await this.#fs.mkstemp(posix.dirname(path), prefix);
    return new AtomicUpload(this.#fs, path, temporary, file, this.#settings, this.#quota, charge, {
      unique,
    });
  }

  /**
   * Resumes the partial `partial` of `path`: renamed back to its temporary's name
   * first, so that no other session resumes it too; `null` when another one did.
   */
  async #claim(
    path: string,
    partial: string,
    stat: FileStat,
    mode: { offset: number } | { append: true },
  ): Promise<Upload | null> {
    const fs = this.#fs;
    const temporary = resumingPath(partial);
    try {
      await fs.rename(partial, temporary);
    } catch {
      return null;
    }
    try {
      // Younger than any lifetime again: a sweep must not take it while it grows.
      const now = new Date();
      await fs.utime(temporary, now, now);
      const old = await entryAt(fs, path);
      this.#quota?.checkRoom(false);
      const file = await fs.openWrite(temporary, mode);
      const charge = { credit: sizeOf(old), newFile: old?.type !== "file", resumed: stat.size };
      return new AtomicUpload(fs, path, temporary, file, this.#settings, this.#quota, charge);
    } catch (error) {
      await fs.rename(temporary, partial).catch(() => {});
      throw error;
    }
  }

  /** An upload written into the file itself. */
  #direct(path: string, file: FileWriter): Upload {
    const fs = this.#fs;
    const fsync = this.#settings.fsync;
    const writer = counted(file, this.#quota, { credit: 0 });
    return {
      path,
      file: writer,
      async finish(end) {
        try {
          if (end === "completed" && fsync) await fs.sync?.(path);
        } finally {
          file.close();
        }
        return end === "completed" ? null : path;
      },
    };
  }
}

/** What a {@linkcode counted} writer has written and charged. */
interface Count {
  /** Bytes not charged (see {@linkcode Charge.credit}). */
  readonly credit: number;
  /** Bytes written. */
  written?: number;
  /** Bytes charged. */
  charged?: number;
  /** Whether a write was refused by the quota. */
  exceeded?: boolean;
}

/**
 * `file`, its bytes charged to `quota` past `count.credit` as they are written
 * (552 once they do not fit), and counted in `count`. Under a byte limit it offers
 * no descriptor: the kernel's zero-copy path would write bytes the quota never sees.
 */
function counted(file: FileWriter, quota: Quota | null, count: Count): FileWriter {
  if (!quota) return file;
  count.written = count.charged = 0;
  return {
    async write(p: Uint8Array): Promise<number> {
      const beyond = Math.max(0, count.written! + p.byteLength - count.credit) - count.charged!;
      if (beyond > 0) {
        try {
          quota.charge(beyond);
        } catch (error) {
          count.exceeded = error instanceof QuotaExceeded;
          throw error;
        }
        count.charged! += beyond;
      }
      const n = await file.write(p);
      count.written! += n;
      return n;
    },
    close: () => file.close(),
    ...(!quota.limitsBytes && file.descriptor && { descriptor: () => file.descriptor!() }),
  };
}

/** Copies the first `bytes` bytes of the file `path` into `into`. */
async function copyStart(fs: FileSystem, path: string, bytes: number, into: FileWriter) {
  const source = await fs.openRead(path, 0);
  try {
    const buffer = new Uint8Array(Math.min(bytes, 1024 * 1024));
    for (let left = bytes; left > 0;) {
      const n = await source.read(buffer.subarray(0, Math.min(left, buffer.length)));
      if (n === null) throw new FilesystemError("The file changed while it was being copied.", 450);
      for (let done = 0; done < n;) done += await into.write(buffer.subarray(done, n));
      left -= n;
    }
  } finally {
    source.close();
  }
}

/** An upload into a temporary, renamed over the target once complete. */
class AtomicUpload implements Upload {
  readonly path: string;
  readonly file: FileWriter;
  readonly #fs: FileSystem;
  readonly #temporary: string;
  readonly #raw: FileWriter;
  readonly #settings: UploadSettings;
  readonly #quota: Quota | null;
  readonly #charge: Charge;
  readonly #count: Count;
  readonly #unique: boolean;

  constructor(
    fs: FileSystem,
    path: string,
    temporary: string,
    file: FileWriter,
    settings: UploadSettings,
    quota: Quota | null,
    charge: Charge,
    { unique = false } = {},
  ) {
    this.path = path;
    this.#fs = fs;
    this.#temporary = temporary;
    this.#raw = file;
    this.#settings = settings;
    this.#quota = quota;
    this.#charge = charge;
    this.#count = { credit: charge.credit };
    this.#unique = unique;
    this.file = counted(file, quota, this.#count);
  }

  async finish(end: UploadEnd): Promise<string | null> {
    try {
      if (end === "completed" && this.#settings.fsync) await this.#fs.sync?.(this.#temporary);
    } finally {
      this.#raw.close();
    }
    if (end !== "completed") return await this.#fail(end);
    try {
      await this.#commit();
    } catch (error) {
      await this.#discard();
      throw error;
    }
    return null;
  }

  /** Puts the temporary in place of the target. */
  async #commit(): Promise<void> {
    const fs = this.#fs;
    // STOU's name was new when it was chosen: another session may have taken it since. The
    // rename refuses it in the same step; the look first is for a FileSystem that cannot.
    if (this.#unique && await entryAt(fs, this.path)) throw new FilesystemError("File exists.");
    await fs.rename(this.#temporary, this.path, { replace: !this.#unique });
    if (this.#settings.fsync) await fs.sync?.(posix.dirname(this.path));
    const { credit, newFile, resumed } = this.#charge;
    const written = this.#count.written ?? 0;
    this.#quota?.adjust(
      Math.min(0, written - credit),
      (newFile ? 1 : 0) - (resumed === null ? 0 : 1),
    );
  }

  /** Keeps the bytes as a partial, or removes them (always when the storage refused them, or none came). */
  async #fail(end: UploadEnd): Promise<string | null> {
    const written = this.#count.written ??
      (await this.#fs.stat(this.#temporary).catch(() => null))?.size ?? 0;
    const keep = this.#settings.mode === "atomic-keep-partial" && end === "interrupted" &&
      !this.#count.exceeded && (written > 0 || this.#charge.resumed !== null);
    if (!keep) {
      await this.#discard();
      return null;
    }
    const partial = partialPath(this.#temporary);
    await this.#fs.rename(this.#temporary, partial);
    this.#quota?.adjust(
      written - (this.#count.charged ?? 0),
      this.#charge.resumed === null ? 1 : 0,
    );
    await sweepPartials(this.#fs, posix.dirname(this.path), this.#settings.partialLifetime);
    return partial;
  }

  /** Removes the temporary (closed) and what it was counted for. */
  async discard(): Promise<void> {
    this.#raw.close();
    await this.#discard();
  }

  async #discard(): Promise<void> {
    await this.#fs.remove(this.#temporary).catch(() => {});
    const resumed = this.#charge.resumed;
    this.#quota?.adjust(-(this.#count.charged ?? 0) - (resumed ?? 0), resumed === null ? 0 : -1);
  }
}

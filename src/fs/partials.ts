/**
 * The names atomic uploads write under until they complete, and the partial
 * uploads a failed one leaves for REST + STOR to resume.
 *
 * An upload of `dir/NAME` is written to `dir/.NAME.tsftpd-XXXXXXXX` (8 random
 * letters or digits), which is renamed over `dir/NAME` once the upload completed. A
 * failed upload that is kept is renamed to `dir/.NAME.tsftpd-XXXXXXXX.part`: a
 * partial. Both are "upload temporaries": hidden from listings, and removed once
 * older than their lifetime by {@linkcode sweepPartials}.
 *
 * @module
 */

import { posix } from "node:path";
import { FTPError } from "../errors.ts";
import { toFilesystemError } from "./errors.ts";
import type { FileStat, FileSystem } from "./filesystem.ts";

/** What every upload temporary's name has after the target's name. */
const MARK = ".tsftpd-";
/** The suffix of a kept partial. */
const PARTIAL = ".part";
/** The longest part of the target's name kept in a temporary's (UTF-8 bytes), so the whole fits `NAME_MAX`. */
const NAME_BYTES = 200;
/** An upload temporary's name: `.NAME.tsftpd-XXXXXXXX`, or a partial's, with `.part`. */
const TEMPORARY = /^\..*\.tsftpd-[a-z0-9]{8}(\.part)?$/s;

const encoder = new TextEncoder();

/** Whether `name` is an upload temporary's or a partial's (hidden from listings). */
export function isUploadTemporary(name: string): boolean {
  return TEMPORARY.test(name);
}

/**
 * The prefix of the temporaries of an upload of `path`, for `mkstemp`:
 * `.NAME.tsftpd-`, the name cut to {@linkcode NAME_BYTES} bytes of UTF-8.
 */
export function temporaryPrefix(path: string): string {
  let name = posix.basename(path);
  while (encoder.encode(name).length > NAME_BYTES) name = [...name].slice(0, -1).join("");
  return `.${name}${MARK}`;
}

/** The path a failed upload written at `temporary` is kept under. */
export function partialPath(temporary: string): string {
  return temporary + PARTIAL;
}

/** The temporary a partial goes back to while an upload resumes it. */
export function resumingPath(partial: string): string {
  return partial.slice(0, -PARTIAL.length);
}

/** A kept partial upload found in a directory. */
export interface Partial {
  /** Its virtual path. */
  readonly path: string;
  /** Its facts. */
  readonly stat: FileStat;
}

/** Whether `stat` is older than `lifetime` seconds at `now`. */
function expired(stat: FileStat, lifetime: number, now: number): boolean {
  return stat.mtime !== null && now - stat.mtime.getTime() > lifetime * 1000;
}

/**
 * The partials of uploads of `path` that are younger than `lifetime` seconds, the
 * newest first; the directory's expired temporaries are removed on the way (see
 * {@linkcode sweepPartials}).
 */
export async function partialsOf(
  fs: FileSystem,
  path: string,
  lifetime: number,
): Promise<Partial[]> {
  const dir = posix.dirname(path);
  const prefix = temporaryPrefix(path);
  const found: Partial[] = [];
  for (const entry of await sweepPartials(fs, dir, lifetime)) {
    const { name, stat } = entry;
    if (name.startsWith(prefix) && name.endsWith(PARTIAL) && stat.type === "file") {
      found.push({ path: posix.join(dir, name), stat });
    }
  }
  return found.sort((a, b) => (b.stat.mtime?.getTime() ?? 0) - (a.stat.mtime?.getTime() ?? 0));
}

/**
 * Removes the upload temporaries of the directory `dir` last changed more than
 * `lifetime` seconds ago (an upload in progress changes its own all the time), and
 * returns those that remain. A directory that cannot be listed has none.
 */
export async function sweepPartials(
  fs: FileSystem,
  dir: string,
  lifetime: number,
): Promise<{ name: string; stat: FileStat }[]> {
  const now = Date.now();
  const left: { name: string; stat: FileStat }[] = [];
  try {
    for await (const { name, stat } of fs.list(dir)) {
      if (!stat || !isUploadTemporary(name)) continue;
      if (!expired(stat, lifetime, now)) left.push({ name, stat });
      else await fs.remove(posix.join(dir, name)).catch(ignoreRefusal);
    }
  } catch (error) {
    ignoreRefusal(error);
  }
  return left;
}

/** Passes a refusal (a path another session removed, a directory not readable); rethrows a bug. */
function ignoreRefusal(error: unknown): void {
  if (!(toFilesystemError(error) instanceof FTPError)) throw error;
}

/**
 * Removes the upload temporaries of the directory `dir` when they are all it holds
 * (it then looks empty in a listing, so RMD must be able to remove it); returns how
 * many bytes and files went.
 */
export async function clearTemporaries(
  fs: FileSystem,
  dir: string,
): Promise<{ bytes: number; files: number }> {
  const removed = { bytes: 0, files: 0 };
  const temporaries: { name: string; stat: FileStat | null }[] = [];
  for await (const entry of fs.list(dir)) {
    if (!isUploadTemporary(entry.name)) return removed;
    temporaries.push(entry);
  }
  for (const { name, stat } of temporaries) {
    await fs.remove(posix.join(dir, name));
    if (stat?.type !== "file") continue;
    removed.bytes += stat.size;
    removed.files++;
  }
  return removed;
}

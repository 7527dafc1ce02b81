/**
 * Directory listings: `ls -l` lines for LIST and STAT, bare names for NLST.
 *
 * @module
 */

import { posix } from "node:path";
/** What listing needs of a filesystem view: {@linkcode AbstractedFS} has it all. */
export interface ListingSource {
  /** Stats a path, following symlinks. */
  stat(path: string): Promise<Deno.FileInfo>;
  /** Stats a path without following a final symlink. */
  lstat(path: string): Promise<Deno.FileInfo>;
  /** The names in a directory. */
  listdir(path: string): AsyncIterable<string>;
  /** The target of a symlink, as stored. */
  readlink(path: string): Promise<string>;
  /** The name shown for the owner `uid`. */
  getUserByUid(uid: number): Promise<string>;
  /** The name shown for the group `gid`. */
  getGroupByGid(gid: number): Promise<string>;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const SIX_MONTHS_MS = 180 * 24 * 3600 * 1000;

function pad2(n: number): string {
  return n < 10 ? "0" + n : String(n);
}

function typeLetter(info: Deno.FileInfo): string {
  if (info.isSymlink) return "l";
  if (info.isDirectory) return "d";
  if (info.isCharDevice) return "c";
  if (info.isBlockDevice) return "b";
  if (info.isFifo) return "p";
  if (info.isSocket) return "s";
  return "-";
}

/** The `drwxr-xr-x` column for a file, special bits (setuid, setgid, sticky) included. */
export function formatMode(info: Deno.FileInfo): string {
  const mode = info.mode ?? 0;
  const bit = (mask: number, letter: string) => (mode & mask ? letter : "-");
  const special = (exec: number, flag: number, on: string) => {
    if (!(mode & flag)) return bit(exec, "x");
    return mode & exec ? on : on.toUpperCase();
  };
  return typeLetter(info) +
    bit(0o400, "r") + bit(0o200, "w") + special(0o100, 0o4000, "s") +
    bit(0o040, "r") + bit(0o020, "w") + special(0o010, 0o2000, "s") +
    bit(0o004, "r") + bit(0o002, "w") + special(0o001, 0o1000, "t");
}

/**
 * The date column of `ls -l`: `Nov 25 12:03` within six months of `now`,
 * `Nov 25  2025` otherwise; in GMT unless `useGmtTimes` is false.
 */
export function formatListTime(mtime: Date, now: Date, useGmtTimes: boolean): string {
  const get = useGmtTimes
    ? {
      m: mtime.getUTCMonth(),
      d: mtime.getUTCDate(),
      y: mtime.getUTCFullYear(),
      hh: mtime.getUTCHours(),
      mm: mtime.getUTCMinutes(),
    }
    : {
      m: mtime.getMonth(),
      d: mtime.getDate(),
      y: mtime.getFullYear(),
      hh: mtime.getHours(),
      mm: mtime.getMinutes(),
    };
  const head = `${MONTHS[get.m]} ${pad2(get.d)}`;
  const recent = Math.abs(now.getTime() - mtime.getTime()) < SIX_MONTHS_MS;
  return recent ? `${head} ${pad2(get.hh)}:${pad2(get.mm)}` : `${head}  ${get.y}`;
}

/** Options for {@linkcode formatListLine}. */
export interface ListFormatOptions {
  /** Report times in GMT (the default) rather than local time. */
  useGmtTimes: boolean;
  /** The time that "recent" is measured from. */
  now: Date;
}

/** What one `ls -l` line shows. */
export interface ListLine {
  /** The entry's name. */
  name: string;
  /** Its lstat. */
  info: Deno.FileInfo;
  /** The owner column (a user name, or the uid). */
  owner: string;
  /** The group column (a group name, or the gid). */
  group: string;
  /** A symlink's target, shown as ` -> target`. */
  linkTarget?: string;
}

/** One `ls -l` line, without the line ending. */
export function formatListLine(line: ListLine, options: ListFormatOptions): string {
  const { info } = line;
  const mtime = info.mtime
    ? formatListTime(info.mtime, options.now, options.useGmtTimes)
    : "Jan 01  1970";
  const target = line.linkTarget === undefined ? "" : ` -> ${line.linkTarget}`;
  return `${formatMode(info)} ${String(info.nlink ?? 1).padStart(3)} ` +
    `${line.owner.padEnd(8)} ${line.group.padEnd(8)} ` +
    `${String(info.size).padStart(8)} ${mtime} ${line.name}${target}`;
}

/** One entry found while listing: its name and its lstat. */
export interface ListEntry {
  /** The entry's base name. */
  name: string;
  /** Its real path. */
  path: string;
  /** Its lstat; `null` for a name that is not valid UTF-8, which cannot be opened by name. */
  info: Deno.FileInfo | null;
}

/** The mark the runtime puts in a file name whose bytes are not valid UTF-8. */
const REPLACEMENT_CHARACTER = "\uFFFD";

/**
 * The entries of a real path: the directory's children, or the path itself when it
 * is not a directory. An entry that vanishes while listing is skipped; one whose
 * name is not valid UTF-8 is listed with its name shown lossily and no stat, so
 * one odd file never aborts a listing.
 */
export async function* listEntries(fs: ListingSource, path: string): AsyncIterable<ListEntry> {
  const info = await fs.stat(path);
  if (!info.isDirectory) {
    yield { name: posix.basename(path), path, info: await fs.lstat(path) };
    return;
  }
  for await (const name of fs.listdir(path)) {
    const child = posix.join(path, name);
    const childInfo = await fs.lstat(child).catch(() => null);
    if (childInfo || name.includes(REPLACEMENT_CHARACTER)) {
      yield { name, path: child, info: childInfo };
    }
  }
}

/** What LIST shows for an entry it could not stat: a plain, empty, old file. */
const UNREADABLE = {
  isFile: true,
  size: 0,
  mode: 0,
  nlink: 1,
  uid: 0,
  gid: 0,
  mtime: new Date(0),
} as Deno.FileInfo;

/** `ls -l` lines for each entry, with owner and group names and symlink targets. */
export async function* listLines(
  fs: ListingSource,
  entries: AsyncIterable<ListEntry>,
  options: ListFormatOptions,
): AsyncIterable<string> {
  for await (const { name, path, info: lstat } of entries) {
    const info = lstat ?? UNREADABLE;
    const linkTarget = info.isSymlink ? await fs.readlink(path).catch(() => "") : undefined;
    const owner = await fs.getUserByUid(info.uid ?? 0);
    const group = await fs.getGroupByGid(info.gid ?? 0);
    yield formatListLine({ name, info, owner, group, linkTarget }, options);
  }
}

const LISTING_CHUNK = 64 * 1024;

/** Joins lines with CRLF into chunks of about 64 KiB, for sending over a data connection. */
export async function* encodeLines(lines: AsyncIterable<string>): AsyncIterable<Uint8Array> {
  const encoder = new TextEncoder();
  let batch = "";
  for await (const line of lines) {
    batch += line + "\r\n";
    if (batch.length >= LISTING_CHUNK) {
      yield encoder.encode(batch);
      batch = "";
    }
  }
  if (batch) yield encoder.encode(batch);
}

/** A time as RFC 3659's `YYYYMMDDHHMMSS` (MDTM, MLST's modify fact), in GMT unless `useGmtTimes` is false. */
export function formatTimeVal(time: Date, useGmtTimes: boolean): string {
  const parts = useGmtTimes
    ? [
      time.getUTCFullYear(),
      time.getUTCMonth() + 1,
      time.getUTCDate(),
      time.getUTCHours(),
      time.getUTCMinutes(),
      time.getUTCSeconds(),
    ]
    : [
      time.getFullYear(),
      time.getMonth() + 1,
      time.getDate(),
      time.getHours(),
      time.getMinutes(),
      time.getSeconds(),
    ];
  return String(parts[0]).padStart(4, "0") + parts.slice(1).map(pad2).join("");
}

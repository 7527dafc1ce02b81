/**
 * Directory listings: `ls -l` lines for LIST and STAT, bare names for NLST.
 *
 * @module
 */

import { posix } from "node:path";
import type { FileStat, FileSystem, FileType, ListEntry, ListFormatOptions } from "./filesystem.ts";
import { isUploadTemporary } from "./partials.ts";

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const SIX_MONTHS_MS = 180 * 24 * 3600 * 1000;

function pad2(n: number): string {
  return n < 10 ? "0" + n : String(n);
}

const TYPE_LETTERS: Record<FileType, string> = {
  file: "-",
  dir: "d",
  symlink: "l",
  "char-device": "c",
  "block-device": "b",
  fifo: "p",
  socket: "s",
};

/** The `drwxr-xr-x` column for a file, special bits (setuid, setgid, sticky) included. */
export function formatMode(info: FileStat): string {
  const mode = info.mode ?? 0;
  const bit = (mask: number, letter: string) => (mode & mask ? letter : "-");
  const special = (exec: number, flag: number, on: string) => {
    if (!(mode & flag)) return bit(exec, "x");
    return mode & exec ? on : on.toUpperCase();
  };
  return TYPE_LETTERS[info.type] +
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

/** What one `ls -l` line shows. */
export interface ListLine {
  /** The entry's name. */
  name: string;
  /** Its stat (a symlink's own). */
  info: FileStat;
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
  return `${formatMode(info)} ${String(info.nlink).padStart(3)} ` +
    `${line.owner.padEnd(8)} ${line.group.padEnd(8)} ` +
    `${String(info.size).padStart(8)} ${mtime} ${line.name}${target}`;
}

/**
 * The entries of a virtual path: the directory's children, or the path itself when
 * it is not a directory.
 */
export async function* listEntries(fs: FileSystem, path: string): AsyncIterable<ListEntry> {
  if ((await fs.stat(path)).type !== "dir") {
    const stat = await fs.lstat(path);
    const linkTarget = stat.type === "symlink"
      ? await fs.readlink?.(path).catch(() => "") ?? ""
      : undefined;
    yield { name: posix.basename(path), path, stat, linkTarget };
    return;
  }
  for await (const entry of fs.list(path)) {
    if (isUploadTemporary(entry.name)) continue;
    yield { ...entry, path: posix.join(path, entry.name) };
  }
}

/** What LIST shows for an entry it could not stat: a plain, empty, old file. */
const UNREADABLE: FileStat = {
  type: "file",
  size: 0,
  mtime: new Date(0),
  atime: null,
  mode: 0,
  nlink: 1,
  uid: 0,
  gid: 0,
  unique: null,
};

/**
 * The default `ls -l` lines for each entry (pyftplib's `format_list`), with the
 * filesystem's owner and group names (`owner` and `group` where the storage has no
 * ids, as pyftplib shows them off Unix) and symlink targets.
 */
export async function* listLines(
  fs: FileSystem,
  entries: AsyncIterable<ListEntry>,
  options: ListFormatOptions,
): AsyncIterable<string> {
  for await (const { name, stat, linkTarget } of entries) {
    const info = stat ?? UNREADABLE;
    const owner = info.uid === null
      ? "owner"
      : await fs.getUserByUid?.(info.uid) ?? String(info.uid);
    const group = info.gid === null
      ? "group"
      : await fs.getGroupByGid?.(info.gid) ?? String(info.gid);
    const target = info.type === "symlink" ? linkTarget ?? "" : undefined;
    yield formatListLine({ name, info, owner, group, linkTarget: target }, options);
  }
}

/** LIST's and STAT's lines: the filesystem's `formatList`, or {@linkcode listLines}. */
export function formatList(
  fs: FileSystem,
  entries: AsyncIterable<ListEntry>,
  options: ListFormatOptions,
): AsyncIterable<string> {
  return fs.formatList ? fs.formatList(entries, options) : listLines(fs, entries, options);
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

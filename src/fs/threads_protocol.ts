/**
 * What {@linkcode FilesystemThreads} and its threads say to each other, and how an
 * error thrown in a thread crosses over: the same reply, the same errno name.
 *
 * @module
 */

import { FTPError } from "../errors.ts";
import type { SessionInfo } from "../session_info.ts";
import { errorCode, FilesystemError } from "./errors.ts";
import type { WriteMode } from "./filesystem.ts";

/** The filesystem methods called with plain arguments and answered with a plain result. */
export type PlainMethod =
  | "stat"
  | "lstat"
  | "mkdir"
  | "rmdir"
  | "remove"
  | "rename"
  | "chmod"
  | "utime"
  | "readlink"
  | "sync"
  | "getUserByUid"
  | "getGroupByGid";

/** A request to a thread; each but `start`, `close` and `drop` is answered with its `id`. */
export type ThreadRequest =
  /** The first message: the module whose default export makes the filesystems. */
  | { op: "start"; module: string }
  /** Make session `session`'s filesystem for the home `root`. */
  | { op: "open"; id: number; session: number; root: string; info: SessionInfo }
  /** Forget session `session`'s filesystem. */
  | { op: "drop"; session: number }
  | { op: "call"; id: number; session: number; method: PlainMethod; args: unknown[] }
  /** Start listing `path`: answered with a handle for `next`. */
  | { op: "list"; id: number; session: number; path: string }
  /** Up to `max` more entries of a listing: answered `{ entries, done }`. */
  | { op: "next"; id: number; handle: number; max: number }
  | { op: "openRead"; id: number; session: number; path: string; offset: number }
  | { op: "openWrite"; id: number; session: number; path: string; mode: WriteMode }
  /** Answered `{ path, handle }`. */
  | { op: "mkstemp"; id: number; session: number; dir: string; prefix: string }
  /** Read up to `size` bytes: answered with the bytes, or `null` at the end. */
  | { op: "read"; id: number; handle: number; size: number }
  /** Write some of `bytes`: answered with how many. */
  | { op: "write"; id: number; handle: number; bytes: Uint8Array }
  /** Close the reader, writer or listing `handle`. */
  | { op: "close"; handle: number };

/** An error as it crosses from a thread. */
export interface ErrorRecord {
  name: string;
  message: string;
  /** An `FTPError`'s reply code. */
  reply?: number;
  /** A failed system call's errno name. */
  errno?: string;
  /** The level an `FTPError` is logged at. */
  log?: "warning" | "info";
}

/** A thread's answer to the request numbered `id`. */
export type ThreadAnswer =
  | { id: number; result: unknown }
  | { id: number; error: ErrorRecord };

/** `error` as it can cross to the other thread. */
export function recordError(error: unknown): ErrorRecord {
  if (!(error instanceof Error)) return { name: "Error", message: String(error) };
  const record: ErrorRecord = { name: error.name, message: error.message };
  if (error instanceof FTPError) {
    record.reply = error.code;
    record.log = error.log;
  } else if (errorCode(error) !== undefined) record.errno = errorCode(error);
  return record;
}

/**
 * The error `record` describes, on this side: an `FTPError` (a `FilesystemError`
 * for one) with its reply, or an error with its errno name for `toFilesystemError`
 * to word.
 */
export function reviveError(record: ErrorRecord): Error {
  if (record.reply !== undefined) {
    return record.name === "FilesystemError"
      ? new FilesystemError(record.message, record.reply, { log: record.log })
      : new FTPError(record.reply, record.message, { log: record.log });
  }
  const error = new Error(record.message);
  error.name = record.name;
  if (record.errno !== undefined) Object.assign(error, { code: record.errno });
  return error;
}

/**
 * The one place errors become replies: what a command, its filesystem or its
 * authorizer threw, and why a file transfer failed.
 *
 * @module
 */

import { FTPError } from "../errors.ts";
import { describeFsError, isStorageFull, isSystemFsError } from "../fs/errors.ts";

/** A reply: its code and text. */
export type Reply = [code: number, text: string];

/**
 * The reply to an error thrown while a command ran: an {@linkcode FTPError}'s own, a
 * failed filesystem call's 550 (452 when the disk is full), or `null` for anything
 * else, which is a bug for the caller to log and answer 451.
 */
export function errorReply(error: unknown): Reply | null {
  if (error instanceof FTPError) return [error.code, error.message];
  if (!isSystemFsError(error)) return null;
  if (isStorageFull(error)) return [452, `Insufficient storage space: ${describeFsError(error)}`];
  return [550, describeFsError(error)];
}

/**
 * The final reply of a transfer whose file could not be read or written: 452 when
 * the disk is full, 451 otherwise; `null` when what failed was a bug (neither an
 * {@linkcode FTPError} nor a failed system call), for the caller to log.
 */
export function fileFailureReply(error: unknown): Reply | null {
  const reply = errorReply(error);
  if (!reply) return null;
  const full = reply[0] === 452 || isStorageFull(error);
  const text = error instanceof FTPError ? error.message : describeFsError(error);
  return [full ? 452 : 451, `Transfer aborted: ${text}`];
}

/** The reply to a bug: the details go to the log, never to the client. */
export const LOCAL_ERROR_REPLY: Reply = [
  451,
  "Requested action aborted: local error in processing.",
];

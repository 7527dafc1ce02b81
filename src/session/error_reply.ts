/**
 * The one place errors become replies: what a command, its filesystem or its
 * authorizer threw, and why a file transfer failed.
 *
 * @module
 */

import { FTPError } from "../errors.ts";
import { toFilesystemError } from "../fs/errors.ts";

/** A reply: its code and text. */
export type Reply = [code: number, text: string];

/**
 * The reply to an error thrown while a command ran: an {@linkcode FTPError}'s own
 * (a failed system call's as {@linkcode toFilesystemError} words it), or `null` for
 * anything else, which is a bug for the caller to log and answer 451.
 */
export function errorReply(error: unknown): Reply | null {
  const refusal = toFilesystemError(error);
  return refusal instanceof FTPError ? [refusal.code, refusal.message] : null;
}

/**
 * The final reply of a transfer whose file could not be read or written: 452 when
 * the storage is full, 552 past the user's quota, 451 otherwise; `null` when what
 * failed was a bug, for the caller to log.
 */
export function fileFailureReply(error: unknown): Reply | null {
  const reply = errorReply(error);
  if (!reply) return null;
  const code = reply[0] === 452 || reply[0] === 552 ? reply[0] : 451;
  return [code, `Transfer aborted: ${reply[1]}`];
}

/** The reply to a bug: the details go to the log, never to the client. */
export const LOCAL_ERROR_REPLY: Reply = [
  451,
  "Requested action aborted: local error in processing.",
];

/**
 * Errors of the filesystem layer and their plain-language texts.
 *
 * @module
 */

import { FTPError, type FTPErrorOptions } from "../errors.ts";

/**
 * Raised by a filesystem to refuse an operation with a message meant for the
 * client, as pyftplib's `FilesystemError` is: 550 unless another code is given.
 */
export class FilesystemError extends FTPError {
  /** Always `"FilesystemError"`. */
  override name = "FilesystemError";

  /** A refusal answered `code message` (550 by default). */
  constructor(message: string, code = 550, options?: FTPErrorOptions) {
    super(code, message, options);
  }
}

/**
 * The refusal of a path that leads outside the user's home (a jail refusal):
 * answered 550, logged as a warning and counted in the server's metrics.
 */
export class OutsideHomeError extends FilesystemError {
  /** Always `"OutsideHomeError"`. */
  override name = "OutsideHomeError";

  /** A refusal answered `550 message`. */
  constructor(message: string) {
    super(message, 550, { log: "warning" });
  }
}

const TEXT_BY_CODE: Record<string, string> = {
  ENOENT: "No such file or directory",
  EACCES: "Permission denied",
  EPERM: "Operation not permitted",
  EEXIST: "File exists",
  EISDIR: "Is a directory",
  ENOTDIR: "Not a directory",
  ENOTEMPTY: "Directory not empty",
  ENOSPC: "No space left on device",
  EDQUOT: "Disk quota exceeded",
  EFBIG: "File too large",
  ENAMETOOLONG: "File name too long",
  ELOOP: "Too many levels of symbolic links",
  EROFS: "Read-only file system",
  EXDEV: "Invalid cross-device link",
  EBUSY: "Device or resource busy",
  EINVAL: "Invalid argument",
};

/** The `errno` name of a system error (`"ENOENT"`, ...), if it has one: the runtime's and FFI's alike. */
export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown })?.code;
  return typeof code === "string" ? code : undefined;
}

const STORAGE_FULL = new Set(["ENOSPC", "EDQUOT", "EFBIG"]);

/**
 * A failed system call (an error with an errno name such as `ENOENT`) as the client
 * hears of it: a {@linkcode FilesystemError} whose text is the errno's sentence
 * (`"No such file or directory."`, never the real path), 452 when the disk or the
 * quota is full, 550 otherwise. Anything else is returned as it is: an
 * {@linkcode FTPError} already is a reply, and any other error is a bug.
 */
export function toFilesystemError(error: unknown): unknown {
  const code = errorCode(error);
  if (code === undefined || error instanceof FTPError) return error;
  const text = (TEXT_BY_CODE[code] ?? "Operation failed") + ".";
  return new FilesystemError(text, STORAGE_FULL.has(code) ? 452 : 550, { cause: error });
}

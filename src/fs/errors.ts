/**
 * Errors of the filesystem layer and their plain-language texts.
 *
 * @module
 */

import { FTPError } from "../errors.ts";

/**
 * Raised by an {@linkcode AbstractedFS} (or a subclass) to refuse an operation with
 * a message meant for the client, as pyftplib's `FilesystemError` is: 550 unless
 * another code is given.
 */
export class FilesystemError extends FTPError {
  /** Always `"FilesystemError"`. */
  override name = "FilesystemError";

  /** A refusal answered `code message` (550 by default). */
  constructor(message: string, code = 550) {
    super(code, message);
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

/** The `errno` name of a system error (`"ENOENT"`, ...), if it has one. */
export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown })?.code;
  return typeof code === "string" ? code : undefined;
}

/**
 * Whether `error` is a failure of the operating system's filesystem call (it has an
 * errno name such as `ENOENT`), which the client hears about; anything else that a
 * filesystem call throws is a bug.
 */
export function isSystemFsError(error: unknown): boolean {
  return errorCode(error) !== undefined;
}

/** Whether `error` says the disk (or the user's quota) is full. */
export function isStorageFull(error: unknown): boolean {
  const code = errorCode(error);
  return code === "ENOSPC" || code === "EDQUOT" || code === "EFBIG";
}

/**
 * A short sentence for a filesystem failure, like `strerror` gives, never exposing
 * the real path: `"No such file or directory."`.
 */
export function describeFsError(error: unknown): string {
  if (error instanceof FilesystemError) return error.message;
  return (TEXT_BY_CODE[errorCode(error) ?? ""] ?? "Operation failed") + ".";
}

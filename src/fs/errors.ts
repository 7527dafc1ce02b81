/**
 * Errors of the filesystem layer and their plain-language texts.
 *
 * @module
 */

/**
 * Raised by an {@linkcode AbstractedFS} (or a subclass) to refuse an operation with
 * a message meant for the client, as pyftplib's `FilesystemError` is.
 */
export class FilesystemError extends Error {
  /** Always `"FilesystemError"`. */
  override name = "FilesystemError";
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

/** Whether `error` came from the filesystem (and so is the client's to hear about), not from a bug. */
export function isFsError(error: unknown): boolean {
  if (error instanceof FilesystemError || errorCode(error) !== undefined) return true;
  return Object.values(Deno.errors).some((type) => error instanceof type);
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
  const text = TEXT_BY_CODE[errorCode(error) ?? ""];
  if (text) return text + ".";
  if (error instanceof Deno.errors.NotFound) return "No such file or directory.";
  if (error instanceof Deno.errors.PermissionDenied) return "Permission denied.";
  if (error instanceof Deno.errors.AlreadyExists) return "File exists.";
  return "Operation failed.";
}

/**
 * Virtual paths: what the client sees, `/` at its home, whatever the storage.
 *
 * @module
 */

import { posix } from "node:path";
import { FilesystemError } from "./errors.ts";

/**
 * Normalizes a client's path against the current directory `cwd` (pyftplib's
 * `ftpnorm`): `"bar"` in `/foo` is `/foo/bar`; `..` stops at `/`; no trailing `/`.
 */
export function ftpNorm(cwd: string, path: string): string {
  const joined = path.startsWith("/") ? path : posix.join(cwd, path);
  const normal = posix.normalize(joined);
  return normal.length > 1 && normal.endsWith("/") ? normal.slice(0, -1) : normal;
}

/** The longest name, in UTF-8 bytes, as on Linux filesystems (`NAME_MAX`). */
const NAME_MAX = 255;
const encoder = new TextEncoder();

/** Refuses (550) a name longer than Linux filesystems allow ({@linkcode NAME_MAX} bytes of UTF-8). */
export function checkNameLength(name: string): void {
  if (encoder.encode(name).length > NAME_MAX) {
    throw new FilesystemError("File name too long.", 550, { log: "info" });
  }
}

const NAME_LETTERS = "abcdefghijklmnopqrstuvwxyz0123456789";

/**
 * `prefix` and 8 random letters or digits: a name for STOU to try (pyftplib's
 * `mkstemp`'s); a prefix with a `/` is refused, it would name another directory.
 */
export function temporaryName(prefix: string): string {
  if (prefix.includes("/")) throw new FilesystemError("Invalid argument.", 501);
  const random = crypto.getRandomValues(new Uint8Array(8));
  return prefix + Array.from(random, (byte) => NAME_LETTERS[byte % NAME_LETTERS.length]).join("");
}

/** A virtual path with each `"` doubled, as RFC 959 quotes path names in 257 replies. */
export function quote(path: string): string {
  return path.replaceAll('"', '""');
}

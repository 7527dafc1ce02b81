/**
 * The system's password hashing, `crypt_r(3)` of `libcrypt.so.1` (libxcrypt on
 * current Linux systems), through FFI: it verifies every format the system writes
 * into `/etc/shadow` (yescrypt, SHA-512-crypt, SHA-256-crypt, bcrypt, MD5-crypt, ...)
 * exactly as the system does.
 *
 * `crypt_r` runs as a non-blocking call, on one of the runtime's worker threads,
 * so that a slow hash never stalls the event loop. Its work area (`struct
 * crypt_data`) is a buffer of this module's, larger than any libcrypt's; the
 * pointer `crypt_r` returns is accepted only inside that buffer, and the hash is
 * read from the buffer itself, never from an arbitrary address. Every string
 * handed over is NUL-terminated and checked against libcrypt's limits. The buffer
 * and the password's bytes are zeroed once the call has returned.
 *
 * @module
 */

import { linuxLibrary } from "./library.ts";

const SYMBOLS = {
  crypt_r: { parameters: ["buffer", "buffer", "buffer"], result: "pointer", nonblocking: true },
  // libxcrypt only: the default method's setting with a random salt.
  crypt_gensalt_rn: {
    parameters: ["buffer", "u64", "buffer", "i32", "buffer", "i32"],
    result: "pointer",
    optional: true,
  },
} as const satisfies Deno.ForeignLibraryInterface;

/**
 * Bytes of `crypt_r`'s work area: libxcrypt's `struct crypt_data` is 32 KiB,
 * glibc's older one about 128 KiB.
 */
const WORK_AREA_SIZE = 256 * 1024;
/** libxcrypt's `CRYPT_MAX_PASSPHRASE_SIZE`, the terminating NUL included. */
const MAX_PASSPHRASE_SIZE = 512;
/** libxcrypt's `CRYPT_OUTPUT_SIZE`: the longest setting or hash, with its NUL. */
const OUTPUT_SIZE = 384;

/** libcrypt, or `null` where it cannot be had (not Linux, FFI not granted, no `libcrypt.so.1`). */
const libcrypt = linuxLibrary("libcrypt.so.1", SYMBOLS);

/** Whether the system's `crypt_r` can be called here. */
export function cryptAvailable(): boolean {
  return libcrypt() !== null;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** `text` as NUL-terminated bytes, or `null` when it holds a NUL or is `limit` bytes or more. */
function cString(text: string, limit: number): Uint8Array<ArrayBuffer> | null {
  if (text.includes("\0")) return null;
  const bytes = encoder.encode(text + "\0");
  return bytes.byteLength <= limit ? bytes : null;
}

/** The NUL-terminated string at byte `offset` of `area`, if one ends inside it within `limit` bytes. */
function stringAt(area: Uint8Array, offset: number, limit: number): string | null {
  const end = area.subarray(offset, offset + limit).indexOf(0);
  return end < 0 ? null : decoder.decode(area.subarray(offset, offset + end));
}

/**
 * `crypt_r(password, setting)`: the hash of `password` with the method, parameters
 * and salt of `setting` (a whole stored hash is a setting), on a worker thread.
 * `null` when the system cannot hash it: no libcrypt, an unknown or malformed
 * setting (libcrypt's `*0`/`*1` failure tokens), or a password longer than
 * libcrypt takes (511 bytes) or holding a NUL.
 */
export async function crypt(password: string, setting: string): Promise<string | null> {
  const symbols = libcrypt();
  if (symbols === null) return null;
  const phrase = cString(password, MAX_PASSPHRASE_SIZE);
  const salt = cString(setting, OUTPUT_SIZE);
  if (phrase === null || salt === null) return null;
  // Zeroed, as crypt_r requires of a work area it has not seen.
  const area = new Uint8Array(WORK_AREA_SIZE);
  try {
    const result = await symbols.crypt_r(phrase, salt, area);
    const offset = offsetIn(area, result);
    if (offset === null) return null;
    const hash = stringAt(area, offset, OUTPUT_SIZE);
    return hash === null || hash.startsWith("*") ? null : hash;
  } finally {
    area.fill(0);
    phrase.fill(0);
  }
}

/** Where `pointer` points in `area`, or `null` when it is null or outside it. */
function offsetIn(area: Uint8Array<ArrayBuffer>, pointer: Deno.PointerValue): number | null {
  if (pointer === null) return null;
  const start = Deno.UnsafePointer.value(Deno.UnsafePointer.of(area));
  const offset = Number(BigInt(Deno.UnsafePointer.value(pointer)) - BigInt(start));
  return offset >= 0 && offset < area.byteLength ? offset : null;
}

/**
 * A setting of the library's default method (yescrypt on Debian 12) with a random
 * salt: what an unknown user's password is hashed with, so that timing does not
 * tell which names exist. `null` without libxcrypt's `crypt_gensalt_rn`.
 */
export function defaultSetting(): string | null {
  const generate = libcrypt()?.crypt_gensalt_rn;
  if (!generate) return null;
  const output = new Uint8Array(OUTPUT_SIZE);
  const result = generate(null, 0n, null, 0, output, output.byteLength);
  const offset = offsetIn(output, result);
  return offset === 0 ? stringAt(output, 0, OUTPUT_SIZE) : null;
}

/**
 * Windows accounts through FFI: `LogonUserW` (advapi32) checks a password
 * against the local account database, `GetUserProfileDirectoryW` (userenv)
 * reads the home from the logon's token, `CloseHandle` (kernel32) closes that
 * token, `LookupAccountNameW` (advapi32) tells whether an account exists.
 * The DLLs are opened only on Windows with FFI granted
 * ({@linkcode windowsLibrary}).
 *
 * Strings are handed over as UTF-16LE, NUL-terminated, built unit by unit
 * ({@linkcode wideString}); a string holding a NUL (which would cut it short
 * on the other side) or a lone surrogate is never passed. `LogonUserW` can take
 * a while (it may ask a domain controller), so it runs as a non-blocking call on
 * one of the runtime's worker threads: its `GetLastError` belongs to that
 * thread and cannot be read, and a failed logon is reported without its code
 * (asking again, on this thread, would count a second failed attempt towards
 * the account's lockout). The other calls are quick, synchronous, and their
 * error code is read right after them. A password's bytes are zeroed once the
 * call has returned.
 *
 * No impersonation (`ImpersonateLoggedOnUser`) is bound: it switches the
 * identity of the calling thread only, and the runtime's file operations run
 * on worker threads (see `WindowsAuthorizer`).
 *
 * @module
 */

import { windowsLibrary } from "./library.ts";

/** `LOGON32_LOGON_NETWORK`: checks the password, loads no profile, needs no right to log on locally. */
const LOGON32_LOGON_NETWORK = 3;
/** `LOGON32_PROVIDER_DEFAULT`. */
const LOGON32_PROVIDER_DEFAULT = 0;
/** `SidTypeUser`, the `SID_NAME_USE` of a user account. */
const SID_TYPE_USER = 1;
/** `SECURITY_MAX_SID_SIZE`, in bytes. */
const MAX_SID_SIZE = 68;
/** `UNLEN + 1` and `PWLEN + 1`: the longest name and password, in UTF-16 units with the NUL. */
const MAX_NAME_UNITS = 257;
/** The longest path Windows hands out (`\\?\` paths), in UTF-16 units with the NUL. */
const MAX_PATH_UNITS = 32_768;
/** The longest domain name `LookupAccountNameW` writes here, in UTF-16 units. */
const MAX_DOMAIN_UNITS = 1024;

/** `"."`, the domain of the local account database, kept for the process (a call on a worker thread reads it). */
const LOCAL_DOMAIN = wideString(".")!;

const advapi32 = windowsLibrary(
  "advapi32.dll",
  {
    LogonUserW: {
      parameters: ["buffer", "buffer", "buffer", "u32", "u32", "buffer"],
      result: "i32",
      nonblocking: true,
    },
    LookupAccountNameW: {
      parameters: ["buffer", "buffer", "buffer", "buffer", "buffer", "buffer", "buffer"],
      result: "i32",
    },
  } as const,
);

const kernel32 = windowsLibrary(
  "kernel32.dll",
  {
    CloseHandle: { parameters: ["pointer"], result: "i32" },
    GetLastError: { parameters: [], result: "u32" },
  } as const,
);

const userenv = windowsLibrary(
  "userenv.dll",
  {
    GetUserProfileDirectoryW: { parameters: ["pointer", "buffer", "buffer"], result: "i32" },
  } as const,
);

/** Whether Windows accounts can be checked here: Windows, FFI granted, the three DLLs. */
export function windowsAccountsAvailable(): boolean {
  return advapi32() !== null && kernel32() !== null && userenv() !== null;
}

/**
 * `text` as UTF-16LE with a terminating NUL, as a `LPCWSTR` argument; `null` when
 * it holds a NUL or a lone surrogate, or takes `limit` units or more with the NUL.
 */
export function wideString(text: string, limit = MAX_PATH_UNITS): Uint8Array<ArrayBuffer> | null {
  if (text.includes("\0") || !text.isWellFormed() || text.length + 1 > limit) return null;
  const bytes = new Uint8Array((text.length + 1) * 2);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < text.length; i++) view.setUint16(i * 2, text.charCodeAt(i), true);
  return bytes;
}

/** The UTF-16LE string at the start of `bytes`, up to its first NUL unit (or the end). */
export function fromWideString(bytes: Uint8Array): string {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let units = 0;
  while (units * 2 + 1 < bytes.byteLength && view.getUint16(units * 2, true) !== 0) units++;
  return new TextDecoder("utf-16le").decode(bytes.subarray(0, units * 2));
}

/** A failed Windows call, with its `GetLastError` code. */
export class WindowsError extends Error {
  /** Always `"WindowsError"`. */
  override name = "WindowsError";
  /** The `GetLastError` code (2: not found, 5: access denied, ...). */
  readonly code: number;

  /** The failure of `call` with `code`. */
  constructor(call: string, code: number) {
    super(`${call} failed (Windows error ${code})`);
    this.code = code;
  }
}

/** The symbols of a library that {@linkcode windowsAccountsAvailable} said are there. */
function symbolsOf<T>(library: () => T | null): T {
  const symbols = library();
  if (symbols === null) throw new Error("Windows accounts are not available here");
  return symbols;
}

/** The token of a logon, closed (`CloseHandle`) exactly once when disposed. */
export class LogonToken implements Disposable {
  #handle: Deno.PointerValue;

  /** The token `handle` that `LogonUserW` gave. */
  constructor(handle: Deno.PointerValue) {
    this.#handle = handle;
  }

  /** The user's profile directory (`C:\Users\NAME`); throws {@linkcode WindowsError} (2: the user has none yet). */
  profileDirectory(): string {
    if (this.#handle === null) throw new Error("the logon token is closed");
    const directory = new Uint8Array(MAX_PATH_UNITS * 2);
    const size = new Uint32Array([MAX_PATH_UNITS]);
    const ok = symbolsOf(userenv).GetUserProfileDirectoryW(this.#handle, directory, size);
    if (!ok) throw new WindowsError("GetUserProfileDirectoryW", symbolsOf(kernel32).GetLastError());
    return fromWideString(directory);
  }

  /** Closes the token; later calls do nothing. */
  [Symbol.dispose](): void {
    const handle = this.#handle;
    this.#handle = null;
    if (handle !== null) symbolsOf(kernel32).CloseHandle(handle);
  }
}

/**
 * `LogonUserW(name, ".", password, LOGON32_LOGON_NETWORK)`: the token of the
 * local account `name` when `password` is its password, on a worker thread;
 * `null` when the logon fails, whatever the reason (a wrong password; an
 * account that is disabled, locked out, expired or denied network logons: the
 * code is the worker thread's), or when `name` or `password` cannot be handed over.
 */
export async function logonUser(name: string, password: string): Promise<LogonToken | null> {
  const user = wideString(name, MAX_NAME_UNITS);
  const secret = wideString(password, MAX_NAME_UNITS);
  if (user === null || secret === null) return null;
  const handle = new BigUint64Array(1);
  // Every buffer stays referenced until the worker thread is done with it.
  try {
    const ok = await symbolsOf(advapi32).LogonUserW(
      user,
      LOCAL_DOMAIN,
      secret,
      LOGON32_LOGON_NETWORK,
      LOGON32_PROVIDER_DEFAULT,
      handle,
    );
    return ok ? new LogonToken(Deno.UnsafePointer.create(handle[0])) : null;
  } finally {
    secret.fill(0);
    user.fill(0);
  }
}

/** Whether `name` is a user account Windows knows (`LookupAccountNameW`; not a group, not an alias). */
export function accountExists(name: string): boolean {
  const account = wideString(name, MAX_NAME_UNITS);
  if (account === null) return false;
  const sid = new Uint8Array(MAX_SID_SIZE);
  const sidSize = new Uint32Array([MAX_SID_SIZE]);
  const domain = new Uint8Array(MAX_DOMAIN_UNITS * 2);
  const domainSize = new Uint32Array([MAX_DOMAIN_UNITS]);
  const use = new Uint32Array(1);
  const ok = symbolsOf(advapi32).LookupAccountNameW(
    null,
    account,
    sid,
    sidSize,
    domain,
    domainSize,
    use,
  );
  return ok !== 0 && use[0] === SID_TYPE_USER;
}

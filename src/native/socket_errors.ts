/**
 * How the failures of socket calls are worded: the network's failures as the
 * runtime's own error classes (`Deno.errors.ConnectionReset`, `BrokenPipe`, ...),
 * so that callers treat native sockets and the runtime's alike, and any other
 * failure as a `SystemError`.
 *
 * @module
 */

import { E, errnoName, SystemError } from "./libc.ts";

/** The runtime's error class for each failure of the network. */
const NETWORK_ERRORS: Record<number, new (message: string) => Error> = {
  [E.CONNREFUSED]: Deno.errors.ConnectionRefused,
  [E.CONNRESET]: Deno.errors.ConnectionReset,
  [E.CONNABORTED]: Deno.errors.ConnectionAborted,
  [E.PIPE]: Deno.errors.BrokenPipe,
  [E.NOTCONN]: Deno.errors.NotConnected,
  [E.ADDRINUSE]: Deno.errors.AddrInUse,
  [E.ADDRNOTAVAIL]: Deno.errors.AddrNotAvailable,
  [E.TIMEDOUT]: Deno.errors.TimedOut,
  [E.NETUNREACH]: Deno.errors.NetworkUnreachable,
  [E.HOSTUNREACH]: Deno.errors.NetworkUnreachable,
  [E.NETDOWN]: Deno.errors.NetworkUnreachable,
};

/** A failure of the network, with the call that met it and its errno. */
export type NetworkError = Error & { code: string; errno: number; call: string };

/**
 * The failure of `call` with `errno`: the runtime's error for the network's
 * failures (with `code`, `errno` and `call`), else a `SystemError`.
 */
export function socketError(call: string, errno: number): Error {
  const Class = NETWORK_ERRORS[errno];
  if (!Class) return new SystemError(call, errno);
  const code = errnoName(errno);
  const error: NetworkError = Object.assign(
    new Class(`${call}: ${code} (os error ${errno})`),
    { code, errno, call },
  );
  return error;
}

/** Runs a socket call that throws a `SystemError`, with its failure as {@linkcode socketError} words it. */
export function socketCall<T>(call: () => T): T {
  try {
    return call();
  } catch (error) {
    throw error instanceof SystemError ? socketError(error.call, error.errno) : error;
  }
}

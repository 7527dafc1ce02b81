/**
 * {@linkcode CliError}: what the command line refuses, with its exit status.
 *
 * @module
 */

/**
 * A bad flag or value (exit status 2), or a server that cannot start (1); the
 * message is shown as is, after `tsftpd: `.
 */
export class CliError extends Error {
  override name = "CliError";
  /** The process exit status. */
  readonly exitCode: number;
  /** Whether the `--help` hint follows the message (by default, for status 2). */
  readonly hint: boolean;

  /** A refusal saying `message`, exiting with `exitCode`. */
  constructor(message: string, exitCode = 2, hint = exitCode === 2) {
    super(message);
    this.exitCode = exitCode;
    this.hint = hint;
  }
}

/** Why a listening socket could not be opened, in words (`address already in use`, ...). */
export function listenFailure(error: unknown): string {
  if (error instanceof Deno.errors.AddrInUse) return "address already in use";
  if (error instanceof Deno.errors.PermissionDenied) {
    return "permission denied (ports below 1024 need privileges)";
  }
  if (error instanceof Deno.errors.AddrNotAvailable) return "no such local address";
  return (error as Error).message;
}

/**
 * {@linkcode FTPError}: the one error that carries an FTP reply. Handlers,
 * filesystems and authorizers throw it; the session turns it into the reply.
 *
 * @module
 */

/** Options of an {@linkcode FTPError}. */
export interface FTPErrorOptions extends ErrorOptions {
  /**
   * Log the refusal at this level, besides answering it: for refusals an operator
   * should hear of (a path that leaves the jail), not for everyday ones.
   */
  log?: "warning" | "info";
}

/** A refusal with the reply the client gets: `new FTPError(550, "No such file.")`. */
export class FTPError extends Error {
  /** Always `"FTPError"`. */
  override name = "FTPError";
  /** The reply code (4xx or 5xx). */
  readonly code: number;
  /** The level the refusal is logged at, if it is. */
  readonly log?: "warning" | "info";

  /** A refusal answered `code message`. */
  constructor(code: number, message: string, options?: FTPErrorOptions) {
    super(message, options);
    this.code = code;
    this.log = options?.log;
  }
}

/**
 * A failed system call's message without the runtime's `(os error N)` tail and
 * the path after it (`"No such file or directory"`), for a message of our own.
 */
export function systemReason(error: unknown): string {
  return (error as Error).message.replace(/ \(os error \d+\).*/, "");
}

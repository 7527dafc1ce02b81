/**
 * {@linkcode FTPError}: the one error that carries an FTP reply. Handlers,
 * filesystems and authorizers throw it; the session turns it into the reply.
 *
 * @module
 */

/** A refusal with the reply the client gets: `new FTPError(550, "No such file.")`. */
export class FTPError extends Error {
  /** Always `"FTPError"`. */
  override name = "FTPError";
  /** The reply code (4xx or 5xx). */
  readonly code: number;

  /** A refusal answered `code message`. */
  constructor(code: number, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

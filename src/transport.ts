/**
 * The byte stream a session or a transfer talks over, whatever carries it: a plain
 * TCP connection (the runtime's, or a native socket that can also send a file by
 * its descriptor), or a TLS connection.
 *
 * @module
 */

/** Reads bytes into `p`; `null` at end of stream. */
export interface Reader {
  /** Reads up to `p.byteLength` bytes into `p` and returns how many, or `null` at the end. */
  read(p: Uint8Array): Promise<number | null>;
}

/** Writes bytes; may write fewer than given. */
export interface Writer {
  /** Writes some of `p` and returns how many bytes were written. */
  write(p: Uint8Array): Promise<number>;
}

/** A connected, two-way byte stream. `Deno.Conn` is one. */
export interface Transport extends Reader, Writer {
  /** Closes both directions at once; pending reads and writes fail. */
  close(): void;
  /**
   * Ends the stream properly once all written bytes are out (TLS: sends
   * close_notify), waiting at most `timeoutMs` where the transport has a default.
   */
  end?(timeoutMs?: number): Promise<void>;
  /**
   * After a read returned `null`: whether the stream ended properly. TLS without
   * close_notify did not; a plain TCP stream, which has no way to tell, leaves it out.
   */
  readonly cleanEnd?: boolean;
  /**
   * Sends up to `count` (> 0) bytes of the open file descriptor `fd` from byte
   * `offset` without copying them through this process (`sendfile(2)`), and
   * resolves to how many: 0 at the end of the file. Only a native socket has it. A
   * failure of the connection rejects as {@linkcode Writer.write} does; one of the
   * file with a {@linkcode LocalFileError}.
   */
  sendFile?(fd: number, offset: number, count: number): Promise<number>;
  /**
   * Receives up to `count` (> 0) bytes into the open file descriptor `fd` at byte
   * `offset` without copying them through this process (`splice(2)`), and
   * resolves to how many: 0 once the peer has closed its side. It may wait for
   * more bytes to gather, but never much longer than `patience` ms with some
   * already in, so that a slow peer's progress is seen. Only a native socket has
   * it. Failures reject as {@linkcode Transport.sendFile}'s do.
   */
  receiveFile?(fd: number, offset: number, count: number, patience: number): Promise<number>;
  /**
   * Receives into the open file descriptor `fd` from byte `offset` until the peer
   * closes its side, as {@linkcode Transport.receiveFile} does, `step` bytes (or
   * fewer) at a time, with its `patience`; the work may run on another thread,
   * and {@linkcode RunningUpload} tells how far it is meanwhile. Closing the transport
   * ends it: what came before is written, and `done` rejects. Only a native socket
   * has it.
   */
  receiveFileToEnd?(fd: number, offset: number, options: UploadOptions): RunningUpload;
}

/** How {@linkcode Transport.receiveFileToEnd} moves the bytes. */
export interface UploadOptions {
  /** The most bytes one step gathers before it writes them (fixed for the whole upload). */
  step: number;
  /** The longest ms a step waits for the rest of a batch once some bytes have come. */
  patience: number;
}

/** An upload {@linkcode Transport.receiveFileToEnd} runs. */
export interface RunningUpload {
  /** The bytes written so far. */
  readonly bytes: number;
  /** When bytes were last written (`performance.now()`'s clock); the start before any. */
  readonly lastProgress: number;
  /** Whether another thread (an upload thread) runs it. */
  readonly offThread: boolean;
  /**
   * Resolves to the bytes written once the peer has closed its side; rejects as
   * {@linkcode Transport.receiveFile} does, `bytes` counting those written before.
   */
  readonly done: Promise<number>;
}

/** Writes all of `p`, however many calls it takes. */
export async function writeAll(writer: Writer, p: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < p.byteLength) offset += await writer.write(p.subarray(offset));
}

/**
 * What {@linkcode Transport.sendFile} and {@linkcode Transport.receiveFile} reject
 * with when reading or writing the file failed (rather than the connection);
 * `cause` is the system's error.
 */
export class LocalFileError extends Error {
  /** Always `"LocalFileError"`. */
  override name = "LocalFileError";

  /** The failure `cause` of the file being read (`"reading"`) or written. */
  constructor(doing: "reading" | "writing", cause: Error) {
    super(`${doing} the file failed: ${cause.message}`, { cause });
  }
}

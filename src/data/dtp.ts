/**
 * {@linkcode DTPHandler}: one transfer over an open data connection (pyftplib's
 * DTPHandler and ThrottledDTPHandler in one).
 *
 * @module
 */

import type { FileDescriptor, FileReader, FileWriter } from "../fs/filesystem.ts";
import {
  LocalFileError,
  type Reader,
  type RunningUpload,
  type Transport,
  type UploadOptions,
  writeAll,
  type Writer,
} from "../transport.ts";
import type { ChunkConverter } from "./ascii.ts";
import type { BufferPool } from "./buffer_pool.ts";
import type { SharedRate } from "./shared_rate.ts";

/** Options of a data transfer. */
export interface DTPOptions {
  /** Seconds a transfer may stall with no progress before it is aborted (default 300). */
  timeout: number;
  /**
   * Bytes read per chunk while few transfers run (default 1 MiB; rounded down to a
   * power of two, 64 KiB at least); larger is faster.
   */
  bufferSize: number;
  /**
   * Bytes of the one slab the transfer buffers of a server are cut from (default
   * 16 MiB): each transfer's buffer is its share of it, from `bufferSize` down to
   * 64 KiB, so memory stays flat however many transfers run.
   */
  bufferBudget: number;
  /** Most bytes received per second; 0 is no limit (ThrottledDTPHandler's `read_limit`). */
  readLimit: number;
  /** Most bytes sent per second; 0 is no limit (ThrottledDTPHandler's `write_limit`). */
  writeLimit: number;
  /** A budget for received bytes shared with other transfers (a user's), besides `readLimit`. */
  readRate?: SharedRate;
  /** A budget for sent bytes shared with other transfers (a user's), besides `writeLimit`. */
  writeRate?: SharedRate;
}

/** A direction's rate limits: the transfer's own (bytes per second, 0 for none) and a shared budget. */
interface Limit {
  readonly perTransfer: number;
  readonly shared: SharedRate | undefined;
  /**
   * The most bytes one step moves: under a rate limit, an eighth of a second's
   * worth of the lowest (16 KiB at least), so that the bytes flow evenly instead
   * of in bursts of a whole buffer followed by a long pause; else no bound.
   */
  readonly step: number;
}

/** The limits `perTransfer` (bytes per second, 0 for none) and `shared` make, worked out once. */
function limitOf(perTransfer: number, shared: SharedRate | undefined): Limit {
  const rates = [perTransfer, shared?.bytesPerSecond ?? 0].filter((rate) => rate > 0);
  const step = rates.length === 0
    ? Infinity
    : Math.max(16 * 1024, Math.floor(Math.min(...rates) / 8));
  return { perTransfer, shared, step };
}

/** The defaults of {@linkcode DTPOptions}. */
export const DEFAULT_DTP_OPTIONS: DTPOptions = {
  timeout: 300,
  bufferSize: 1024 * 1024,
  bufferBudget: 16 * 1024 * 1024,
  readLimit: 0,
  writeLimit: 0,
};

/** A transfer class: {@linkcode DTPHandler} or a subclass of it. */
export type DTPHandlerClass = new (
  conn: Transport,
  options: DTPOptions,
  buffers: BufferPool,
) => DTPHandler;

/** Why a transfer stopped before its end. */
export type TransferFailure =
  /** The client sent ABOR, or the session ended. */
  | "aborted"
  /** No progress for {@linkcode DTPOptions.timeout} seconds. */
  | "timeout"
  /** The data connection failed (reset, broken pipe). */
  | "connection"
  /** Reading or writing the local file failed. */
  | "file"
  /** The client's TLS stream ended without close_notify: the upload was cut short. */
  | "truncated";

/** A transfer that did not finish; `cause` is the underlying error, if any. */
export class TransferError extends Error {
  /** Always `"TransferError"`. */
  override name = "TransferError";
  /** Why it stopped. */
  readonly failure: TransferFailure;

  /** A transfer stopped by `failure`, caused by `cause`. */
  constructor(failure: TransferFailure, cause?: unknown) {
    super(`transfer ${failure}`, { cause });
    this.failure = failure;
  }
}

/**
 * Moves the bytes of one transfer between a data connection and a local file (or
 * generated listing), counting them, converting line endings in TYPE A, keeping to
 * the rate limits, and aborting on ABOR or when the transfer stalls. A file that
 * offers its descriptor, moved unconverted over a connection that can send and
 * receive files (a native socket), goes by `sendfile(2)` or `splice(2)`: the same
 * loops, without a buffer.
 */
export class DTPHandler {
  /** The data connection. */
  readonly conn: Transport;
  /** When the transfer started, from `performance.now()`. */
  readonly startedAt: number = performance.now();
  /**
   * Whether the file went by the zero-copy path (`sendfile(2)` out, `splice(2)` in)
   * rather than through a buffer.
   */
  zeroCopy = false;
  readonly #options: DTPOptions;
  readonly #buffers: BufferPool;
  /** The limits on received bytes. */
  readonly #receiving: Limit;
  /** The limits on sent bytes. */
  readonly #sending: Limit;
  #failure: TransferFailure | null = null;
  /** Bytes moved, but for those of an upload running to its end ({@linkcode DTPHandler.#upload}). */
  #bytes = 0;
  #lastProgress = this.startedAt;
  /** An upload the connection runs to its end (`Transport.receiveFileToEnd`), which counts its own bytes. */
  #upload: RunningUpload | null = null;
  #watchdog: ReturnType<typeof setTimeout> | undefined;
  #wake: (() => void) | null = null;
  #buffer: Uint8Array | null = null;

  /** A transfer over `conn`, with a buffer from `buffers`. */
  constructor(conn: Transport, options: DTPOptions, buffers: BufferPool) {
    this.conn = conn;
    this.#options = options;
    this.#buffers = buffers;
    this.#receiving = limitOf(options.readLimit, options.readRate);
    this.#sending = limitOf(options.writeLimit, options.writeRate);
  }

  /** Bytes moved over the data connection so far. */
  get bytes(): number {
    return this.#bytes + (this.#upload?.bytes ?? 0);
  }

  /** Whether another thread (an upload thread, `upload_pumps.ts`) moved the bytes. */
  get offThread(): boolean {
    return this.#upload?.offThread ?? false;
  }

  /** Seconds since the transfer started. */
  get seconds(): number {
    return (performance.now() - this.startedAt) / 1000;
  }

  /** Stops the transfer: the pending read or write fails and the data connection closes. */
  abort(failure: TransferFailure = "aborted"): void {
    if (this.#failure) return;
    this.#failure = failure;
    this.#wake?.();
    this.#close();
  }

  /**
   * Sends a file (or any reader) to the client, converting it with `convert` if
   * given. Unconverted, a file that has a descriptor (`FileReader.descriptor`)
   * is sent with the connection's `sendFile` when it has one.
   */
  async sendFile(
    source: Reader & Pick<FileReader, "descriptor">,
    convert?: ChunkConverter,
  ): Promise<void> {
    const file = convert ? null : source.descriptor?.() ?? null;
    const { conn } = this;
    if (file && conn.sendFile) {
      return await this.#moveDescriptor(file, conn.sendFile.bind(conn), this.#sending);
    }
    await this.#run(true, async () => {
      while (true) {
        const buffer = this.#fittedBuffer();
        const step = buffer.subarray(0, this.#stepSize(this.#sending, buffer.length));
        const n = await this.#fileStep(() => source.read(step));
        if (n === null) break;
        const chunk = buffer.subarray(0, n);
        await this.#send(convert ? convert(chunk) : chunk);
      }
    });
  }

  /** Sends generated chunks (a listing) to the client. */
  async sendChunks(chunks: AsyncIterable<Uint8Array>): Promise<void> {
    await this.#run(false, async () => {
      for await (const chunk of this.#fileIterable(chunks)) await this.#send(chunk);
    });
  }

  /**
   * Receives the client's bytes into `sink` until the client closes the data
   * connection, filling the buffer before each write (file writes cost far more
   * than socket reads); what arrived before a failure (a reset, ABOR, a stall) is
   * still written.
   */
  async receiveFile(
    sink: Writer & Pick<FileWriter, "descriptor">,
    convert?: ChunkConverter & { flush(): Uint8Array },
  ): Promise<void> {
    const file = convert ? null : sink.descriptor?.() ?? null;
    const { conn } = this;
    if (file && conn.receiveFile) {
      // A slow client's bytes are handed over well within the stall watchdog's time.
      const patience = this.#options.timeout * 1000 / 4;
      if (conn.receiveFileToEnd && this.#receiving.step === Infinity) {
        return await this.#receiveToEnd(file, conn.receiveFileToEnd.bind(conn), patience);
      }
      const receive = (fd: number, offset: number, count: number) =>
        conn.receiveFile!(fd, offset, count, patience);
      return await this.#moveDescriptor(file, receive, this.#receiving);
    }
    await this.#run(true, async () => {
      let ended = false;
      while (!ended) {
        const buffer = this.#fittedBuffer();
        let length = 0;
        let failure: unknown = null;
        try {
          while (length < buffer.length) {
            const step = this.#stepSize(this.#receiving, buffer.length - length);
            const n = await this.#connStep(() =>
              this.conn.read(buffer.subarray(length, length + step))
            );
            if (n === null) {
              ended = true;
              break;
            }
            length += n;
            this.#progress(n);
            await this.#throttle(this.#receiving, n);
          }
        } catch (error) {
          failure = error;
        }
        const chunk = buffer.subarray(0, length);
        if (length > 0) await this.#keep(sink, convert ? convert(chunk) : chunk);
        if (failure) throw failure;
      }
      if (this.conn.cleanEnd === false) throw new TransferError("truncated");
      if (convert) await this.#fileStep(() => writeAll(sink, convert.flush()));
    });
  }

  /**
   * Moves `file` from its position with `move` (the connection's `sendFile` or
   * `receiveFile`), a chunk of a transfer buffer's size at a time (no buffer is
   * taken, only a share of the pool, so the steps shrink as more transfers run;
   * under the rate limit `limit`, a step's), so that progress, ABOR, the stall
   * watchdog and the rate limit act between chunks as they do when streaming.
   */
  async #moveDescriptor(
    file: FileDescriptor,
    move: (fd: number, offset: number, count: number) => Promise<number>,
    limit: Limit,
  ): Promise<void> {
    this.zeroCopy = true;
    await this.#run(false, async () => {
      using _share = this.#buffers.share();
      for (let offset = file.position;;) {
        if (this.#failure) throw new TransferError(this.#failure);
        const size = this.#stepSize(limit, this.#buffers.fairSize);
        const n = await this.#connStep(() => move(file.fd, offset, size));
        if (n === 0) break;
        offset += n;
        this.#progress(n);
        await this.#throttle(limit, n);
      }
    });
  }

  /**
   * Receives into `file` from its position with `receive` (the connection's
   * `receiveFileToEnd`) until the client closes the data connection: no rate
   * limit to keep between steps, so the connection runs the steps itself
   * (perhaps on another thread), and progress, ABOR and the stall watchdog read
   * its {@linkcode RunningUpload}.
   */
  async #receiveToEnd(
    file: FileDescriptor,
    receive: (fd: number, offset: number, options: UploadOptions) => RunningUpload,
    patience: number,
  ): Promise<void> {
    this.zeroCopy = true;
    await this.#run(false, async () => {
      using _share = this.#buffers.share();
      if (this.#failure) throw new TransferError(this.#failure);
      await this.#connStep(() => {
        const upload = receive(file.fd, file.position, { step: this.#buffers.fairSize, patience });
        this.#upload = upload;
        return upload.done;
      });
    });
  }

  /** Writes bytes received, even once the transfer has failed: an aborted or stalled upload keeps them. */
  async #keep(sink: Writer, bytes: Uint8Array): Promise<void> {
    try {
      await writeAll(sink, bytes);
    } catch (error) {
      throw new TransferError(this.#failure ?? "file", error);
    }
  }

  async #send(chunk: Uint8Array): Promise<void> {
    await this.#connStep(() => writeAll(this.conn, chunk));
    this.#progress(chunk.length);
    await this.#throttle(this.#sending, chunk.length);
  }

  /** Runs a transfer's loop (with a pooled buffer if `buffered`), then ends and closes the connection. */
  async #run(buffered: boolean, body: () => Promise<void>): Promise<void> {
    if (buffered) this.#buffer = this.#buffers.acquire();
    this.#armWatchdog(this.#options.timeout * 1000);
    try {
      await body();
      if (this.#failure) throw new TransferError(this.#failure);
      await this.#connStep(async () => await this.conn.end?.());
    } finally {
      clearTimeout(this.#watchdog);
      this.#close();
      if (this.#buffer) this.#buffers.release(this.#buffer);
      this.#buffer = null;
    }
  }

  /** The transfer's buffer, refitted to its share of the pool (smaller as more transfers run, larger as fewer do). */
  #fittedBuffer(): Uint8Array {
    return this.#buffer = this.#buffers.fit(this.#buffer!);
  }

  #close(): void {
    try {
      this.conn.close();
    } catch {
      // Already closed.
    }
  }

  #progress(n: number): void {
    this.#bytes += n;
    this.#lastProgress = performance.now();
  }

  /** A step on the connection: its failure is the connection's, but for the file `sendFile` read. */
  async #connStep<T>(step: () => Promise<T>): Promise<T> {
    try {
      return await step();
    } catch (error) {
      if (error instanceof LocalFileError) {
        throw new TransferError(this.#failure ?? "file", error.cause);
      }
      throw new TransferError(this.#failure ?? "connection", error);
    }
  }

  async #fileStep<T>(step: () => Promise<T>): Promise<T> {
    if (this.#failure) throw new TransferError(this.#failure);
    try {
      return await step();
    } catch (error) {
      throw new TransferError(this.#failure ?? "file", error);
    }
  }

  async *#fileIterable(chunks: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
    const iterator = chunks[Symbol.asyncIterator]();
    while (true) {
      const next = await this.#fileStep(() => iterator.next());
      if (next.done) return;
      yield next.value;
    }
  }

  #armWatchdog(delayMs: number): void {
    this.#watchdog = setTimeout(() => {
      const lastProgress = Math.max(this.#lastProgress, this.#upload?.lastProgress ?? 0);
      const idle = performance.now() - lastProgress;
      const limit = this.#options.timeout * 1000;
      if (idle >= limit) this.abort("timeout");
      else this.#armWatchdog(limit - idle);
    }, delayMs);
  }

  /** The bytes to move in one step of `size` at most, under `limit` ({@linkcode Limit.step}). */
  #stepSize(limit: Limit, size: number): number {
    return Math.min(size, limit.step);
  }

  /**
   * After `moved` bytes, sleeps as long as it takes to bring this transfer's
   * average rate down to its own limit, and to pay for them in the shared budget.
   */
  async #throttle({ perTransfer, shared, step }: Limit, moved: number): Promise<void> {
    if (step === Infinity) return;
    const now = performance.now();
    const own = perTransfer > 0 ? this.bytes / perTransfer * 1000 - (now - this.startedAt) : 0;
    const ahead = Math.max(own, shared?.debit(moved) ?? 0);
    if (ahead <= 0) return;
    // A pause the transfer chooses is not a stall: the watchdog counts from its end.
    this.#lastProgress = now + ahead;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, ahead);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    });
    this.#wake = null;
    if (this.#failure) throw new TransferError(this.#failure);
  }
}

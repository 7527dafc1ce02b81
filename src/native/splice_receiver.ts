/**
 * {@linkcode SpliceReceiver}: an upload's bytes moved from a socket into a file
 * with `splice(2)`, socket to pipe to file, never copied through this process.
 * A native connection runs one on the main thread; an upload thread
 * (`upload_pumps.ts`) runs one per upload it was handed.
 *
 * @module
 */

import {
  E,
  type Pipe,
  pipe,
  setPipeSize,
  spliceFromSocket,
  spliceToFile,
  spliceToFileNow,
  SystemError,
} from "./libc.ts";
import { LocalFileError, type UploadOptions } from "../transport.ts";
import { mayWriteNow, onLocalDisk, writeNow } from "./page_cache.ts";
import { readable } from "./reactor.ts";
import { socketCall, socketError } from "./socket_errors.ts";

/** The fewest bytes gathered in the pipe before they are written, short of the stream's end. */
const SPLICE_BATCH = 64 * 1024;
/**
 * The longest a receive waits for the rest of a batch once some bytes have come,
 * unless its caller's patience is shorter: a slow client's bytes are then written
 * as they are, so that its progress is seen (by STAT, and by the stall watchdog,
 * which would otherwise take it for a stalled one).
 */
export const SLOW_CLIENT_WAIT = 1000;

/** Options of {@linkcode SpliceReceiver}. */
export interface SpliceReceiverOptions {
  /**
   * Whether this thread may wait for the disk (default false, the main thread's
   * case): a write into a local disk's file then always runs here, however
   * close the kernel is to throttling writers or however long a write lately
   * waited (`page_cache.ts`). An upload thread, which runs nothing but uploads,
   * loses less by waiting for the kernel than by a hop to a worker thread per
   * write; a file on any other filesystem still goes to a worker thread, since
   * its writes can wait on anything.
   */
  mayWaitForDisk?: boolean;
}

/**
 * Receives a socket's bytes into files through a pipe of its own, made at the
 * first receive and closed by {@linkcode SpliceReceiver.close} (at once, or once
 * the receive in progress has written what the pipe holds).
 */
export class SpliceReceiver implements Disposable {
  /** The socket's descriptor; throws `BadResource` once the socket is closed. */
  readonly #socketFd: () => number;
  /** The pipe, made by the first receive, and its size. */
  #pipe: { ends: Pipe; size: number } | null = null;
  /** Whether a receive is in progress (gathering or draining): a close leaves the pipe to it. */
  #busy = false;
  /** The failure a receive met after some bytes had come: the next one rejects with it. */
  #deferredFailure: unknown = null;
  /** The file last written and whether it is on a local disk (`page_cache.ts`). */
  #target: { fd: number; local: boolean } | null = null;
  #closed = false;
  readonly #mayWaitForDisk: boolean;

  /** A receiver for the socket whose descriptor `socketFd` gives (and throws `BadResource` once it is closed). */
  constructor(socketFd: () => number, options: SpliceReceiverOptions = {}) {
    this.#socketFd = socketFd;
    this.#mayWaitForDisk = options.mayWaitForDisk ?? false;
  }

  /**
   * Receives up to `count` (> 0) bytes into the open file `file` at byte `offset`;
   * resolves to how many, 0 once the peer has closed its side. Waits (in the
   * reactor) while nothing has arrived, then for a batch worth a write, but no
   * longer than `patience` ms (at most {@linkcode SLOW_CLIENT_WAIT}) after the
   * first bytes came; the pipe's drain into the file runs on this thread when the
   * kernel will not make it wait (`page_cache.ts`), else on a worker thread. A
   * failure of the connection rejects as a read does, once the bytes that came
   * before it are written (and counted: the receive that meets it resolves to
   * them, and the next one rejects); one of the file (a full disk) with a
   * `LocalFileError`.
   */
  async receive(
    file: number,
    offset: number,
    count: number,
    patience = SLOW_CLIENT_WAIT,
  ): Promise<number> {
    if (count <= 0) throw new RangeError(`receiveFile count ${count} is not positive`);
    // Before the pipe: after a close, a new one would be left open.
    if (this.#closed) throw new Deno.errors.BadResource("the socket is closed");
    if (this.#deferredFailure !== null) {
      const failure = this.#deferredFailure;
      this.#deferredFailure = null;
      throw failure;
    }
    const wait = Math.min(patience, SLOW_CLIENT_WAIT);
    const { ends, size } = this.#pipe ??= this.#openPipe(count);
    const wanted = Math.min(count, size);
    // Each drain costs a system call, and a worker thread's turn off the main thread:
    // wait for a batch worth it, unless the stream ended.
    const batch = Math.min(wanted, SPLICE_BATCH);
    this.#busy = true;
    try {
      let moved = 0;
      /** When the bytes moved so far are written, batch or not: `wait` after the first came. */
      let deadline: number | undefined;
      try {
        while (moved < wanted) {
          const fd = this.#socketFd();
          const n = spliceFromSocket(fd, ends.writer.fd, wanted - moved);
          if (n > 0) moved += n;
          else if (n === 0) break;
          else if (n === -E.AGAIN) {
            if (moved >= batch) break;
            if (moved === 0) {
              await readable(fd);
              continue;
            }
            deadline ??= performance.now() + wait;
            const left = deadline - performance.now();
            if (left <= 0 || !await arrival(fd, left)) break;
          } else if (n !== -E.INTR) throw socketError("splice", -n);
        }
      } catch (error) {
        // A close (ABOR, a stall) or a reset while more was awaited: what came is written
        // and counted now, and the next receive rejects.
        if (moved === 0) throw error;
        this.#deferredFailure = error;
      }
      await this.#drain(ends.reader.fd, file, offset, moved);
      return moved;
    } finally {
      this.#busy = false;
      if (this.#closed) this.#closePipe();
    }
  }

  /** Closes the pipe, now or once the receive in progress is done with it; closing again does nothing. */
  close(): void {
    this.#closed = true;
    if (!this.#busy) this.#closePipe();
  }

  /** Closes it, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** A pipe as large as `count` where the system allows it. */
  #openPipe(count: number): { ends: Pipe; size: number } {
    const ends = socketCall(() => pipe());
    try {
      return { ends, size: socketCall(() => setPipeSize(ends.writer.fd, count)) };
    } catch (error) {
      ends[Symbol.dispose]();
      throw error;
    }
  }

  /** Moves the `count` bytes waiting in the pipe into `file` at `offset`. */
  async #drain(pipeReader: number, file: number, offset: number, count: number): Promise<void> {
    if (this.#target?.fd !== file) this.#target = { fd: file, local: onLocalDisk(file) };
    const local = this.#target.local;
    for (let written = 0; written < count;) {
      const left = count - written;
      const at = offset + written;
      const n = !local
        ? await spliceToFile(pipeReader, file, at, left)
        : this.#mayWaitForDisk
        ? spliceToFileNow(pipeReader, file, at, left)
        : mayWriteNow(left)
        ? writeNow(() => spliceToFileNow(pipeReader, file, at, left))
        : await spliceToFile(pipeReader, file, at, left);
      if (n === -E.INTR) continue;
      if (n <= 0) {
        const failure = new SystemError("splice", n < 0 ? -n : E.IO);
        throw new LocalFileError("writing", failure);
      }
      written += n;
    }
  }

  #closePipe(): void {
    this.#pipe?.ends[Symbol.dispose]();
    this.#pipe = null;
  }
}

/**
 * Receives with `receiver` into `file` from `offset` until the peer closes its
 * side, a step of `options.step` bytes at most at a time, telling `progress` the
 * bytes written after each; resolves to them all. Rejects as a receive does.
 */
export async function receiveToEnd(
  receiver: SpliceReceiver,
  file: number,
  offset: number,
  options: UploadOptions,
  progress: (bytes: number) => void,
): Promise<number> {
  for (let bytes = 0;;) {
    const n = await receiver.receive(file, offset + bytes, options.step, options.patience);
    if (n === 0) return bytes;
    bytes += n;
    progress(bytes);
  }
}

/** Waits until the socket can be read (bytes, the end, an error); false when `ms` milliseconds passed first. */
async function arrival(fd: number, ms: number): Promise<boolean> {
  const slow = new AbortController();
  const timer = setTimeout(() => slow.abort(), ms);
  try {
    await readable(fd, slow.signal);
    return true;
  } catch (error) {
    if (slow.signal.aborted) return false;
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * {@linkcode UploadPumps}: threads that run spliced uploads, so that a server's
 * uploads use every core of the machine, not only the main thread's.
 *
 * An upload's cost is in the kernel (the copy into the page cache, the
 * filesystem's allocation, and on loopback the acknowledgements that run the
 * client's transmissions in the receiver's time): measured here, 300 concurrent
 * 10 MB uploads kept the main thread busy for the whole of their wall time, 86%
 * of it in the kernel, while the other core waited. Each upload thread is a Web
 * Worker with a reactor of its own (`reactor.ts`) that runs the whole of the
 * uploads handed to it with a {@linkcode SpliceReceiver}; the main thread hands
 * an upload over in one message and hears back once, at its end, and reads its
 * progress meanwhile from memory the two share.
 *
 * The main thread keeps a share: an upload runs there when it has no more
 * running than the least busy thread, so one upload alone never waits for a
 * thread, and a machine of `n` cores runs `n - 1` threads beside it; but not
 * while its own writes would go to worker threads (the kernel near throttling
 * writers, or a write of its lately made to wait, `page_cache.ts`), nor into a
 * file off a local disk: a thread waits for the disk itself
 * (`SpliceReceiver`'s `mayWaitForDisk`), where the main thread hops to a
 * worker thread per write, whose result then waits for its busy event loop
 * (measured: 300 concurrent uploads took 3-5 s that way against 1.5). The threads
 * start at the first upload, and end once {@linkcode UploadPumps.close} was
 * called and their last upload has.
 *
 * The descriptors stay the main thread's: the socket's owner closes it only once
 * the upload has ended (closing it early is `shutdown(2)`, which ends the upload
 * on the thread: what came before is written), and the file's owner awaits the
 * upload before it closes the file.
 *
 * @module
 */

import type { RunningUpload, UploadOptions } from "../transport.ts";
import { LocalFileError } from "../transport.ts";
import { SystemError } from "./libc.ts";
import { mayWriteNow, onLocalDisk } from "./page_cache.ts";
import { socketError } from "./socket_errors.ts";

/** A message to an upload thread: receive from `socket` into `file` until the peer closes its side. */
export interface PumpJob extends UploadOptions {
  id: number;
  socket: number;
  file: number;
  offset: number;
  /** Two doubles the thread writes after each step: the bytes written, and when (Unix ms). */
  progress: SharedArrayBuffer;
}

/** How an upload on a thread failed, to be rebuilt on the main thread. */
export type PumpFailure =
  /** Writing the file failed (`LocalFileError`), by `call` with `errno`. */
  | { kind: "file"; call: string; errno: number }
  /** The connection failed, by `call` with `errno`. */
  | { kind: "network"; call: string; errno: number }
  /** Anything else (a bug): its message. */
  | { kind: "other"; message: string };

/** A message from an upload thread. */
export type PumpAnswer =
  /** The thread can take uploads (or, `false`, cannot: no FFI there). */
  | { ready: boolean }
  /** Upload `id` ended with `bytes` written. */
  | { id: number; bytes: number }
  /** Upload `id` failed (its progress counts what was written). */
  | { id: number; failure: PumpFailure };

/** The error a {@linkcode PumpFailure} records. */
function rebuilt(failure: PumpFailure): Error {
  switch (failure.kind) {
    case "file":
      return new LocalFileError("writing", new SystemError(failure.call, failure.errno));
    case "network":
      return socketError(failure.call, failure.errno);
    case "other":
      return new Error(`an upload thread failed: ${failure.message}`);
  }
}

/** An upload a thread runs, as the main thread sees it. */
class ThreadUpload implements RunningUpload {
  readonly done: Promise<number>;
  readonly offThread = true;
  readonly #progress: Float64Array;
  readonly #startedAt = performance.now();

  constructor(progress: SharedArrayBuffer, done: Promise<number>) {
    this.#progress = new Float64Array(progress);
    this.done = done;
  }

  get bytes(): number {
    return this.#progress[0];
  }

  get lastProgress(): number {
    const at = this.#progress[1];
    return at > 0 ? at - performance.timeOrigin : this.#startedAt;
  }
}

/** One upload thread and the uploads it runs. */
class PumpThread {
  readonly #worker: Worker;
  readonly #running = new Map<number, PromiseWithResolvers<number>>();
  readonly #onFailure: (message: string) => void;
  #nextId = 0;
  /** Settles once the thread can take uploads, or has failed. */
  readonly #readiness = Promise.withResolvers<void>();
  #ready = false;
  /** Whether the thread was terminated (it failed, or was closed and idle). */
  #ended = false;
  #closing = false;

  constructor(onFailure: (message: string) => void) {
    this.#onFailure = onFailure;
    this.#worker = new Worker(new URL("./upload_pump_worker.ts", import.meta.url).href, {
      type: "module",
    });
    this.#worker.onmessage = ({ data }: MessageEvent<PumpAnswer>) => this.#answer(data);
    this.#worker.onerror = (event) => {
      event.preventDefault();
      this.#fail(event.message);
    };
  }

  /** Resolves once it can take uploads, or has failed. */
  get started(): Promise<void> {
    return this.#readiness.promise;
  }

  /** Whether it takes uploads now: started, and neither ended nor closing. */
  get usable(): boolean {
    return this.#ready && !this.#ended && !this.#closing;
  }

  /** The uploads it runs. */
  get load(): number {
    return this.#running.size;
  }

  /** Hands it an upload. */
  receive(socket: number, file: number, offset: number, options: UploadOptions): RunningUpload {
    const id = ++this.#nextId;
    const progress = new SharedArrayBuffer(2 * Float64Array.BYTES_PER_ELEMENT);
    const waiter = Promise.withResolvers<number>();
    this.#running.set(id, waiter);
    const job: PumpJob = { id, socket, file, offset, ...options, progress };
    this.#worker.postMessage(job);
    return new ThreadUpload(progress, waiter.promise);
  }

  /** Takes no more uploads, and ends once the last one has. */
  close(): void {
    this.#closing = true;
    this.#endIfIdle();
  }

  #answer(answer: PumpAnswer): void {
    if ("ready" in answer) {
      if (answer.ready) this.#ready = true;
      else this.#fail("no FFI on the thread");
      this.#readiness.resolve();
      return;
    }
    const waiter = this.#running.get(answer.id);
    this.#running.delete(answer.id);
    if ("failure" in answer) waiter?.reject(rebuilt(answer.failure));
    else waiter?.resolve(answer.bytes);
    this.#endIfIdle();
  }

  /** The thread itself failed (it could not start, or a bug): its uploads fail, the others go elsewhere. */
  #fail(message: string): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#readiness.resolve();
    this.#onFailure(
      `an upload thread failed, its uploads are run elsewhere from now on: ${message}`,
    );
    const error = new Error(`the upload thread failed: ${message}`);
    for (const waiter of this.#running.values()) waiter.reject(error);
    this.#running.clear();
    this.#worker.terminate();
  }

  #endIfIdle(): void {
    if (this.#closing && this.#running.size === 0 && !this.#ended) {
      this.#ended = true;
      this.#readiness.resolve();
      this.#worker.terminate();
    }
  }
}

/** Options of {@linkcode UploadPumps}. */
export interface UploadPumpsOptions {
  /** How many threads (default: one per core but the main thread's, at most {@linkcode MAX_UPLOAD_THREADS}). */
  threads?: number;
  /** Whether the main thread runs its share of the uploads (default true). */
  mainThreadShare?: boolean;
  /** Told when a thread fails (it could not start, or a bug). */
  onFailure?: (message: string) => void;
}

/** The most upload threads made by default, whatever the number of cores. */
export const MAX_UPLOAD_THREADS = 7;

/** The upload threads of a server ({@linkcode UploadPumps} in the module's words). */
export class UploadPumps {
  readonly #count: number;
  readonly #mainThreadShare: boolean;
  readonly #onFailure: (message: string) => void;
  #threads: PumpThread[] | null = null;
  /** Uploads the main thread runs. */
  #here = 0;
  #closed = false;

  /** The threads `options` asks for, none started yet. */
  constructor(options: UploadPumpsOptions = {}) {
    const cores = navigator.hardwareConcurrency ?? 1;
    this.#count = options.threads ?? Math.min(MAX_UPLOAD_THREADS, Math.max(0, cores - 1));
    this.#mainThreadShare = options.mainThreadShare ?? true;
    this.#onFailure = options.onFailure ?? (() => {});
  }

  /**
   * Runs an upload from `socket` into `file` from `offset`: on the least busy
   * thread, or with `here` on this thread when it runs no more ({@linkcode
   * UploadPumps}) or no thread can take it (none started yet, or closed);
   * its `offThread` says which.
   */
  receive(
    socket: number,
    file: number,
    offset: number,
    options: UploadOptions,
    here: () => RunningUpload,
  ): RunningUpload {
    const thread = this.#leastBusy();
    const hereToo = this.#mainThreadShare && this.#here <= (thread?.load ?? 0) &&
      onLocalDisk(file) && mayWriteNow(options.step);
    if (thread && !hereToo) {
      return thread.receive(socket, file, offset, options);
    }
    const upload = here();
    this.#here++;
    const ended = () => void this.#here--;
    upload.done.then(ended, ended);
    return upload;
  }

  /**
   * Starts the threads now rather than at the first upload, and resolves once
   * each can take uploads (or has failed: its uploads then run elsewhere).
   */
  async start(): Promise<void> {
    this.#leastBusy();
    await Promise.all((this.#threads ?? []).map((thread) => thread.started));
  }

  /** Takes no more uploads: each thread ends once its last upload has. */
  close(): void {
    this.#closed = true;
    for (const thread of this.#threads ?? []) thread.close();
  }

  /** The usable thread that runs fewest uploads; starts the threads at the first call. */
  #leastBusy(): PumpThread | null {
    if (this.#closed || this.#count === 0) return null;
    this.#threads ??= Array.from({ length: this.#count }, () => new PumpThread(this.#onFailure));
    let best: PumpThread | null = null;
    for (const thread of this.#threads) {
      if (thread.usable && (!best || thread.load < best.load)) best = thread;
    }
    return best;
  }
}

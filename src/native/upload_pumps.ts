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
 * The descriptors stay the main thread's, to close whenever it likes: a thread
 * works on copies of its own (`F_DUPFD_CLOEXEC`), which it closes when the upload
 * ends. A close on the main thread sets a stop flag in the shared memory and
 * shuts the socket down (`shutdown(2)` reaches the copy): the thread writes what
 * came, and the upload rejects with `BadResource`, as one on the main thread does.
 *
 * @module
 */

import type { RunningUpload, UploadOptions } from "../transport.ts";
import { LocalFileError } from "../transport.ts";
import { duplicate, SystemError } from "./libc.ts";
import { mayWriteNow, onLocalDisk } from "./page_cache.ts";
import { socketError } from "./socket_errors.ts";

/**
 * A message to an upload thread: receive from `socket` into `file` until the peer
 * closes its side. Both descriptors are the thread's own copies, which it closes.
 */
export interface PumpJob extends UploadOptions {
  id: number;
  socket: number;
  file: number;
  offset: number;
  /** What the two threads share: {@linkcode PROGRESS_BYTES} ahead of {@linkcode STOP_FLAG}. */
  progress: SharedArrayBuffer;
}

/** A message to an upload thread: close its reactor and end (nothing runs on it). */
export interface PumpClose {
  close: true;
}

/**
 * The layout of a job's shared memory: two doubles the thread writes after each
 * step (the bytes written, and when, in `Date.now()`'s milliseconds: the two
 * threads' `performance.now()` clocks have origins of their own), then an
 * `Int32` the main thread sets to stop the upload.
 */
export const PROGRESS_BYTES = 2 * Float64Array.BYTES_PER_ELEMENT;
/** The index, in `Int32` units, of the stop flag in a job's shared memory. */
export const STOP_FLAG = PROGRESS_BYTES / Int32Array.BYTES_PER_ELEMENT;
const SHARED_BYTES = PROGRESS_BYTES + Int32Array.BYTES_PER_ELEMENT;

/** How an upload on a thread failed, to be rebuilt on the main thread. */
export type PumpFailure =
  /** Writing the file failed (`LocalFileError`), by `call` with `errno`. */
  | { kind: "file"; call: string; errno: number }
  /** The connection failed, by `call` with `errno`. */
  | { kind: "network"; call: string; errno: number }
  /** The connection was closed (`BadResource`). */
  | { kind: "closed"; message: string }
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

/** The error a {@linkcode PumpFailure} records; a bug on the thread is a local failure (451). */
function rebuilt(failure: PumpFailure): Error {
  switch (failure.kind) {
    case "file":
      return new LocalFileError("writing", new SystemError(failure.call, failure.errno));
    case "network":
      return socketError(failure.call, failure.errno);
    case "closed":
      return new Deno.errors.BadResource(failure.message);
    case "other":
      return new LocalFileError("writing", new Error(threadFailed(failure.message)));
  }
}

/** The words of a thread's own failure. */
function threadFailed(message: string): string {
  return `the upload thread failed: ${message}`;
}

/** An upload a thread runs, as the main thread sees it. */
class ThreadUpload implements RunningUpload {
  readonly done: Promise<number>;
  readonly offThread = true;
  readonly #progress: Float64Array;
  readonly #startedAt = performance.now();

  constructor(shared: SharedArrayBuffer, done: Promise<number>, stop: AbortSignal) {
    this.#progress = new Float64Array(shared, 0, 2);
    this.done = done;
    const flag = new Int32Array(shared);
    stop.addEventListener("abort", () => Atomics.store(flag, STOP_FLAG, 1), { once: true });
  }

  get bytes(): number {
    return this.#progress[0];
  }

  get lastProgress(): number {
    const at = this.#progress[1];
    return at > 0 ? performance.now() - (Date.now() - at) : this.#startedAt;
  }
}

/** One upload thread and the uploads it runs. */
class PumpThread {
  readonly #worker: Worker;
  readonly #running = new Map<number, PromiseWithResolvers<number>>();
  readonly #onFailure: (message: string) => void;
  #nextId = 0;
  /** Settles once the thread can take uploads, or has ended. */
  readonly #readiness = Promise.withResolvers<void>();
  #ready = false;
  /** Whether the thread has ended (it failed, or was closed once idle). */
  #ended = false;
  #closing = false;

  /** Starts the thread; throws where a worker cannot be made at all. */
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

  /** Resolves once it can take uploads, or has ended. */
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

  /** Hands it an upload, with copies of the two descriptors; `stop` ends it early. */
  receive(
    socket: number,
    file: number,
    offset: number,
    options: UploadOptions,
    stop: AbortSignal,
  ): RunningUpload {
    using copies = new DisposableStack();
    const job: PumpJob = {
      id: ++this.#nextId,
      socket: copies.use(duplicate(socket)).fd,
      file: copies.use(duplicate(file)).fd,
      offset,
      ...options,
      progress: new SharedArrayBuffer(SHARED_BYTES),
    };
    const waiter = Promise.withResolvers<number>();
    this.#worker.postMessage(job);
    // The copies are the thread's now: it closes them when the upload ends.
    copies.move();
    this.#running.set(job.id, waiter);
    return new ThreadUpload(job.progress, waiter.promise, stop);
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

  /**
   * The thread itself failed (it could not start, or a bug): its uploads fail and
   * it is stopped at once (the descriptor copies it held stay open: a stopped
   * thread cannot close them, and closing them here could free numbers a call
   * of its still uses); later uploads go elsewhere.
   */
  #fail(message: string): void {
    if (this.#ended) return;
    this.#onFailure(`${threadFailed(message)}; its uploads are run elsewhere from now on`);
    const error = new LocalFileError("writing", new Error(threadFailed(message)));
    for (const waiter of this.#running.values()) waiter.reject(error);
    this.#running.clear();
    this.#end();
    this.#worker.terminate();
  }

  /** Closing and idle: the thread closes its reactor and ends itself. */
  #endIfIdle(): void {
    if (!this.#closing || this.#running.size > 0 || this.#ended) return;
    this.#end();
    this.#worker.postMessage({ close: true } satisfies PumpClose);
  }

  #end(): void {
    this.#ended = true;
    this.#readiness.resolve();
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
   * UploadPumps}) or no thread can take it (none started yet, or closed); its
   * `offThread` says which. `stop` ends an upload on a thread at its next step,
   * as closing the socket ends one here (what came is written; `done` then
   * rejects with `BadResource`); the caller also shuts the socket down, to wake
   * it. The descriptors stay the caller's: a thread works on copies of its own.
   *
   * @ignore
   */
  receive(
    socket: number,
    file: number,
    offset: number,
    options: UploadOptions,
    here: () => RunningUpload,
    stop: AbortSignal,
  ): RunningUpload {
    const thread = this.#leastBusy();
    if (thread && !this.#runsHere(thread, file, options.step)) {
      return thread.receive(socket, file, offset, options, stop);
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

  /** Whether the main thread takes the next upload rather than `thread`, the least busy one. */
  #runsHere(thread: PumpThread, file: number, step: number): boolean {
    return this.#mainThreadShare && this.#here <= thread.load && onLocalDisk(file) &&
      mayWriteNow(step);
  }

  /** The threads, or none where a worker cannot be made (said once). */
  #startThreads(): PumpThread[] {
    const threads: PumpThread[] = [];
    try {
      while (threads.length < this.#count) threads.push(new PumpThread(this.#onFailure));
      return threads;
    } catch (error) {
      for (const thread of threads) thread.close();
      this.#onFailure(`no upload thread can start, uploads run on the main thread: ${error}`);
      return [];
    }
  }

  /** The usable thread that runs fewest uploads; starts the threads at the first call. */
  #leastBusy(): PumpThread | null {
    if (this.#closed || this.#count === 0) return null;
    this.#threads ??= this.#startThreads();
    let best: PumpThread | null = null;
    for (const thread of this.#threads) {
      if (thread.usable && (!best || thread.load < best.load)) best = thread;
    }
    return best;
  }
}

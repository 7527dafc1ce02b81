/**
 * {@linkcode FilesystemThreads}: filesystems that run on threads of their own, so
 * that one that blocks (a slow network mount, a synchronous call, CPU-heavy work)
 * stalls only its own sessions, never the server: pyftplib's threaded model, the
 * Deno way.
 *
 * @module
 */

import { pathToFileURL } from "node:url";
import type { SessionInfo } from "../session_info.ts";
import type { FilesystemFactory } from "../settings.ts";
import type {
  DirEntry,
  FileReader,
  FileStat,
  FileSystem,
  FileWriter,
  RenameOptions,
  WriteMode,
} from "./filesystem.ts";
import {
  type PlainMethod,
  reviveError,
  type ThreadAnswer,
  type ThreadRequest,
} from "./threads_protocol.ts";

/** Options of {@linkcode FilesystemThreads}. */
export interface FilesystemThreadsOptions {
  /** How many threads (default: one per core); each started when first needed. */
  threads?: number;
}

/** Entries asked of a thread at a time while listing. */
const LIST_BATCH = 256;

type Request = ThreadRequest extends infer R ? R extends { id: number } ? R : never : never;
type Unnumbered<R> = R extends unknown ? Omit<R, "id"> : never;

/** One thread and the requests it has not answered yet. */
class FsThread {
  readonly #worker: Worker;
  readonly #pending = new Map<number, PromiseWithResolvers<unknown>>();
  #nextId = 0;

  constructor(module: string) {
    this.#worker = new Worker(new URL("./threads_worker.ts", import.meta.url).href, {
      type: "module",
    });
    this.#worker.onmessage = ({ data }: MessageEvent<ThreadAnswer>) => {
      const waiter = this.#pending.get(data.id);
      this.#pending.delete(data.id);
      if ("error" in data) waiter?.reject(reviveError(data.error));
      else waiter?.resolve(data.result);
    };
    this.#worker.onerror = (event) => {
      event.preventDefault();
      this.#fail(new Error(`a filesystem thread failed: ${event.message}`));
    };
    this.post({ op: "start", module });
  }

  /** Requests not answered yet: a thread busy (or stuck) has some. */
  get pending(): number {
    return this.#pending.size;
  }

  /** Sends a request that has no answer. */
  post(request: ThreadRequest): void {
    this.#worker.postMessage(request);
  }

  /** Sends `request` and resolves to its answer (rejects with the error the thread threw). */
  call<T>(request: Unnumbered<Request>, transfer: Transferable[] = []): Promise<T> {
    const id = ++this.#nextId;
    const waiter = Promise.withResolvers<unknown>();
    this.#pending.set(id, waiter);
    this.#worker.postMessage({ ...request, id }, transfer);
    return waiter.promise as Promise<T>;
  }

  #fail(error: Error): void {
    for (const waiter of this.#pending.values()) waiter.reject(error);
    this.#pending.clear();
  }

  terminate(): void {
    this.#worker.terminate();
    this.#fail(new Error("the filesystem threads were closed"));
  }
}

/** Drops a session's filesystem in its thread once the session has let go of it. */
const dropped = new FinalizationRegistry<{ thread: FsThread; session: number }>(
  ({ thread, session }) => thread.post({ op: "drop", session }),
);

let nextSession = 0;

/**
 * A pool of threads (Web Workers) that run filesystems: the module given makes
 * them, with its default export, a `FilesystemFactory` (`(home, session) =>
 * FileSystem`); it runs in each thread, so it is imported there, not passed. Each
 * session's filesystem lives in the thread with the fewest requests waiting when
 * it logs in. The server sees {@linkcode factory}; close the pool after the
 * server.
 *
 * ```ts ignore
 * import { DummyAuthorizer, FilesystemThreads, FTPServer } from "./mod.ts";
 *
 * // slow_fs.ts: export default (home, session) => new AbstractedFS(home, session);
 * using threads = new FilesystemThreads(new URL("./slow_fs.ts", import.meta.url));
 * const authorizer = new DummyAuthorizer();
 * authorizer.addAnonymous("/mnt/slow");
 * await using server = new FTPServer({ port: 2121, authorizer, abstractedFs: threads.factory });
 * await server.serve();
 * ```
 *
 * What crosses between the threads is copied: the session the factory is given
 * is a snapshot taken at login, and a filesystem's own `formatList` and
 * `formatMlsx` stay in its thread (listings use the default formats). Files are
 * streamed, never sent with `sendfile(2)`.
 */
export class FilesystemThreads implements Disposable {
  /** The factory to pass as the server's `abstractedFs`. */
  readonly factory: FilesystemFactory;
  readonly #module: string;
  readonly #size: number;
  readonly #threads: FsThread[] = [];
  #turn = 0;

  /** A pool running the filesystems `module` (a URL, or an absolute path) makes. */
  constructor(module: string | URL, options: FilesystemThreadsOptions = {}) {
    this.#module = module instanceof URL || /^[a-z][a-z0-9+.-]*:/i.test(module)
      ? String(module)
      : pathToFileURL(module).href;
    this.#size = Math.max(1, options.threads ?? navigator.hardwareConcurrency ?? 1);
    this.factory = (root, session) => new ThreadedFileSystem(this.#pick(), root, session);
  }

  /** The thread for a new session: a new one while the pool is not full, else the least busy. */
  #pick(): FsThread {
    if (this.#threads.length < this.#size) {
      const thread = new FsThread(this.#module);
      this.#threads.push(thread);
      return thread;
    }
    const least = Math.min(...this.#threads.map((thread) => thread.pending));
    const candidates = this.#threads.filter((thread) => thread.pending === least);
    return candidates[this.#turn++ % candidates.length];
  }

  /** Ends every thread; the filesystems made are unusable from then on. */
  close(): void {
    for (const thread of this.#threads) thread.terminate();
    this.#threads.length = 0;
  }

  /** The same as {@linkcode close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/** A session's filesystem, seen from the server's thread: each call runs in its thread. */
class ThreadedFileSystem implements FileSystem {
  readonly #thread: FsThread;
  readonly #session = ++nextSession;

  constructor(thread: FsThread, root: string, session: SessionInfo) {
    this.#thread = thread;
    const info: SessionInfo = {
      remoteIp: session.remoteIp,
      remotePort: session.remotePort,
      localIp: session.localIp,
      localPort: session.localPort,
      username: session.username,
      authenticated: session.authenticated,
      tlsControl: session.tlsControl,
    };
    // Answered like any call; a factory that throws fails every call of the session.
    const opened = thread.call({ op: "open", session: this.#session, root, info });
    opened.catch(() => {});
    dropped.register(this, { thread, session: this.#session });
  }

  #call<T>(method: PlainMethod, ...args: unknown[]): Promise<T> {
    return this.#thread.call<T>({ op: "call", session: this.#session, method, args });
  }

  stat(path: string): Promise<FileStat> {
    return this.#call("stat", path);
  }
  lstat(path: string): Promise<FileStat> {
    return this.#call("lstat", path);
  }
  async *list(path: string): AsyncIterable<DirEntry> {
    const thread = this.#thread;
    const handle = await thread.call<number>({ op: "list", session: this.#session, path });
    try {
      while (true) {
        const batch = await thread.call<{ entries: DirEntry[]; done: boolean }>(
          { op: "next", handle, max: LIST_BATCH },
        );
        yield* batch.entries;
        if (batch.done) return;
      }
    } finally {
      thread.post({ op: "close", handle });
    }
  }
  async openRead(path: string, offset: number): Promise<FileReader> {
    const handle = await this.#thread.call<number>(
      { op: "openRead", session: this.#session, path, offset },
    );
    return new ThreadedFile(this.#thread, handle);
  }
  async openWrite(path: string, mode: WriteMode): Promise<FileWriter> {
    const handle = await this.#thread.call<number>(
      { op: "openWrite", session: this.#session, path, mode },
    );
    return new ThreadedFile(this.#thread, handle);
  }
  async mkstemp(dir: string, prefix: string): Promise<{ path: string; file: FileWriter }> {
    const { path, handle } = await this.#thread.call<{ path: string; handle: number }>(
      { op: "mkstemp", session: this.#session, dir, prefix },
    );
    return { path, file: new ThreadedFile(this.#thread, handle) };
  }
  mkdir(path: string): Promise<void> {
    return this.#call("mkdir", path);
  }
  rmdir(path: string): Promise<void> {
    return this.#call("rmdir", path);
  }
  remove(path: string): Promise<void> {
    return this.#call("remove", path);
  }
  rename(from: string, to: string, options?: RenameOptions): Promise<void> {
    return this.#call("rename", from, to, options);
  }
  chmod(path: string, mode: number): Promise<void> {
    return this.#call("chmod", path, mode);
  }
  utime(path: string, atime: Date, mtime: Date): Promise<void> {
    return this.#call("utime", path, atime, mtime);
  }
  readlink(path: string): Promise<string> {
    return this.#call("readlink", path);
  }
  sync(path: string): Promise<void> {
    return this.#call("sync", path);
  }

  async getUserByUid(uid: number): Promise<string> {
    return await this.#call<string>("getUserByUid", uid).catch(() => String(uid));
  }
  async getGroupByGid(gid: number): Promise<string> {
    return await this.#call<string>("getGroupByGid", gid).catch(() => String(gid));
  }
}

/** A file opened in a thread: a reader or a writer, whichever it was opened as. */
class ThreadedFile implements FileReader, FileWriter {
  readonly #thread: FsThread;
  readonly #handle: number;
  #closed = false;

  constructor(thread: FsThread, handle: number) {
    this.#thread = thread;
    this.#handle = handle;
  }

  async read(p: Uint8Array): Promise<number | null> {
    const bytes = await this.#thread.call<Uint8Array | null>(
      { op: "read", handle: this.#handle, size: p.byteLength },
    );
    if (bytes === null) return null;
    p.set(bytes);
    return bytes.byteLength;
  }

  write(p: Uint8Array): Promise<number> {
    // A copy, handed over: the caller may reuse `p` at once.
    const bytes = p.slice();
    return this.#thread.call<number>({ op: "write", handle: this.#handle, bytes }, [bytes.buffer]);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#thread.post({ op: "close", handle: this.#handle });
  }
}

/**
 * A thread of {@linkcode FilesystemThreads}: it imports the module it is told,
 * makes each session's filesystem with the module's default export, and runs the
 * calls sent to it. Loaded only through `new Worker` by `FilesystemThreads`.
 *
 * @module
 */

import type { FilesystemFactory } from "../settings.ts";
import type { DirEntry, FileReader, FileSystem, FileWriter } from "./filesystem.ts";
import { recordError, type ThreadAnswer, type ThreadRequest } from "./threads_protocol.ts";

/** What this module sees of its worker scope. */
interface WorkerScope {
  onmessage: ((event: MessageEvent<ThreadRequest>) => void) | null;
  postMessage(message: ThreadAnswer, transfer?: Transferable[]): void;
}

const scope = globalThis as unknown as WorkerScope;
let factory: Promise<FilesystemFactory>;
const sessions = new Map<number, Promise<FileSystem>>();
const readers = new Map<number, FileReader>();
const writers = new Map<number, FileWriter>();
const listings = new Map<number, AsyncIterator<DirEntry>>();
let nextHandle = 0;

async function session(id: number): Promise<FileSystem> {
  const fs = sessions.get(id);
  if (!fs) throw new Error(`no filesystem for session ${id}`);
  return await fs;
}

function handleOf<T>(table: Map<number, T>, value: T): number {
  table.set(++nextHandle, value);
  return nextHandle;
}

function found<T>(table: Map<number, T>, handle: number): T {
  const value = table.get(handle);
  if (value === undefined) throw new Error(`no open handle ${handle}`);
  return value;
}

/** Runs `request` and returns its result, with what to transfer rather than copy. */
async function run(request: ThreadRequest): Promise<[unknown, Transferable[]?]> {
  switch (request.op) {
    case "open": {
      const made = factory.then((make) => make(request.root, request.info));
      sessions.set(request.session, made);
      await made;
      return [null];
    }
    case "call": {
      const fs = await session(request.session);
      const method = fs[request.method] as ((...args: unknown[]) => Promise<unknown>) | undefined;
      // A storage without `sync` has nothing it could flush (FileSystem.sync).
      if (!method && request.method === "sync") return [null];
      if (!method) throw new Error(`the filesystem has no ${request.method}`);
      return [await method.apply(fs, request.args)];
    }
    case "list": {
      const fs = await session(request.session);
      return [handleOf(listings, fs.list(request.path)[Symbol.asyncIterator]())];
    }
    case "next": {
      const listing = found(listings, request.handle);
      const entries: DirEntry[] = [];
      while (entries.length < request.max) {
        const step = await listing.next();
        if (step.done) return [{ entries, done: true }];
        entries.push(step.value);
      }
      return [{ entries, done: false }];
    }
    case "openRead": {
      const fs = await session(request.session);
      return [handleOf(readers, await fs.openRead(request.path, request.offset))];
    }
    case "openWrite": {
      const fs = await session(request.session);
      return [handleOf(writers, await fs.openWrite(request.path, request.mode))];
    }
    case "mkstemp": {
      const fs = await session(request.session);
      const { path, file } = await fs.mkstemp(request.dir, request.prefix);
      return [{ path, handle: handleOf(writers, file) }];
    }
    case "read": {
      const bytes = new Uint8Array(request.size);
      const read = await found(readers, request.handle).read(bytes);
      return read === null ? [null] : [bytes.subarray(0, read), [bytes.buffer]];
    }
    case "write":
      return [await found(writers, request.handle).write(request.bytes)];
    default:
      throw new Error(`unknown request ${(request as { op: string }).op}`);
  }
}

/** Closes whatever `handle` is; a failure to close is the storage's to report, not the session's. */
function close(handle: number): void {
  const file = readers.get(handle) ?? writers.get(handle);
  readers.delete(handle);
  writers.delete(handle);
  const listing = listings.get(handle);
  listings.delete(handle);
  try {
    file?.close();
  } catch (error) {
    console.error(`tsftpd filesystem thread: closing a file failed: ${recordError(error).message}`);
  }
  void listing?.return?.();
}

scope.onmessage = async ({ data: request }) => {
  if (request.op === "start") {
    factory = import(request.module).then((module) => module.default as FilesystemFactory);
    return;
  }
  if (request.op === "drop") return void sessions.delete(request.session);
  // Closing runs at once, in order: a file closed is closed before the next request runs.
  if (request.op === "close") return close(request.handle);
  try {
    const [result, transfer] = await run(request);
    scope.postMessage({ id: request.id, result }, transfer);
  } catch (error) {
    scope.postMessage({ id: request.id, error: recordError(error) });
  }
};

/**
 * The process that serves one privilege-separated session's filesystem, started
 * by `PrivsepFS` as the session's system user: it runs the local disk
 * (`UnixFilesystem`, or `AbstractedFS` jailed in the home) and answers the
 * server's calls over stdin and stdout (`privsep_protocol.ts`) until stdin ends.
 *
 * Run as `privsep_child.ts '{"home": "/home/alice", "jail": false}'`, or, in a
 * compiled binary, as `tsftpd privsep-child '{...}'`.
 *
 * @module
 */

import { AbstractedFS } from "./abstracted_fs.ts";
import { FTPError } from "../errors.ts";
import { toFilesystemError } from "./errors.ts";
import type { DirEntry, FileReader, FileSystem, FileWriter, WriteMode } from "./filesystem.ts";
import { groupName, userName } from "./names.ts";
import {
  encodeFrame,
  FrameReader,
  KIND,
  MAX_CHUNK,
  toWireEntry,
  toWireStat,
  type WireEntry,
  type WireError,
} from "./privsep_protocol.ts";
import { writeAll } from "../transport.ts";
import { UnixFilesystem } from "./unix_fs.ts";

/** The most bytes of JSON a batch of directory entries holds. */
const BATCH_BYTES = 256 * 1024;

/** What the child was started for. */
export interface ChildConfig {
  /** The user's home, a real path. */
  readonly home: string;
  /** Jail the user in the home (`AbstractedFS`) rather than show the whole disk. */
  readonly jail: boolean;
}

/** A call's arguments were not what the server sends: a bug on one side. */
class BadCall extends Error {
  override name = "BadCall";
}

function text(value: unknown): string {
  if (typeof value !== "string") throw new BadCall("a string was expected");
  return value;
}

function count(value: unknown): number {
  if (!Number.isSafeInteger(value) || (value as number) < 0) {
    throw new BadCall("a whole number was expected");
  }
  return value as number;
}

function writeMode(value: unknown): WriteMode {
  const mode = value as Record<string, unknown> | null;
  if (mode?.truncate === true) return { truncate: true };
  if (mode?.append === true) return { append: true };
  if (mode && "offset" in mode) return { offset: count(mode.offset) };
  throw new BadCall("a write mode was expected");
}

/** The open files and listings of a session, by handle. */
class Handles {
  readonly #open = new Map<number, FileReader | FileWriter | AsyncIterator<DirEntry>>();
  #next = 1;

  add(item: FileReader | FileWriter | AsyncIterator<DirEntry>): number {
    const handle = this.#next++;
    this.#open.set(handle, item);
    return handle;
  }

  get<T>(handle: unknown, kind: (item: unknown) => item is T): T {
    const item = this.#open.get(count(handle));
    if (!kind(item)) throw new BadCall("no such handle");
    return item;
  }

  async close(handle: unknown): Promise<void> {
    const item = this.#open.get(count(handle));
    this.#open.delete(count(handle));
    if (isListing(item)) await item.return?.();
    else item?.close();
  }

  async closeAll(): Promise<void> {
    for (const handle of [...this.#open.keys()]) await this.close(handle);
  }
}

function isListing(item: unknown): item is AsyncIterator<DirEntry> {
  return typeof (item as AsyncIterator<DirEntry>)?.next === "function";
}

function isFile(item: unknown): item is FileReader & FileWriter {
  return typeof (item as FileReader)?.close === "function" && !isListing(item);
}

/** The next entries of a listing, up to {@linkcode BATCH_BYTES} of them; `done` once it ended. */
async function batch(listing: AsyncIterator<DirEntry>): Promise<[WireEntry[], boolean]> {
  const entries: WireEntry[] = [];
  let bytes = 0;
  while (bytes < BATCH_BYTES) {
    const next = await listing.next();
    if (next.done) return [entries, true];
    const entry = toWireEntry(next.value);
    entries.push(entry);
    bytes += entry.name.length + (entry.linkTarget?.length ?? 0) + 256;
  }
  return [entries, false];
}

/** A call's answer: its JSON result, and bytes for a read. */
type Answer = { value?: unknown; bytes?: Uint8Array };

/** One operation: the call's arguments, and its bytes (a write's chunk). */
type Operation = (args: unknown[], bytes: Uint8Array) => Promise<Answer>;

/** The operations the server may call, on `fs`. */
function operations(fs: FileSystem, handles: Handles): Record<string, Operation> {
  const done = (): Answer => ({});
  const result = (value: unknown): Answer => ({ value });
  return {
    stat: async ([path]) => result(toWireStat(await fs.stat(text(path)))),
    lstat: async ([path]) => result(toWireStat(await fs.lstat(text(path)))),
    list: async ([path]) => {
      const listing = fs.list(text(path))[Symbol.asyncIterator]();
      const [entries, ended] = await batch(listing);
      return result({ entries, handle: ended ? null : handles.add(listing) });
    },
    listNext: async ([handle]) => {
      const [entries, ended] = await batch(handles.get(handle, isListing));
      if (ended) await handles.close(handle);
      return result({ entries, handle: ended ? null : handle });
    },
    openRead: async ([path, offset]) =>
      result(handles.add(await fs.openRead(text(path), count(offset)))),
    read: async ([handle, size]) => {
      const buffer = new Uint8Array(Math.min(count(size), MAX_CHUNK));
      const n = await handles.get(handle, isFile).read(buffer);
      return n === null ? result(null) : { value: n, bytes: buffer.subarray(0, n) };
    },
    openWrite: async ([path, mode]) =>
      result(handles.add(await fs.openWrite(text(path), writeMode(mode)))),
    write: async ([handle], bytes) => {
      await writeAll(handles.get(handle, isFile), bytes);
      return result(bytes.byteLength);
    },
    mkstemp: async ([dir, prefix]) => {
      const { path, file } = await fs.mkstemp(text(dir), text(prefix));
      return result({ path, handle: handles.add(file) });
    },
    close: async ([handle]) => (await handles.close(handle), done()),
    mkdir: async ([path]) => (await fs.mkdir(text(path)), done()),
    rmdir: async ([path]) => (await fs.rmdir(text(path)), done()),
    remove: async ([path]) => (await fs.remove(text(path)), done()),
    rename: async ([from, to, replace]) => {
      await fs.rename(text(from), text(to), { replace: replace !== false });
      return done();
    },
    chmod: async ([path, mode]) => (await fs.chmod(text(path), count(mode)), done()),
    utime: async ([path, atime, mtime]) => {
      await fs.utime(text(path), new Date(count(atime)), new Date(count(mtime)));
      return done();
    },
    readlink: async ([path]) => result(await fs.readlink!(text(path))),
    sync: async ([path]) => (await fs.sync?.(text(path)), done()),
    userName: async ([uid]) => result(await userName(count(uid))),
    groupName: async ([gid]) => result(await groupName(count(gid))),
  };
}

/** A failure as the server hears of it: a refusal's reply, or a bug's message. */
function wireError(error: unknown): WireError {
  // The system's own refusals (a directory the user may not list) keep their FTP reply.
  const known = toFilesystemError(error);
  if (known instanceof FTPError) return { code: known.code, message: known.message };
  return { message: error instanceof Error ? error.stack ?? error.message : String(error) };
}

/**
 * Answers the calls read from `input` on `fs`, writing the answers to `output`,
 * until `input` ends; then closes what is still open.
 */
export async function serve(
  fs: FileSystem,
  input: ReadableStream<Uint8Array>,
  output: { write(p: Uint8Array): Promise<number> },
): Promise<void> {
  const handles = new Handles();
  const ops = operations(fs, handles);
  const frames = new FrameReader(input);
  let sending = Promise.resolve();
  const send = (frame: Uint8Array) => sending = sending.then(() => writeAll(output, frame));
  const running = new Set<Promise<void>>();
  for (let frame; (frame = await frames.next()) !== null;) {
    const { id, value, bytes } = frame;
    const call = async () => {
      try {
        if (frame.kind !== KIND.CALL || !Array.isArray(value)) throw new BadCall("not a call");
        const [name, ...args] = value;
        const op = Object.hasOwn(ops, name) ? ops[name] : undefined;
        if (!op) throw new BadCall(`no such operation ${JSON.stringify(name)}`);
        const answer = await op(args, bytes);
        await send(encodeFrame(KIND.OK, id, answer.value, answer.bytes));
      } catch (error) {
        await send(encodeFrame(KIND.FAIL, id, wireError(error)));
      }
    };
    const task = call();
    running.add(task);
    task.finally(() => running.delete(task));
  }
  await Promise.all(running);
  await handles.closeAll();
  await sending;
}

/** The filesystem `config` asks for. */
export function childFilesystem(config: ChildConfig): FileSystem {
  return config.jail ? new AbstractedFS(config.home) : new UnixFilesystem(config.home);
}

/**
 * The argument a compiled `tsftpd` binary is started with to be this process
 * (`tsftpd privsep-child CONFIG`): the binary cannot run this module by name.
 */
export const PRIVSEP_CHILD_COMMAND = "privsep-child";

/** Serves the filesystem that `argument` (a {@linkcode ChildConfig} as JSON) describes over stdin and stdout until stdin ends. */
export async function runChild(argument: string): Promise<void> {
  const config = JSON.parse(argument) as ChildConfig;
  await serve(childFilesystem(config), Deno.stdin.readable, Deno.stdout);
}

if (import.meta.main) await runChild(Deno.args[0]);

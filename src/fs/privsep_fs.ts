/**
 * {@linkcode PrivsepFS}: a session's filesystem served by a process of its own,
 * running as the session's system user (privilege separation, as vsftpd and
 * pure-ftpd do it): the kernel decides every access with that user's uid, gid and
 * supplementary groups, while the server keeps its sockets and its identity.
 *
 * @module
 */

import { PRIVSEP_CHILD_COMMAND } from "./privsep_child.ts";
import { posix } from "node:path";
import { FilesystemError } from "./errors.ts";
import type {
  DirEntry,
  FileReader,
  FileStat,
  FileSystem,
  FileType,
  FileWriter,
  RenameOptions,
  WriteMode,
} from "./filesystem.ts";
import { groupName, userName } from "./names.ts";
import {
  encodeFrame,
  type Frame,
  FrameReader,
  KIND,
  MAX_CHUNK,
  ProtocolError,
  type WireEntry,
  type WireError,
  type WireStat,
} from "./privsep_protocol.ts";
import { ftpNorm } from "./virtual_path.ts";

/** Who the process runs as, and what it shows. */
export interface PrivsepAccount {
  /** The login name (for `--init-groups`, the environment and messages). */
  readonly name: string;
  /** The user id the process runs with. */
  readonly uid: number;
  /** The primary group id. */
  readonly gid: number;
  /** The home directory, a real path. */
  readonly home: string;
}

/** Options of {@linkcode PrivsepFS.start}. */
export interface PrivsepOptions {
  /** Jail the user in the home (an `AbstractedFS`) rather than show the whole disk from `/` (default false). */
  jail?: boolean;
  /** Hears, once, that the process ended while the session still needed it, and why. */
  onExit?: (message: string) => void;
}

/** How long a process may take to end once its session closed its stdin. */
const EXIT_GRACE_MS = 5_000;
/** The bytes of the process's stderr kept for the log. */
const STDERR_TAIL = 4096;

const FILE_TYPES: readonly FileType[] = [
  "file",
  "dir",
  "symlink",
  "fifo",
  "socket",
  "char-device",
  "block-device",
];

/** What a session hears once its process is gone. */
function gone(): FilesystemError {
  return new FilesystemError(
    "Service not available: the session's file access ended.",
    421,
    { log: "warning" },
  );
}

/** `value` if it is a number; otherwise the child broke the protocol. */
function numberOf(value: unknown): number {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new ProtocolError("a number was expected");
  }
  return value;
}

function numberOrNull(value: unknown): number | null {
  return value === null ? null : numberOf(value);
}

function stringOf(value: unknown): string {
  if (typeof value !== "string") throw new ProtocolError("a string was expected");
  return value;
}

/** A stat from the child, checked field by field: the child runs as the user, and is not trusted. */
function fromWireStat(value: unknown): FileStat {
  const stat = value as WireStat | null;
  if (typeof stat !== "object" || stat === null || !FILE_TYPES.includes(stat.type)) {
    throw new ProtocolError("a stat was expected");
  }
  const mtime = numberOrNull(stat.mtime);
  const atime = numberOrNull(stat.atime);
  return {
    type: stat.type,
    size: numberOf(stat.size),
    mtime: mtime === null ? null : new Date(mtime),
    atime: atime === null ? null : new Date(atime),
    mode: numberOrNull(stat.mode),
    nlink: numberOf(stat.nlink),
    uid: numberOrNull(stat.uid),
    gid: numberOrNull(stat.gid),
    unique: stat.unique === null ? null : stringOf(stat.unique),
  };
}

function fromWireEntry(value: unknown): DirEntry {
  const entry = value as WireEntry | null;
  if (typeof entry !== "object" || entry === null) throw new ProtocolError("an entry was expected");
  return {
    name: stringOf(entry.name),
    stat: entry.stat === null ? null : fromWireStat(entry.stat),
    ...(entry.linkTarget !== undefined && { linkTarget: stringOf(entry.linkTarget) }),
  };
}

/** A batch of a listing: its entries, and the handle to ask for more (`null`: it ended). */
function fromWireBatch(value: unknown): { entries: DirEntry[]; handle: number | null } {
  const batch = value as { entries?: unknown; handle?: unknown } | null;
  if (!Array.isArray(batch?.entries)) throw new ProtocolError("a batch of entries was expected");
  return { entries: batch.entries.map(fromWireEntry), handle: numberOrNull(batch.handle) };
}

/** The error a `FAIL` frame stands for: a refusal with its reply, or a bug of the child's. */
function fromWireError(value: unknown): Error {
  const error = value as WireError | null;
  const message = typeof error?.message === "string" ? error.message : "unknown failure";
  const code = error?.code;
  if (typeof code === "number" && Number.isInteger(code) && code >= 400 && code < 600) {
    return new FilesystemError(message, code);
  }
  return new Error(`the session's file process failed: ${message}`);
}

/** The argument list of the process that serves `account`. */
function childCommand(account: PrivsepAccount, jail: boolean): string[] {
  const child = new URL("./privsep_child.ts", import.meta.url).href;
  // The kernel's jail (openat2 with /proc/self/fd) needs --allow-all in Deno 2.9.
  const permissions = jail ? ["--allow-all"] : ["--allow-read", "--allow-write"];
  return [
    // setpriv sets the supplementary groups (initgroups), which Deno.Command's
    // uid/gid would drop, and the process can never gain privileges again.
    `--reuid=${account.uid}`,
    `--regid=${account.gid}`,
    "--init-groups",
    "--no-new-privs",
    "--pdeathsig=KILL",
    "--",
    Deno.execPath(),
    // A compiled binary is its own runtime and carries the child's code (and its permissions).
    ...(Deno.build.standalone
      ? [PRIVSEP_CHILD_COMMAND]
      : ["run", "--no-config", "--no-lock", "--no-prompt", ...permissions, child]),
    JSON.stringify({ home: account.home, jail }),
  ];
}

/**
 * The filesystem of one session, every operation a call to a process started as
 * the session's user with `setpriv(1)` (uid, gid, supplementary groups, no new
 * privileges) and served by `privsep_child.ts`: `UnixFilesystem` (the whole disk,
 * starting in the home) or, with `jail`, `AbstractedFS` jailed in the home. Reads
 * and writes move a chunk per call, asked for one at a time. Its readers offer no
 * descriptor, so downloads are streamed rather than sent with `sendfile(2)`.
 *
 * If the process ends while the session runs, every call fails with 421 (the
 * session closes) and `onExit` hears why; {@linkcode PrivsepFS.close} ends it.
 */
export class PrivsepFS implements FileSystem, AsyncDisposable {
  /** The virtual directory the session starts in: the home, unless jailed. */
  readonly startDirectory: string;
  /** The process's id. */
  readonly pid: number;
  readonly #home: string;
  readonly #jail: boolean;
  readonly #child: Deno.ChildProcess;
  readonly #input: WritableStreamDefaultWriter<Uint8Array>;
  readonly #frames: FrameReader;
  readonly #pending = new Map<
    number,
    { resolve(frame: Frame): void; reject(error: Error): void }
  >();
  readonly #done: Promise<void>;
  #onExit?: (message: string) => void;
  #nextId = 1;
  #stderr = "";
  #ended = false;
  #closing: Promise<void> | null = null;

  private constructor(account: PrivsepAccount, options: PrivsepOptions) {
    this.#home = account.home;
    this.#jail = options.jail ?? false;
    this.startDirectory = this.#jail ? "/" : ftpNorm("/", account.home);
    this.#child = new Deno.Command("setpriv", {
      args: childCommand(account, this.#jail),
      clearEnv: true,
      env: {
        HOME: account.home,
        USER: account.name,
        LOGNAME: account.name,
        PATH: "/usr/bin:/bin",
        // Nothing cached (a cache the user could write would be read by later
        // sessions): a directory nobody can create, root included.
        DENO_DIR: "/dev/null/deno",
        DENO_NO_UPDATE_CHECK: "1",
        NO_COLOR: "1",
      },
      cwd: "/",
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.pid = this.#child.pid;
    this.#input = this.#child.stdin.getWriter();
    this.#frames = new FrameReader(this.#child.stdout);
    this.#done = Promise.all([this.#readAnswers(), this.#readStderr(), this.#watchExit()])
      .then(() => {});
  }

  /**
   * Starts the process serving `account`'s session and waits until it answers;
   * throws (with the process's own words) when it cannot start.
   */
  static async start(account: PrivsepAccount, options: PrivsepOptions = {}): Promise<PrivsepFS> {
    const fs = new PrivsepFS(account, options);
    try {
      await fs.stat("/");
    } catch (error) {
      const reason = fs.#stderr.trim() || (error as Error).message;
      await fs.close();
      throw new Error(`the file process of ${account.name} did not start: ${reason}`);
    }
    // Only a process that started is said to have ended.
    fs.#onExit = options.onExit;
    return fs;
  }

  // --- The pipe -------------------------------------------------------------------------

  async #readAnswers(): Promise<void> {
    try {
      for (let frame; (frame = await this.#frames.next()) !== null;) {
        const waiter = this.#pending.get(frame.id);
        if (!waiter || (frame.kind !== KIND.OK && frame.kind !== KIND.FAIL)) {
          throw new ProtocolError(`an answer nobody asked for (${frame.kind}, ${frame.id})`);
        }
        this.#pending.delete(frame.id);
        if (frame.kind === KIND.OK) waiter.resolve(frame);
        else waiter.reject(fromWireError(frame.value));
      }
    } catch (error) {
      // A process that breaks the protocol is not trusted with the session any longer.
      this.#stderr += `\n${(error as Error).message}`;
      this.#kill();
    }
  }

  async #readStderr(): Promise<void> {
    const decoder = new TextDecoder();
    for await (const chunk of this.#child.stderr) {
      this.#stderr = (this.#stderr + decoder.decode(chunk, { stream: true })).slice(-STDERR_TAIL);
    }
  }

  async #watchExit(): Promise<void> {
    const status = await this.#child.status;
    const expected = this.#closing !== null;
    this.#ended = true;
    for (const waiter of this.#pending.values()) waiter.reject(gone());
    this.#pending.clear();
    await this.#frames.cancel();
    if (expected) return;
    const how = status.signal ? `killed by ${status.signal}` : `exited with status ${status.code}`;
    const said = this.#stderr.trim();
    this.#onExit?.(`the file process ${this.pid} ${how}${said ? `: ${said}` : ""}`);
  }

  #kill(): void {
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  }

  /** Sends a call and waits for its answer. */
  #call(args: unknown[], bytes?: Uint8Array): Promise<Frame> {
    if (this.#ended || this.#closing) return Promise.reject(gone());
    const id = this.#nextId++;
    const answer = new Promise<Frame>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
    });
    this.#input.write(encodeFrame(KIND.CALL, id, args, bytes)).catch(() => {
      // The process is gone: its exit rejects the call.
      this.#kill();
    });
    return answer;
  }

  async #value(args: unknown[]): Promise<unknown> {
    return (await this.#call(args)).value;
  }

  /** The file the process opened as `handle`. */
  #file(handle: unknown): RemoteFile {
    return new RemoteFile(
      numberOf(handle),
      (args, bytes) => this.#call(args, bytes),
      (handle) => this.#release(handle),
    );
  }

  /** Closes a handle without waiting (a reader's `close` is synchronous). */
  #release(handle: number): void {
    this.#call(["close", handle]).catch(() => {});
  }

  /**
   * Ends the process: its stdin is closed, so it closes what is open and exits;
   * killed if it has not within 5 s. Resolves once it has exited.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#input.close().catch(() => {});
      const timer = setTimeout(() => this.#kill(), EXIT_GRACE_MS);
      try {
        await this.#done;
      } finally {
        clearTimeout(timer);
      }
    })();
    return this.#closing;
  }

  /** Same as {@linkcode PrivsepFS.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // --- FileSystem -----------------------------------------------------------------------

  /** The real path of a virtual one: itself, or under the home when jailed. */
  ftp2fs(path: string): string {
    const normal = ftpNorm("/", path);
    if (!this.#jail) return normal;
    return normal === "/" ? this.#home : posix.join(this.#home, normal);
  }

  /** The facts of `path`, following symlinks. */
  async stat(path: string): Promise<FileStat> {
    return fromWireStat(await this.#value(["stat", path]));
  }

  /** The facts of `path`, not following a final symlink. */
  async lstat(path: string): Promise<FileStat> {
    return fromWireStat(await this.#value(["lstat", path]));
  }

  /** The entries of the directory `path`, a batch per call. */
  async *list(path: string): AsyncIterable<DirEntry> {
    let batch = fromWireBatch(await this.#value(["list", path]));
    try {
      while (true) {
        yield* batch.entries;
        if (batch.handle === null) return;
        batch = fromWireBatch(await this.#value(["listNext", batch.handle]));
      }
    } finally {
      if (batch.handle !== null) this.#release(batch.handle);
    }
  }

  /** Opens the regular file `path` for reading from byte `offset`. */
  async openRead(path: string, offset: number): Promise<FileReader> {
    return this.#file(await this.#value(["openRead", path, offset]));
  }

  /** Opens the regular file `path` for writing as `mode` says. */
  async openWrite(path: string, mode: WriteMode): Promise<FileWriter> {
    return this.#file(await this.#value(["openWrite", path, mode]));
  }

  /** Creates a file with a new name starting with `prefix` in the directory `dir`, open for writing. */
  async mkstemp(dir: string, prefix: string): Promise<{ path: string; file: FileWriter }> {
    const made = await this.#value(["mkstemp", dir, prefix]) as {
      path?: unknown;
      handle?: unknown;
    };
    return { path: ftpNorm("/", stringOf(made?.path)), file: this.#file(made?.handle) };
  }

  /** Creates the directory `path`. */
  async mkdir(path: string): Promise<void> {
    await this.#call(["mkdir", path]);
  }

  /** Removes the empty directory `path`. */
  async rmdir(path: string): Promise<void> {
    await this.#call(["rmdir", path]);
  }

  /** Removes the file or symlink `path`. */
  async remove(path: string): Promise<void> {
    await this.#call(["remove", path]);
  }

  /** Renames (moves) `from` to `to`. */
  async rename(from: string, to: string, { replace = true }: RenameOptions = {}): Promise<void> {
    await this.#call(["rename", from, to, replace]);
  }

  /** Sets the permission bits of `path`. */
  async chmod(path: string, mode: number): Promise<void> {
    await this.#call(["chmod", path, mode]);
  }

  /** Sets the access and modification times of `path`. */
  async utime(path: string, atime: Date, mtime: Date): Promise<void> {
    await this.#call(["utime", path, atime.getTime(), mtime.getTime()]);
  }

  /** The target of the symlink `path`. */
  async readlink(path: string): Promise<string> {
    return stringOf(await this.#value(["readlink", path]));
  }

  /** Flushes the file or directory `path` to the disk (`fsyncUploads`), in the child. */
  async sync(path: string): Promise<void> {
    await this.#call(["sync", path]);
  }

  /** The owner column of LIST: the system's user name of `uid` (read by the server). */
  getUserByUid(uid: number): Promise<string> {
    return userName(uid);
  }

  /** The group column of LIST: the system's group name of `gid` (read by the server). */
  getGroupByGid(gid: number): Promise<string> {
    return groupName(gid);
  }
}

/** Sends a call to the process and resolves to its answer. */
type Call = (args: unknown[], bytes?: Uint8Array) => Promise<Frame>;

/** A file open in the process, read or written a chunk per call. */
class RemoteFile implements FileReader, FileWriter {
  readonly #handle: number;
  readonly #call: Call;
  readonly #release: (handle: number) => void;
  /** The chunk being read ahead. */
  #ahead: Promise<Frame> | null = null;
  /** What is left of the last chunk read. */
  #left: Uint8Array = new Uint8Array(0);
  #closed = false;

  constructor(handle: number, call: Call, release: (handle: number) => void) {
    this.#handle = handle;
    this.#call = call;
    this.#release = release;
  }

  /**
   * Reads into `p`. The next chunk, of the same size, is asked for at once, so
   * that the process reads it while this one is sent: one chunk ahead, never more.
   */
  async read(p: Uint8Array): Promise<number | null> {
    if (this.#left.byteLength === 0) {
      const frame = await (this.#ahead ?? this.#ask(p.byteLength));
      this.#ahead = null;
      if (frame.value === null) return null;
      this.#left = frame.bytes;
      this.#ahead = this.#ask(p.byteLength);
      // Seen by the caller's read, or by close.
      this.#ahead.catch(() => {});
    }
    const n = Math.min(this.#left.byteLength, p.byteLength);
    p.set(this.#left.subarray(0, n));
    this.#left = this.#left.subarray(n);
    return n;
  }

  #ask(size: number): Promise<Frame> {
    return this.#call(["read", this.#handle, Math.max(1, Math.min(size, MAX_CHUNK))]);
  }

  /** Writes `p`, up to a frame's worth of it, and says how much once the process has. */
  async write(p: Uint8Array): Promise<number> {
    const chunk = p.subarray(0, MAX_CHUNK);
    await this.#call(["write", this.#handle], chunk);
    return chunk.byteLength;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#release(this.#handle);
  }
}

/**
 * The C library through FFI, on Linux: the system calls the runtime does not offer.
 * It is opened by `library.ts`, as `libcrypt.ts` is.
 *
 * Two kinds of call:
 *
 * - **Synchronous**, on the main thread: every call the kernel answers without
 *   waiting. `openat2` resolves a path from the kernel's caches; the socket calls
 *   act on descriptors made non-blocking (`SOCK_NONBLOCK`), so they answer
 *   `EAGAIN` rather than wait; `sendfile` from a file whose pages are in memory
 *   and `splice` from a pipe into a file the page cache takes at once (as
 *   `page_cache.ts` finds) are copies in memory. `errno` is thread-local, and
 *   only reliable right after a call made on the thread that reads it: that is
 *   why these calls are synchronous.
 * - **Non-blocking** (`nonblocking: true`: run on one of the runtime's worker
 *   threads, resolving a promise): `epoll_wait`, through which `reactor.ts`
 *   waits for every socket at once, and `sendfile` and `splice` whenever they
 *   could wait on the disk. Their `errno` cannot be read (it belongs to the
 *   worker thread); a failure is asked again synchronously.
 *
 * The calls that can say `EAGAIN` (`recv`, `send`, `sendfile`, `splice`,
 * `accept4`, `connect`, `shutdown`) return `-errno` instead of throwing, as the kernel does,
 * because they are the hot path of every transfer; the others throw a
 * {@linkcode SystemError}. Every length handed to the kernel is that of the
 * buffer handed with it, so no call can read or write past a buffer; offsets and
 * counts are checked to be integers in range. Constants are the generic Linux
 * values, the same on x86-64 and arm64 (the two systems the runtime ships for);
 * `struct epoll_event` is the one layout that differs (packed on x86-64).
 *
 * A descriptor is a {@linkcode Descriptor}, closed exactly once by `using`.
 *
 * @module
 */

import { linuxLibrary, type Symbols } from "./library.ts";

const SYMBOLS = {
  // `openat2` has no libc wrapper: `syscall(SYS_openat2, dirfd, path, &how, sizeof how)`.
  syscall: { parameters: ["i64", "i32", "buffer", "buffer", "usize"], result: "i64" },
  close: { parameters: ["i32"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  listen: { parameters: ["i32", "i32"], result: "i32" },
  accept4: { parameters: ["i32", "buffer", "buffer", "i32"], result: "i32" },
  connect: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getpeername: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  shutdown: { parameters: ["i32", "i32"], result: "i32" },
  recv: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  send: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  sendfile: { parameters: ["i32", "i32", "buffer", "usize"], result: "isize" },
  // The same call on a worker thread: from a file whose pages are not all in memory.
  sendfile_off_thread: {
    name: "sendfile",
    parameters: ["i32", "i32", "buffer", "usize"],
    result: "isize",
    nonblocking: true,
  },
  epoll_create1: { parameters: ["i32"], result: "i32" },
  epoll_ctl: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
  // The one call that waits: on a worker thread, so the event loop goes on.
  epoll_wait: {
    parameters: ["i32", "buffer", "i32", "i32"],
    result: "i32",
    nonblocking: true,
  },
  // The same call on the main thread, with a zero timeout: it never waits, and
  // its errno can be read.
  epoll_wait_now: {
    name: "epoll_wait",
    parameters: ["i32", "buffer", "i32", "i32"],
    result: "i32",
  },
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  pipe2: { parameters: ["buffer", "i32"], result: "i32" },
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
  splice: {
    parameters: ["i32", "buffer", "i32", "buffer", "usize", "u32"],
    result: "isize",
  },
  // The same call on a worker thread: from a pipe into a file, which can wait on the disk.
  splice_to_file: {
    name: "splice",
    parameters: ["i32", "buffer", "i32", "buffer", "usize", "u32"],
    result: "isize",
    nonblocking: true,
  },
  fstatfs: { parameters: ["i32", "buffer"], result: "i32" },
  getrusage: { parameters: ["i32", "buffer"], result: "i32" },
  mmap: { parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"], result: "pointer" },
  mincore: { parameters: ["pointer", "usize", "buffer"], result: "i32" },
  munmap: { parameters: ["pointer", "usize"], result: "i32" },
  getpagesize: { parameters: [], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** `openat2`'s number, the same in every Linux architecture's table (5.6+). */
const SYS_OPENAT2 = 437n;
/** `cachestat`'s number, the same in every architecture's table (6.5+). */
const SYS_CACHESTAT = 451n;
/** `fstat`'s number, which the two architectures number apart (x86-64 and arm64). */
const SYS_FSTAT = Deno.build.arch === "x86_64" ? 5n : 80n;

/** `open(2)` flags (the generic Linux values, x86-64 and arm64 alike). */
export const O = {
  RDONLY: 0,
  WRONLY: 0o1,
  CREAT: 0o100,
  EXCL: 0o200,
  NOCTTY: 0o400,
  NONBLOCK: 0o4000,
  DIRECTORY: 0o200000,
  NOFOLLOW: 0o400000,
  CLOEXEC: 0o2000000,
  PATH: 0o10000000,
} as const;

/** `openat2`'s `resolve` flags. */
export const RESOLVE = {
  /** Refuse magic links (`/proc/self/fd/N`) met while resolving. */
  NO_MAGICLINKS: 0x02,
  /** Refuse any resolution that leaves the directory, `..` and symlinks included (EXDEV). */
  BENEATH: 0x08,
} as const;

/** The descriptor that means "the current directory" to the `*at` calls. */
export const AT_FDCWD = -100;

/** Address families. */
export const AF = { INET: 2, INET6: 10 } as const;

/** The `errno` values the socket code acts on. */
export const E = {
  INTR: 4,
  IO: 5,
  AGAIN: 11,
  NFILE: 23,
  MFILE: 24,
  PIPE: 32,
  PROTO: 71,
  NOPROTOOPT: 92,
  ADDRINUSE: 98,
  ADDRNOTAVAIL: 99,
  NETDOWN: 100,
  NETUNREACH: 101,
  CONNABORTED: 103,
  CONNRESET: 104,
  NOTCONN: 107,
  TIMEDOUT: 110,
  CONNREFUSED: 111,
  HOSTUNREACH: 113,
  INPROGRESS: 115,
} as const;

/** Linux `errno` values and their names, as the runtime's errors carry them. */
const ERRNO_NAMES: Record<number, string> = {
  1: "EPERM",
  2: "ENOENT",
  4: "EINTR",
  5: "EIO",
  6: "ENXIO",
  9: "EBADF",
  11: "EAGAIN",
  12: "ENOMEM",
  13: "EACCES",
  14: "EFAULT",
  16: "EBUSY",
  17: "EEXIST",
  18: "EXDEV",
  20: "ENOTDIR",
  21: "EISDIR",
  22: "EINVAL",
  23: "ENFILE",
  24: "EMFILE",
  26: "ETXTBSY",
  27: "EFBIG",
  28: "ENOSPC",
  29: "ESPIPE",
  30: "EROFS",
  32: "EPIPE",
  36: "ENAMETOOLONG",
  38: "ENOSYS",
  39: "ENOTEMPTY",
  40: "ELOOP",
  71: "EPROTO",
  75: "EOVERFLOW",
  88: "ENOTSOCK",
  95: "EOPNOTSUPP",
  97: "EAFNOSUPPORT",
  98: "EADDRINUSE",
  99: "EADDRNOTAVAIL",
  100: "ENETDOWN",
  101: "ENETUNREACH",
  103: "ECONNABORTED",
  104: "ECONNRESET",
  105: "ENOBUFS",
  107: "ENOTCONN",
  110: "ETIMEDOUT",
  111: "ECONNREFUSED",
  113: "EHOSTUNREACH",
  115: "EINPROGRESS",
  122: "EDQUOT",
};

/** The name of `errno` (`"ENOENT"`), or `E<number>` for one without a name here. */
export function errnoName(errno: number): string {
  return ERRNO_NAMES[errno] ?? `E${errno}`;
}

/** A failed system call: `code` is the errno's name (`"ENOENT"`), as on the runtime's own errors. */
export class SystemError extends Error {
  /** Always `"SystemError"`. */
  override name = "SystemError";
  /** The errno's name, or `E<number>` for one without a name here. */
  readonly code: string;
  /** The errno's number. */
  readonly errno: number;
  /** The call that failed (`"openat2"`). */
  readonly call: string;

  /** The failure of `call` with `errno`. */
  constructor(call: string, errno: number) {
    const code = errnoName(errno);
    super(`${call}: ${code}`);
    this.code = code;
    this.errno = errno;
    this.call = call;
  }
}

type Library = Symbols<typeof SYMBOLS>;

/**
 * The C library, or `null` where it cannot be had: another system than Linux, or
 * FFI not granted. Opened once per process.
 */
export const libc: () => Library | null = linuxLibrary("libc.so.6", SYMBOLS);

function lib(): Library {
  const symbols = libc();
  if (symbols === null) throw new Error("the C library is not available");
  return symbols;
}

const encoder = new TextEncoder();

/** `text` as the NUL-terminated bytes a C call reads. */
function cString(text: string): Uint8Array<ArrayBuffer> {
  if (text.includes("\0")) throw new SystemError("path", 22);
  return encoder.encode(text + "\0");
}

/** The calling thread's `errno`, read right after the call that set it. */
function errno(): number {
  return new Deno.UnsafePointerView(lib().__errno_location()!).getInt32();
}

/** Throws the call's failure when `result` says it failed. */
function check(call: string, result: number | bigint): number {
  const value = Number(result);
  if (value < 0) throw new SystemError(call, errno());
  return value;
}

/** The call's result, or `-errno` when it failed: for the calls that say EAGAIN. */
function orErrno(result: number | bigint): number {
  const value = Number(result);
  return value < 0 ? -errno() : value;
}

/** Throws a programming error unless `value` is an integer from `min` to `max`. */
function checkRange(what: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${what} ${value} is not an integer from ${min} to ${max}`);
  }
}

/** A descriptor number: a non-negative `int`. */
function checkFd(fd: number): void {
  checkRange("descriptor", fd, 0, 0x7fffffff);
}

/** A descriptor this process owns, closed once when disposed. */
export class Descriptor implements Disposable {
  /** The descriptor's number. */
  readonly fd: number;
  #open = true;

  /** Takes ownership of `fd`. */
  constructor(fd: number) {
    checkFd(fd);
    this.fd = fd;
  }

  /** Whether it is still open (not yet disposed). */
  get open(): boolean {
    return this.#open;
  }

  /**
   * The path the runtime's own file APIs reach this very file by, whatever has been
   * renamed or swapped since it was opened (Linux's `/proc/self/fd`).
   */
  get path(): string {
    return `/proc/self/fd/${this.fd}`;
  }

  /** Closes the descriptor (once; later calls do nothing). */
  [Symbol.dispose](): void {
    if (!this.#open) return;
    this.#open = false;
    lib().close(this.fd);
  }
}

/**
 * `openat2(dir, path, {flags, mode, resolve})`: opens `path` relative to the
 * directory `dir` (a descriptor or {@linkcode AT_FDCWD}), with `O.CLOEXEC` added.
 */
export function openat2(
  dir: number,
  path: string,
  flags: number,
  resolve: number,
  mode = 0,
): Descriptor {
  const how = new BigUint64Array([BigInt(flags | O.CLOEXEC), BigInt(mode), BigInt(resolve)]);
  const fd = lib().syscall(
    SYS_OPENAT2,
    dir,
    cString(path),
    new Uint8Array(how.buffer),
    BigInt(how.byteLength),
  );
  return new Descriptor(check("openat2", fd));
}

// --- Sockets -----------------------------------------------------------------

const SOCK_STREAM = 1;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
/** `send` flag: a peer that has gone fails with EPIPE, never with a SIGPIPE. */
const MSG_NOSIGNAL = 0x4000;

/** Socket option levels and names. */
export const SOL = { SOCKET: 1, TCP: 6 } as const;
/** `SOL_SOCKET` options. */
export const SO = { REUSEADDR: 2, ERROR: 4 } as const;
/** `SOL_TCP` options. */
export const TCP = { NODELAY: 1, NOTSENT_LOWAT: 25 } as const;
/** `shutdown` directions. */
export const SHUT = { WR: 1, RDWR: 2 } as const;

/** The most bytes Linux moves in one `send`, `recv` or `sendfile` call. */
const MAX_IO = 0x7ffff000;

/** A non-blocking, close-on-exec TCP socket of family `family` ({@linkcode AF}). */
export function socket(family: number): Descriptor {
  const fd = lib().socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  return new Descriptor(check("socket", fd));
}

/** `bind(fd, address)`; `address` is a whole `sockaddr`. */
export function bind(fd: number, address: Uint8Array<ArrayBuffer>): void {
  checkFd(fd);
  check("bind", lib().bind(fd, address, address.byteLength));
}

/** `listen(fd, backlog)`. */
export function listen(fd: number, backlog: number): void {
  checkFd(fd);
  checkRange("backlog", backlog, 0, 65535);
  check("listen", lib().listen(fd, backlog));
}

/**
 * `accept4(fd, address, &length, SOCK_NONBLOCK | SOCK_CLOEXEC)`: the new
 * descriptor (the caller's to close), with the peer's `sockaddr` written into
 * `address` (truncated to its size), or `-errno`.
 */
export function accept4(fd: number, address: Uint8Array<ArrayBuffer>): number {
  checkFd(fd);
  const length = new Uint32Array([address.byteLength]);
  return orErrno(lib().accept4(fd, address, length, SOCK_NONBLOCK | SOCK_CLOEXEC));
}

/** `connect(fd, address)`: 0, or `-errno` (`-EINPROGRESS` on a non-blocking socket). */
export function connect(fd: number, address: Uint8Array<ArrayBuffer>): number {
  checkFd(fd);
  return orErrno(lib().connect(fd, address, address.byteLength));
}

/** The socket's own (`"sock"`) or its peer's (`"peer"`) `sockaddr`, written into `address`; its length. */
export function socketName(
  fd: number,
  which: "sock" | "peer",
  address: Uint8Array<ArrayBuffer>,
): number {
  checkFd(fd);
  const length = new Uint32Array([address.byteLength]);
  const call = which === "sock" ? lib().getsockname : lib().getpeername;
  check(`get${which}name`, call(fd, address, length));
  return Math.min(length[0], address.byteLength);
}

/** `setsockopt(fd, level, name, &value, sizeof(int))`. */
export function setIntOption(fd: number, level: number, name: number, value: number): void {
  checkFd(fd);
  const option = new Int32Array([value]);
  check("setsockopt", lib().setsockopt(fd, level, name, option, option.byteLength));
}

/** `getsockopt(fd, level, name)` of an `int` option. */
export function intOption(fd: number, level: number, name: number): number {
  checkFd(fd);
  const option = new Int32Array(1);
  const length = new Uint32Array([option.byteLength]);
  check("getsockopt", lib().getsockopt(fd, level, name, option, length));
  return option[0];
}

/** `shutdown(fd, how)`: 0 or `-errno`. */
export function shutdown(fd: number, how: number): number {
  checkFd(fd);
  return orErrno(lib().shutdown(fd, how));
}

/** `recv(fd, buffer, buffer.length, 0)`: bytes received (0 at the end of the stream), or `-errno`. */
export function recv(fd: number, buffer: Uint8Array): number {
  checkFd(fd);
  return orErrno(lib().recv(fd, buffer, BigInt(Math.min(buffer.byteLength, MAX_IO)), 0));
}

/** `send(fd, buffer, buffer.length, MSG_NOSIGNAL)`: bytes sent, or `-errno`. */
export function send(fd: number, buffer: Uint8Array): number {
  checkFd(fd);
  return orErrno(lib().send(fd, buffer, BigInt(Math.min(buffer.byteLength, MAX_IO)), MSG_NOSIGNAL));
}

/**
 * `sendfile(socket, file, &offset, count)`: bytes of `file` sent from `offset`
 * (0 at the end of the file), or `-errno`. The file's own position is left alone.
 * (A peer that has gone fails it with EPIPE: the runtime ignores SIGPIPE.)
 */
export function sendfile(socket: number, file: number, offset: number, count: number): number {
  checkFd(socket);
  checkFd(file);
  checkRange("offset", offset, 0, Number.MAX_SAFE_INTEGER);
  checkRange("count", count, 0, MAX_IO);
  sendfilePosition[0] = BigInt(offset);
  return orErrno(lib().sendfile(socket, file, sendfilePosition, BigInt(count)));
}

/** `sendfile`'s offset argument, reused: the call is synchronous, so no two share it at once. */
const sendfilePosition = new BigInt64Array(1);

/**
 * {@linkcode sendfile} on a worker thread, for a file whose pages may have to be
 * read from the disk first: resolves as `sendfile` returns. The socket must stay
 * open until it settles (its number could otherwise be another socket's by the
 * time the call runs).
 */
export async function sendfileOffThread(
  socket: number,
  file: number,
  offset: number,
  count: number,
): Promise<number> {
  checkFd(socket);
  checkFd(file);
  checkRange("offset", offset, 0, Number.MAX_SAFE_INTEGER);
  checkRange("count", count, 0, MAX_IO);
  const position = new BigInt64Array([BigInt(offset)]);
  const n = Number(await lib().sendfile_off_thread(socket, file, position, BigInt(count)));
  // The count is read from the offset the kernel moved, which also keeps its
  // buffer referenced until the call has returned. The worker thread's errno is
  // out of reach: a failure is asked again here, where the pages the failed
  // call read are in memory.
  return n >= 0 ? Number(position[0]) - offset : sendfile(socket, file, offset, count);
}

// --- Pipes and splice ---------------------------------------------------------

const F_SETPIPE_SZ = 1031;
const F_GETPIPE_SZ = 1032;
/** `splice` flags: move pages rather than copy them where it can; never wait. */
const SPLICE_F_MOVE = 1;
const SPLICE_F_NONBLOCK = 2;

/** A pipe's two ends, closed exactly once by `using`. */
export interface Pipe extends Disposable {
  /** The end that is read. */
  readonly reader: Descriptor;
  /** The end that is written. */
  readonly writer: Descriptor;
}

/** `pipe2(O_NONBLOCK | O_CLOEXEC)`: a pipe whose ends never wait. */
export function pipe(): Pipe {
  const ends = new Int32Array(2);
  check("pipe2", lib().pipe2(new Uint8Array(ends.buffer), O.NONBLOCK | O.CLOEXEC));
  const reader = new Descriptor(ends[0]);
  const writer = new Descriptor(ends[1]);
  return {
    reader,
    writer,
    [Symbol.dispose]() {
      reader[Symbol.dispose]();
      writer[Symbol.dispose]();
    },
  };
}

const F_DUPFD_CLOEXEC = 1030;

/**
 * A second descriptor of what `fd` refers to (`fcntl(F_DUPFD_CLOEXEC)`): the same
 * open file or socket, which stays open until both are closed.
 */
export function duplicate(fd: number): Descriptor {
  checkFd(fd);
  return new Descriptor(check("fcntl", lib().fcntl(fd, F_DUPFD_CLOEXEC, 0)));
}

/**
 * Asks for a pipe of `size` bytes (`F_SETPIPE_SZ`); resolves to the size it has,
 * which stays as it was when the system refuses (over `/proc/sys/fs/pipe-max-size`,
 * or the user's pipe pages spent).
 */
export function setPipeSize(fd: number, size: number): number {
  checkFd(fd);
  checkRange("pipe size", size, 1, 0x7fffffff);
  const result = lib().fcntl(fd, F_SETPIPE_SZ, size);
  return result >= 0 ? result : check("fcntl", lib().fcntl(fd, F_GETPIPE_SZ, 0));
}

/**
 * `splice(socket, NULL, pipe, NULL, count, MOVE | NONBLOCK)`: bytes moved from a
 * socket's receive queue into a pipe without a copy through this process (0 at
 * the end of the stream), or `-errno` (`-EAGAIN`: nothing to move yet).
 */
export function spliceFromSocket(socket: number, pipeWriter: number, count: number): number {
  checkFd(socket);
  checkFd(pipeWriter);
  checkRange("count", count, 1, MAX_IO);
  return orErrno(
    lib().splice(socket, null, pipeWriter, null, BigInt(count), SPLICE_F_MOVE | SPLICE_F_NONBLOCK),
  );
}

/**
 * `splice(pipe, NULL, file, &offset, count, MOVE)` on a worker thread (writing a
 * file can wait on the disk): bytes moved from the pipe into `file` at `offset`
 * (the file's own position is left alone), or `-errno`.
 */
export async function spliceToFile(
  pipeReader: number,
  file: number,
  offset: number,
  count: number,
): Promise<number> {
  checkSplice(pipeReader, file, offset, count);
  // A buffer of its own: other calls run while this one waits.
  const position = new BigInt64Array([BigInt(offset)]);
  const n = Number(
    await lib().splice_to_file(pipeReader, null, file, position, BigInt(count), SPLICE_F_MOVE),
  );
  // Read from the offset the kernel moved, which keeps its buffer referenced until the call returned.
  if (n >= 0) return Number(position[0]) - offset;
  // The worker thread's errno is out of reach: ask again here, where it can be read.
  return spliceToFileNow(pipeReader, file, offset, count);
}

/**
 * {@linkcode spliceToFile} on this thread, for a write the kernel will not make
 * wait (see `page_cache.ts`): bytes moved, or `-errno`.
 */
export function spliceToFileNow(
  pipeReader: number,
  file: number,
  offset: number,
  count: number,
): number {
  checkSplice(pipeReader, file, offset, count);
  splicePosition[0] = BigInt(offset);
  return orErrno(
    lib().splice(pipeReader, null, file, splicePosition, BigInt(count), SPLICE_F_MOVE),
  );
}

/** {@linkcode spliceToFileNow}'s offset argument, reused: the call is synchronous. */
const splicePosition = new BigInt64Array(1);

/** Checks the arguments of a splice from a pipe into a file. */
function checkSplice(pipeReader: number, file: number, offset: number, count: number): void {
  checkFd(pipeReader);
  checkFd(file);
  checkRange("offset", offset, 0, Number.MAX_SAFE_INTEGER);
  checkRange("count", count, 1, MAX_IO);
}

// --- Filesystems and memory ----------------------------------------------------

/**
 * `fstatfs(fd)`'s `f_type`: the magic number of the filesystem the open file is
 * on (`0xEF53` for ext2, ext3 and ext4).
 */
export function filesystemType(fd: number): number {
  checkFd(fd);
  check("fstatfs", lib().fstatfs(fd, statfsBytes));
  return Number(statfsView.getBigInt64(0, true));
}

/**
 * `fstatfs`'s `struct statfs`, reused (the call is synchronous): 120 bytes on
 * x86-64 and arm64, `f_type` its first word; the buffer is larger, so the call
 * cannot write past it.
 */
const statfsBytes = new Uint8Array(256);
const statfsView = new DataView(statfsBytes.buffer);

/**
 * `cachestat(fd, {offset, length}, &stat, 0)`'s `nr_cache`: how many pages of
 * that range of the open file are in memory; `null` where the kernel cannot say
 * (before 6.5: ENOSYS).
 */
export function cachedPages(fd: number, offset: number, length: number): number | null {
  checkFd(fd);
  checkRange("offset", offset, 0, Number.MAX_SAFE_INTEGER);
  checkRange("length", length, 1, Number.MAX_SAFE_INTEGER);
  cachestatRange[0] = BigInt(offset);
  cachestatRange[1] = BigInt(length);
  const result = lib().syscall(
    SYS_CACHESTAT,
    fd,
    cachestatRangeBytes,
    cachestatResultBytes,
    0n,
  );
  return result < 0 ? null : Number(cachestatBytes[0]);
}

/** `struct cachestat_range` and `struct cachestat`, reused (the call is synchronous). */
const cachestatRange = new BigUint64Array(2);
const cachestatBytes = new BigUint64Array(5);
const cachestatRangeBytes = new Uint8Array(cachestatRange.buffer);
const cachestatResultBytes = new Uint8Array(cachestatBytes.buffer);

/**
 * How many pages of that range of the open file are in memory, as `mincore(2)`
 * finds them in a read-only mapping of the range made for the call (and unmapped
 * after it); `null` where the file cannot be mapped. It sees what `cachestat`
 * cannot on a stacked filesystem (overlayfs maps the file beneath), for three
 * calls rather than one. `offset` is a multiple of {@linkcode pageSize}.
 */
export function residentPages(fd: number, offset: number, length: number): number | null {
  checkFd(fd);
  checkRange("offset", offset, 0, Number.MAX_SAFE_INTEGER);
  checkRange("length", length, 1, MAX_IO);
  const page = pageSize();
  if (offset % page !== 0) throw new RangeError(`offset ${offset} is not a multiple of ${page}`);
  const size = BigInt(length);
  const mapping = lib().mmap(null, size, PROT_READ, MAP_SHARED, fd, BigInt(offset));
  if (mapping === null || BigInt(Deno.UnsafePointer.value(mapping)) === MAP_FAILED) return null;
  try {
    const pages = new Uint8Array(Math.ceil(length / page));
    if (lib().mincore(mapping, size, pages) < 0) return null;
    // Bit 0 of each page's byte: in memory.
    return pages.reduce((count, bits) => count + (bits & 1), 0);
  } finally {
    lib().munmap(mapping, size);
  }
}

const PROT_READ = 1;
const MAP_SHARED = 1;
/** `mmap`'s failure, `(void *) -1`. */
const MAP_FAILED = 0xffff_ffff_ffff_ffffn;

/** `fstat(fd)`'s `st_size`: the open file's size in bytes. */
export function fileSize(fd: number): number {
  checkFd(fd);
  check("fstat", lib().syscall(SYS_FSTAT, fd, statBytes, null, 0n));
  return Number(statView.getBigInt64(STAT_SIZE_OFFSET, true));
}

/**
 * `struct stat`, reused (the call is synchronous): 144 bytes on x86-64, 128 on
 * arm64, `st_size` at byte 48 on both; the buffer is larger, so the call cannot
 * write past it.
 */
const statBytes = new Uint8Array(256);
const statView = new DataView(statBytes.buffer);
const STAT_SIZE_OFFSET = 48;

/**
 * `getrusage(RUSAGE_THREAD)`'s `ru_nvcsw`: how many times the calling thread has
 * given up its processor to wait (a sleep in a system call counts; being
 * preempted does not).
 */
export function voluntarySwitches(): number {
  check("getrusage", lib().getrusage(RUSAGE_THREAD, rusageBytes));
  return Number(rusageView.getBigInt64(RUSAGE_NVCSW_OFFSET, true));
}

const RUSAGE_THREAD = 1;
/**
 * `struct rusage`, reused (the call is synchronous): two `timeval`s then 14
 * `long`s, 144 bytes on x86-64 and arm64, `ru_nvcsw` the 13th `long`.
 */
const rusageBytes = new Uint8Array(144);
const rusageView = new DataView(rusageBytes.buffer);
const RUSAGE_NVCSW_OFFSET = 32 + 12 * 8;

/** The size of a memory page, in bytes (the unit of `/proc/vmstat`'s page counts). */
export function pageSize(): number {
  return page ??= lib().getpagesize();
}

let page: number | undefined;

// --- epoll and eventfd -------------------------------------------------------

/** `epoll` event bits and `epoll_ctl` operations. */
export const EPOLL = {
  IN: 0x001,
  OUT: 0x004,
  ERR: 0x008,
  HUP: 0x010,
  RDHUP: 0x2000,
  ONESHOT: 1 << 30,
  CTL_ADD: 1,
  CTL_DEL: 2,
  CTL_MOD: 3,
} as const;

/** `struct epoll_event`: `uint32_t events; uint64_t data`, packed on x86-64 only. */
const EVENT_SIZE = Deno.build.arch === "x86_64" ? 12 : 16;
const EVENT_DATA = Deno.build.arch === "x86_64" ? 4 : 8;

/** A buffer of `epoll_event`s that `epoll_wait` fills. */
export class EpollEvents {
  /** How many events it holds. */
  readonly capacity: number;
  /** The `epoll_event` array itself. */
  readonly bytes: Uint8Array<ArrayBuffer>;
  readonly #view: DataView;

  /** Room for `capacity` events. */
  constructor(capacity: number) {
    checkRange("capacity", capacity, 1, 4096);
    this.capacity = capacity;
    this.bytes = new Uint8Array(capacity * EVENT_SIZE);
    this.#view = new DataView(this.bytes.buffer);
  }

  /** The event bits of the `index`th event. */
  events(index: number): number {
    checkRange("event", index, 0, this.capacity - 1);
    return this.#view.getUint32(index * EVENT_SIZE, true);
  }

  /** The data of the `index`th event (what `epollCtl` registered). */
  data(index: number): number {
    checkRange("event", index, 0, this.capacity - 1);
    return Number(this.#view.getBigUint64(index * EVENT_SIZE + EVENT_DATA, true));
  }
}

/** A new close-on-exec epoll instance. */
export function epollCreate(): Descriptor {
  return new Descriptor(check("epoll_create1", lib().epoll_create1(O.CLOEXEC)));
}

/** `epoll_ctl(epoll, op, fd, {events, data})`; `data` comes back with each event of `fd`. */
export function epollCtl(epoll: number, op: number, fd: number, events: number, data: number) {
  checkFd(epoll);
  checkFd(fd);
  checkRange("data", data, 0, Number.MAX_SAFE_INTEGER);
  epollEvent.setUint32(0, events, true);
  epollEvent.setBigUint64(EVENT_DATA, BigInt(data), true);
  check("epoll_ctl", lib().epoll_ctl(epoll, op, fd, epollEventBytes));
}

/** `epoll_ctl`'s event argument, reused: the call is synchronous, so no two share it at once. */
const epollEventBytes = new Uint8Array(EVENT_SIZE);
const epollEvent = new DataView(epollEventBytes.buffer);

/**
 * `epoll_wait(epoll, events, capacity, -1)` on a worker thread: resolves to how
 * many events were written, or -1 on a failure whose errno cannot be known here
 * (ask {@linkcode epollWaitNow}). Never run two at once on one buffer.
 */
export async function epollWait(epoll: number, events: EpollEvents): Promise<number> {
  checkFd(epoll);
  return await lib().epoll_wait(epoll, events.bytes, events.capacity, -1);
}

/** `epoll_wait(epoll, events, capacity, 0)` on this thread: the events ready now; throws on failure. */
export function epollWaitNow(epoll: number, events: EpollEvents): number {
  checkFd(epoll);
  return check("epoll_wait", lib().epoll_wait_now(epoll, events.bytes, events.capacity, 0));
}

/** A new non-blocking, close-on-exec eventfd with its counter at 0. */
export function eventfd(): Descriptor {
  return new Descriptor(check("eventfd", lib().eventfd(0, O.NONBLOCK | O.CLOEXEC)));
}

/** Adds 1 to an eventfd's counter, which makes it readable. */
export function eventfdSignal(fd: number): void {
  checkFd(fd);
  const one = new BigUint64Array([1n]);
  check("write", lib().write(fd, one, BigInt(one.byteLength)));
}

/** Resets a non-blocking eventfd's counter to 0 (nothing happens if it already is). */
export function eventfdClear(fd: number): void {
  checkFd(fd);
  const counter = new BigUint64Array(1);
  const result = orErrno(lib().read(fd, counter, BigInt(counter.byteLength)));
  if (result < 0 && result !== -E.AGAIN) throw new SystemError("read", -result);
}

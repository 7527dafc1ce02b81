/**
 * The C library through FFI, on Linux: the system calls the runtime does not offer.
 * This is the only module that calls `Deno.dlopen`.
 *
 * Every call here is synchronous: `openat2` resolves a path, which the kernel answers
 * from its caches in microseconds on a local disk, and reading `errno` afterwards is
 * only reliable on the thread that made the call. Nothing else is done here: the
 * runtime's own file APIs then act on the descriptor through `/proc/self/fd/N`.
 *
 * A descriptor is a {@linkcode Descriptor}, closed exactly once by `using`.
 *
 * @module
 */

const SYMBOLS = {
  // `openat2` has no libc wrapper: `syscall(SYS_openat2, dirfd, path, &how, sizeof how)`.
  syscall: { parameters: ["i64", "i32", "buffer", "buffer", "usize"], result: "i64" },
  close: { parameters: ["i32"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

/** `openat2`'s number, the same in every Linux architecture's table (5.6+). */
const SYS_OPENAT2 = 437n;

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

/** Linux `errno` values and their names, as the runtime's errors carry them. */
const ERRNO_NAMES: Record<number, string> = {
  1: "EPERM",
  2: "ENOENT",
  5: "EIO",
  6: "ENXIO",
  9: "EBADF",
  13: "EACCES",
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
  30: "EROFS",
  36: "ENAMETOOLONG",
  38: "ENOSYS",
  39: "ENOTEMPTY",
  40: "ELOOP",
  95: "EOPNOTSUPP",
  122: "EDQUOT",
};

/** A failed system call: `code` is the errno's name (`"ENOENT"`), as on the runtime's own errors. */
export class SystemError extends Error {
  /** Always `"SystemError"`. */
  override name = "SystemError";
  /** The errno's name, or `E<number>` for one without a name here. */
  readonly code: string;
  /** The errno's number. */
  readonly errno: number;

  /** The failure of `call` with `errno`. */
  constructor(call: string, errno: number) {
    const code = ERRNO_NAMES[errno] ?? `E${errno}`;
    super(`${call}: ${code}`);
    this.code = code;
    this.errno = errno;
  }
}

type Library = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let library: Library | null | undefined;

/**
 * The C library, or `null` where it cannot be had: another system than Linux, or
 * FFI not granted. Opened once per process.
 */
export function libc(): Library | null {
  if (library !== undefined) return library;
  library = null;
  if (Deno.build.os !== "linux") return library;
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return library;
  try {
    library = Deno.dlopen("libc.so.6", SYMBOLS).symbols;
  } catch {
    // No glibc (a musl system names it otherwise): the callers fall back.
  }
  return library;
}

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

/** A descriptor this process owns, closed once when disposed. */
export class Descriptor implements Disposable {
  /** The descriptor's number. */
  readonly fd: number;
  #open = true;

  /** Takes ownership of `fd`. */
  constructor(fd: number) {
    this.fd = fd;
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

/**
 * {@linkcode AbstractedFS}: the local disk as a {@linkcode FileSystem}, jailed in
 * the user's home directory.
 *
 * @module
 */

import { posix } from "node:path";
import type { SessionInfo } from "../session_info.ts";
import { errorCode, FilesystemError, toFilesystemError } from "./errors.ts";
import { formatFacts } from "./facts.ts";
import { AT_FDCWD, type Descriptor, O, openat2 } from "../native/libc.ts";
import type {
  DirEntry,
  FactEntry,
  FileDescriptor,
  FileReader,
  FileStat,
  FileSystem,
  FileType,
  FileWriter,
  ListEntry,
  ListFormatOptions,
  RenameOptions,
  WriteMode,
} from "./filesystem.ts";
import { listLines } from "./listing.ts";
import { groupName, userName } from "./names.ts";
import {
  type DiskResolver,
  KernelResolver,
  outsideHome,
  PathResolver,
  type Reach,
  within,
} from "./resolver.ts";
import { ftpNorm, temporaryName } from "./virtual_path.ts";

/** The mark the runtime puts in a file name whose bytes are not valid UTF-8. */
const REPLACEMENT_CHARACTER = "\uFFFD";

/** What `link(2)` fails with on a filesystem that has no hard links. */
const NO_HARD_LINKS = new Set(["EPERM", "EOPNOTSUPP", "ENOTSUP", "ENOSYS"]);

/** Whether `path` names an entry (a dangling symlink too). */
async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw toFilesystemError(error);
  }
}

/** Runs a system call, turning its failure into the {@linkcode FilesystemError} the client hears. */
async function io<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw toFilesystemError(error);
  }
}

function fileType(info: Deno.FileInfo): FileType {
  if (info.isSymlink) return "symlink";
  if (info.isDirectory) return "dir";
  if (info.isFile) return "file";
  if (info.isFifo) return "fifo";
  if (info.isSocket) return "socket";
  if (info.isCharDevice) return "char-device";
  if (info.isBlockDevice) return "block-device";
  return "file";
}

/** The project's stat of the runtime's one. */
export function toFileStat(info: Deno.FileInfo): FileStat {
  return {
    type: fileType(info),
    size: info.size,
    mtime: info.mtime,
    atime: info.atime,
    mode: info.mode === null ? null : info.mode & 0o7777,
    nlink: info.nlink ?? 1,
    uid: info.uid,
    gid: info.gid,
    unique: info.dev !== null && info.ino !== null
      ? `${info.dev.toString(16)}g${info.ino.toString(16)}`
      : null,
  };
}

/**
 * A file on disk, read or written with its failures as {@linkcode FilesystemError}s.
 * It may also hold a descriptor of the same file for the zero-copy data path
 * (`sendfile(2)` from a reader's, `splice(2)` into a writer's).
 */
class DiskFile implements FileReader, FileWriter {
  readonly #file: Deno.FsFile;
  readonly #native: Descriptor | null;
  #position: number;

  /** `file`, at byte `position`, with `native`, a descriptor of it to send from, if any (now its own). */
  constructor(file: Deno.FsFile, position = 0, native: Descriptor | null = null) {
    this.#file = file;
    this.#position = position;
    this.#native = native;
  }

  // No closure per call: these run once a chunk on the transfer path.
  async read(p: Uint8Array): Promise<number | null> {
    try {
      const n = await this.#file.read(p);
      if (n !== null) this.#position += n;
      return n;
    } catch (error) {
      throw toFilesystemError(error);
    }
  }

  descriptor(): FileDescriptor | null {
    return this.#native?.open ? { fd: this.#native.fd, position: this.#position } : null;
  }

  async write(p: Uint8Array): Promise<number> {
    try {
      const n = await this.#file.write(p);
      this.#position += n;
      return n;
    } catch (error) {
      throw toFilesystemError(error);
    }
  }

  close(): void {
    this.#native?.[Symbol.dispose]();
    this.#file.close();
  }
}

/** Options of an {@linkcode AbstractedFS}. */
export interface AbstractedFSOptions {
  /**
   * Let the kernel confine every path to the home (`openat2` beneath a descriptor
   * of it) where it can: Linux 5.6+, with FFI and `/proc/self/fd` granted, which
   * Deno 2.9 grants only with `--allow-all`. Default `true`; elsewhere, or `false`,
   * paths are resolved and checked before use.
   */
  kernelJail?: boolean;
}

/**
 * The local disk seen from a home directory, the `root`: virtual path `/foo` is
 * `<root>/foo`. No operation reaches a path outside the root, symlinks included: it
 * is refused (550, logged as a warning). On Linux the kernel enforces it
 * atomically (see `KernelResolver`); elsewhere each path is resolved and checked
 * before use, and a file, once opened, is checked to still have a name inside the
 * root. Subclass it to change how the disk is read or shown.
 */
export class AbstractedFS implements FileSystem {
  /** The home directory, as the authorizer gave it. */
  readonly root: string;
  /** The session this filesystem serves, if any (pyftplib's `cmd_channel`). */
  readonly session?: SessionInfo;
  /** Whether the kernel confines this filesystem's paths (`openat2`), rather than checks. */
  readonly kernelJail: boolean;
  readonly #paths: PathResolver;
  readonly #resolver: DiskResolver;

  /** The disk jailed in the real directory `root`, for `session` (if any). */
  constructor(root: string, session?: SessionInfo, options: AbstractedFSOptions = {}) {
    this.root = root;
    this.session = session;
    this.#paths = new PathResolver(root);
    this.kernelJail = (options.kernelJail ?? true) && KernelResolver.available();
    this.#resolver = this.kernelJail ? new KernelResolver(root) : this.#paths;
  }

  /** The real path of a virtual one: `/foo` with root `/home/user` is `/home/user/foo`; `..` stops at the root. */
  ftp2fs(ftpPath: string): string {
    return this.#paths.real(ftpPath);
  }

  /** The virtual path of a real one; a path outside the root maps to `/`. */
  fs2ftp(fsPath: string): string {
    if (!within(fsPath, this.root)) return "/";
    return fsPath === this.root ? "/" : fsPath.slice(this.root.length);
  }

  /**
   * Whether the real `path` stays inside the root once every symlink along it, the
   * last one included, is resolved, at the moment of asking. Paths that do not
   * exist yet are judged by their deepest existing ancestor.
   */
  async validPath(path: string): Promise<boolean> {
    try {
      return await this.#paths.inside(path);
    } catch {
      return false;
    }
  }

  /** The facts of `path`, following symlinks. */
  async stat(path: string): Promise<FileStat> {
    using reach = await io(() => this.#resolver.reach(path, true));
    return toFileStat(await io(() => Deno.stat(reach.path)));
  }

  /** The facts of `path`, not following a final symlink. */
  async lstat(path: string): Promise<FileStat> {
    using entry = await io(() => this.#resolver.entry(path));
    return toFileStat(await io(() => Deno.lstat(entry.path)));
  }

  /**
   * The entries of a directory. One that vanishes while listing is skipped; one
   * whose name is not valid UTF-8 is listed with its name shown lossily and no
   * stat, so one odd file never aborts a listing.
   */
  async *list(path: string): AsyncIterable<DirEntry> {
    using reach = await io(() => this.#resolver.reach(path, true));
    const entries = Deno.readDir(reach.path)[Symbol.asyncIterator]();
    try {
      for (let next; !(next = await io(() => entries.next())).done;) {
        const { name } = next.value;
        const child = posix.join(reach.path, name);
        const info = await Deno.lstat(child).catch(() => null);
        if (!info) {
          if (name.includes(REPLACEMENT_CHARACTER)) yield { name, stat: null };
          continue;
        }
        const stat = toFileStat(info);
        if (stat.type !== "symlink") yield { name, stat };
        else yield { name, stat, linkTarget: await Deno.readLink(child).catch(() => "") };
      }
    } finally {
      // A listing left before its end (a caller that stops early) still closes the directory.
      await entries.return?.();
    }
  }

  /** The target of a symlink, as stored. */
  async readlink(path: string): Promise<string> {
    using entry = await io(() => this.#resolver.entry(path));
    return await io(() => Deno.readLink(entry.path));
  }

  /**
   * Opens a file as `Deno.open` does; the one place files are opened, to override.
   * Under the kernel's jail `path` is the file's `/proc/self/fd/N`, already
   * resolved beneath the root; otherwise it is the real path, checked.
   */
  open(path: string, options: Deno.OpenOptions): Promise<Deno.FsFile> {
    return Deno.open(path, options);
  }

  /**
   * Opens the regular file `path` for reading from byte `offset`. Under the
   * kernel's jail the reader also offers a descriptor of the file, which
   * downloads send with `sendfile(2)`, unless a subclass overrides
   * {@linkcode open} (what it opens is then what is read).
   */
  async openRead(path: string, offset: number): Promise<FileReader> {
    using reach = await io(() => this.#resolver.reach(path, true));
    const file = await this.#openRegular(path, reach, { read: true });
    if (offset > 0) await positioned(file, () => file.seek(offset, Deno.SeekMode.Start));
    return new DiskFile(file, offset, this.#nativeDescriptor(reach, O.RDONLY));
  }

  /**
   * A descriptor of the file `reach` leads to, for the zero-copy data path: the
   * descriptor the kernel resolved beneath the root, reopened for reading
   * (`O.RDONLY`) or writing (`O.WRONLY`) through its `/proc/self/fd/N` (so the very
   * file checked, whatever was renamed since); `null` without the kernel's jail,
   * when `open` is overridden, or when it cannot be had (no descriptor left): the
   * file is then streamed.
   */
  #nativeDescriptor(reach: Reach, flags: number): Descriptor | null {
    if (!this.kernelJail || this.open !== AbstractedFS.prototype.open) return null;
    try {
      return openat2(AT_FDCWD, reach.path, flags, 0);
    } catch {
      return null;
    }
  }

  /** Opens the regular file `path` for writing as `mode` says. */
  async openWrite(path: string, mode: WriteMode): Promise<FileWriter> {
    if ("offset" in mode) {
      using reach = await io(() => this.#resolver.reach(path, true));
      const file = await this.#openRegular(path, reach, { write: true });
      await positioned(file, async () => {
        await file.truncate(mode.offset);
        await file.seek(mode.offset, Deno.SeekMode.Start);
      });
      return new DiskFile(file, mode.offset, this.#nativeDescriptor(reach, O.WRONLY));
    }
    using reach = await io(() => this.#resolver.create(path, false));
    if ("append" in mode) {
      // Appends stream: only `O_APPEND` keeps two sessions appending at once apart.
      return new DiskFile(await this.#openRegular(path, reach, { append: true, create: true }));
    }
    const options = { write: true, create: true, truncate: true };
    const file = await this.#openRegular(path, reach, options);
    return new DiskFile(file, 0, this.#nativeDescriptor(reach, O.WRONLY));
  }

  /** Creates a file with a new name starting with `prefix` in the directory `dir`, open for writing. */
  async mkstemp(dir: string, prefix: string): Promise<{ path: string; file: FileWriter }> {
    while (true) {
      const path = posix.join(ftpNorm("/", dir), temporaryName(prefix));
      try {
        using reach = await this.#resolver.create(path, true);
        const file = await this.#openRegular(path, reach, {
          write: true,
          createNew: !this.kernelJail,
        });
        return { path, file: new DiskFile(file, 0, this.#nativeDescriptor(reach, O.WRONLY)) };
      } catch (error) {
        if (errorCode(error) !== "EEXIST") {
          throw toFilesystemError(error);
        }
      }
    }
  }

  /**
   * Opens what `reach` leads to, refusing what is not a regular file (opening a
   * FIFO or a device would hang or harm), and checks that the file opened is the
   * one `reach` names inside the root before emptying it.
   */
  async #openRegular(path: string, reach: Reach, options: Deno.OpenOptions): Promise<Deno.FsFile> {
    const info = await Deno.stat(reach.path).catch((error) => {
      const mayBeMissing = options.create || options.createNew;
      if (mayBeMissing && error instanceof Deno.errors.NotFound) return null;
      throw toFilesystemError(error);
    });
    if (info?.isDirectory) throw new FilesystemError("Is a directory.");
    if (info && !info.isFile) throw new FilesystemError("Not a regular file.");
    if (this.kernelJail) return await io(() => this.open(reach.path, options));
    // Checked after the open, and emptied only once known to be the right file.
    const file = await io(() => this.open(reach.path, { ...options, truncate: false }));
    await positioned(file, async () => {
      await this.#stillInside(path, file);
      if (options.truncate) await file.truncate(0);
    });
    return file;
  }

  /**
   * Refuses an opened `file` that is not, at this moment, the file `path` resolves
   * to inside the root: a symlink swapped in between the check and the open led
   * outside. The resolved path is compared without following it again.
   */
  async #stillInside(path: string, file: Deno.FsFile): Promise<void> {
    const resolved = await this.#paths.resolvedInside(this.#paths.real(path));
    if (resolved === null) throw outsideHome(path);
    const [opened, named] = await Promise.all([file.stat(), Deno.lstat(resolved)]);
    if (opened.dev !== named.dev || opened.ino !== named.ino) throw outsideHome(path);
  }

  /** Creates a directory. */
  async mkdir(path: string): Promise<void> {
    using entry = await io(() => this.#resolver.entry(path));
    await io(() => Deno.mkdir(entry.path));
  }

  /** Removes an empty directory; refuses files. */
  async rmdir(path: string): Promise<void> {
    using entry = await io(() => this.#resolver.entry(path));
    if ((await io(() => Deno.lstat(entry.path))).isDirectory) {
      return await io(() => Deno.remove(entry.path));
    }
    throw new FilesystemError("Not a directory.");
  }

  /** Removes a file or symlink; refuses directories. */
  async remove(path: string): Promise<void> {
    using entry = await io(() => this.#resolver.entry(path));
    if (!(await io(() => Deno.lstat(entry.path))).isDirectory) {
      return await io(() => Deno.remove(entry.path));
    }
    throw new FilesystemError("Is a directory.");
  }

  /**
   * Renames (moves) `from` to `to`. With `{ replace: false }` (a file only), a hard
   * link makes the new name, which the kernel refuses where it exists, and the old
   * name is then removed (the runtime has no rename that refuses); on a
   * filesystem without hard links (FAT, many FUSE ones) the target is looked up
   * first instead, which leaves a moment between the look and the rename.
   */
  async rename(from: string, to: string, { replace = true }: RenameOptions = {}): Promise<void> {
    using source = await io(() => this.#resolver.entry(from));
    using target = await io(() => this.#resolver.entry(to));
    if (!replace) {
      try {
        await Deno.link(source.path, target.path);
      } catch (error) {
        if (!NO_HARD_LINKS.has(errorCode(error) ?? "")) throw toFilesystemError(error);
        if (await exists(target.path)) throw new FilesystemError("File exists.");
        return await io(() => Deno.rename(source.path, target.path));
      }
      // The file is in place under its new name; a temporary name already gone is no failure.
      return await Deno.remove(source.path).catch((error) => {
        if (!(error instanceof Deno.errors.NotFound)) throw toFilesystemError(error);
      });
    }
    await io(() => Deno.rename(source.path, target.path));
  }

  /** Changes a file's mode bits. */
  async chmod(path: string, mode: number): Promise<void> {
    using reach = await io(() => this.#resolver.reach(path, true));
    await io(() => Deno.chmod(reach.path, mode));
  }

  /** Sets a path's access and modification times. */
  async utime(path: string, atime: Date, mtime: Date): Promise<void> {
    using reach = await io(() => this.#resolver.reach(path, true));
    await io(() => Deno.utime(reach.path, atime, mtime));
  }

  /** Flushes the file or directory `path` to the disk (`fsync(2)`). */
  async sync(path: string): Promise<void> {
    using reach = await io(() => this.#resolver.reach(path, true));
    using file = await io(() => this.open(reach.path, { read: true }));
    await io(() => file.sync());
  }

  /** The owner column of LIST for `uid`: the system's user name, or the number (pyftplib's `get_user_by_uid`). */
  getUserByUid(uid: number): Promise<string> {
    return userName(uid);
  }

  /** The group column of LIST for `gid`: the system's group name, or the number (pyftplib's `get_group_by_gid`). */
  getGroupByGid(gid: number): Promise<string> {
    return groupName(gid);
  }

  /** LIST's and STAT's lines for `entries` (pyftplib's `format_list`); override to list differently. */
  formatList(entries: AsyncIterable<ListEntry>, options: ListFormatOptions): AsyncIterable<string> {
    return listLines(this, entries, options);
  }

  /** One MLSD line, or MLST's entry line, with the `facts` chosen (pyftplib's `format_mlsx`). */
  formatMlsx(entry: FactEntry, facts: readonly string[]): string {
    return formatFacts(entry, facts);
  }
}

/** Runs `move` on a just-opened file, closing the file if it fails. */
async function positioned(file: Deno.FsFile, move: () => Promise<unknown>): Promise<void> {
  try {
    await move();
  } catch (error) {
    file.close();
    throw toFilesystemError(error);
  }
}

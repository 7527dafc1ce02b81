/**
 * {@linkcode AbstractedFS}: the local disk as a {@linkcode FileSystem}, jailed in
 * the user's home directory.
 *
 * @module
 */

import { posix } from "node:path";
import type { SessionInfo } from "../session_info.ts";
import { FilesystemError, toFilesystemError } from "./errors.ts";
import { formatFacts } from "./facts.ts";
import type {
  DirEntry,
  FactEntry,
  FileReader,
  FileStat,
  FileSystem,
  FileType,
  FileWriter,
  ListEntry,
  ListFormatOptions,
  WriteMode,
} from "./filesystem.ts";
import { listLines } from "./listing.ts";
import { groupName, userName } from "./names.ts";
import { ftpNorm, quote, temporaryName } from "./virtual_path.ts";

const MAX_SYMLINK_HOPS = 40;

/** The mark the runtime puts in a file name whose bytes are not valid UTF-8. */
const REPLACEMENT_CHARACTER = "\uFFFD";

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

/** A file on disk, read or written with its failures as {@linkcode FilesystemError}s. */
class DiskFile implements FileReader, FileWriter {
  readonly #file: Deno.FsFile;

  constructor(file: Deno.FsFile) {
    this.#file = file;
  }

  // No closure per call: these run once a chunk on the transfer path.
  async read(p: Uint8Array): Promise<number | null> {
    try {
      return await this.#file.read(p);
    } catch (error) {
      throw toFilesystemError(error);
    }
  }

  async write(p: Uint8Array): Promise<number> {
    try {
      return await this.#file.write(p);
    } catch (error) {
      throw toFilesystemError(error);
    }
  }

  close(): void {
    this.#file.close();
  }
}

/**
 * The local disk seen from a home directory, the `root`: virtual path `/foo` is
 * `<root>/foo`. Every operation first checks that its path, once every symlink
 * along it is resolved, stays inside the root, and refuses it (550, logged as a
 * warning) when it does not. Subclass it to change how the disk is read or shown.
 */
export class AbstractedFS implements FileSystem {
  /** The home directory, as the authorizer gave it. */
  readonly root: string;
  /** The session this filesystem serves, if any (pyftplib's `cmd_channel`). */
  readonly session?: SessionInfo;
  #realRoot: Promise<string> | null = null;

  /** The disk jailed in the real directory `root`, for `session` (if any). */
  constructor(root: string, session?: SessionInfo) {
    this.root = root;
    this.session = session;
  }

  /** The real path of a virtual one: `/foo` with root `/home/user` is `/home/user/foo`; `..` stops at the root. */
  ftp2fs(ftpPath: string): string {
    const normal = ftpNorm("/", ftpPath);
    return normal === "/" ? this.root : posix.join(this.root, normal);
  }

  /** The virtual path of a real one; a path outside the root maps to `/`. */
  fs2ftp(fsPath: string): string {
    if (!within(fsPath, this.root)) return "/";
    return fsPath === this.root ? "/" : fsPath.slice(this.root.length);
  }

  /**
   * Whether the real `path` stays inside the root once every symlink along it, the
   * last one included, is resolved. Paths that do not exist yet are judged by their
   * deepest existing ancestor.
   */
  async validPath(path: string): Promise<boolean> {
    try {
      return await this.#inside(path);
    } catch {
      return false;
    }
  }

  /** {@linkcode validPath}, but a failure to resolve (a loop, a directory it may not search) throws. */
  async #inside(path: string): Promise<boolean> {
    this.#realRoot ??= Deno.realPath(this.root).catch(() => this.root);
    return within(await this.#resolve(path, 0), await this.#realRoot);
  }

  async #resolve(path: string, hops: number): Promise<string> {
    try {
      return await Deno.realPath(path);
    } catch (error) {
      const missing = error instanceof Deno.errors.NotFound ||
        error instanceof Deno.errors.NotADirectory;
      if (!missing) throw error;
    }
    // The path, or one of its ancestors, does not exist. A dangling symlink must be
    // followed by hand: opening it for writing would create its target.
    const info = await Deno.lstat(path).catch(() => null);
    if (info?.isSymlink) {
      if (hops >= MAX_SYMLINK_HOPS) throw new FilesystemError("Too many levels of symbolic links.");
      // The target is relative to the directory the link really is in.
      const directory = await this.#resolve(posix.dirname(path), hops + 1);
      const target = await Deno.readLink(path);
      return this.#resolve(posix.resolve(directory, target), hops + 1);
    }
    const parent = posix.dirname(path);
    if (parent === path) return path;
    return posix.join(await this.#resolve(parent, hops), posix.basename(path));
  }

  /** The real path of the virtual `path`, once {@linkcode validPath} says it stays in the jail. */
  async #real(path: string): Promise<string> {
    const real = this.ftp2fs(path);
    if (await io(() => this.#inside(real))) return real;
    throw new FilesystemError(
      `"${quote(ftpNorm("/", path))}" points to a path outside the home directory.`,
      550,
      { log: "warning" },
    );
  }

  /** The facts of `path`, following symlinks. */
  async stat(path: string): Promise<FileStat> {
    const real = await this.#real(path);
    return toFileStat(await io(() => Deno.stat(real)));
  }

  /** The facts of `path`, not following a final symlink. */
  async lstat(path: string): Promise<FileStat> {
    const real = await this.#real(path);
    return toFileStat(await io(() => Deno.lstat(real)));
  }

  /**
   * The entries of a directory. One that vanishes while listing is skipped; one
   * whose name is not valid UTF-8 is listed with its name shown lossily and no
   * stat, so one odd file never aborts a listing.
   */
  async *list(path: string): AsyncIterable<DirEntry> {
    const real = await this.#real(path);
    const entries = Deno.readDir(real)[Symbol.asyncIterator]();
    for (let next; !(next = await io(() => entries.next())).done;) {
      const { name } = next.value;
      const child = posix.join(real, name);
      const info = await Deno.lstat(child).catch(() => null);
      if (!info) {
        if (name.includes(REPLACEMENT_CHARACTER)) yield { name, stat: null };
        continue;
      }
      const stat = toFileStat(info);
      if (stat.type !== "symlink") yield { name, stat };
      else yield { name, stat, linkTarget: await Deno.readLink(child).catch(() => "") };
    }
  }

  /** The target of a symlink, as stored. */
  async readlink(path: string): Promise<string> {
    const real = await this.#real(path);
    return await io(() => Deno.readLink(real));
  }

  /** Refuses what is not a regular file: opening a FIFO or a device would hang or harm. */
  async #regularFile(real: string, mayBeMissing: boolean): Promise<void> {
    const info = await Deno.stat(real).catch((error) => {
      if (mayBeMissing && error instanceof Deno.errors.NotFound) return null;
      throw toFilesystemError(error);
    });
    if (info?.isDirectory) throw new FilesystemError("Is a directory.");
    if (info && !info.isFile) throw new FilesystemError("Not a regular file.");
  }

  /** Opens a file as `Deno.open` does; the one place files are opened, to override. */
  open(path: string, options: Deno.OpenOptions): Promise<Deno.FsFile> {
    return Deno.open(path, options);
  }

  /** Opens the regular file `path` for reading from byte `offset`. */
  async openRead(path: string, offset: number): Promise<FileReader> {
    const real = await this.#real(path);
    await this.#regularFile(real, false);
    const file = await io(() => this.open(real, { read: true }));
    if (offset > 0) await positioned(file, () => file.seek(offset, Deno.SeekMode.Start));
    return new DiskFile(file);
  }

  /** Opens the regular file `path` for writing as `mode` says. */
  async openWrite(path: string, mode: WriteMode): Promise<FileWriter> {
    const real = await this.#real(path);
    await this.#regularFile(real, !("offset" in mode));
    if ("append" in mode) {
      return new DiskFile(await io(() => this.open(real, { append: true, create: true })));
    }
    if ("truncate" in mode) {
      return new DiskFile(
        await io(() => this.open(real, { write: true, create: true, truncate: true })),
      );
    }
    const file = await io(() => this.open(real, { write: true }));
    await positioned(file, async () => {
      await file.truncate(mode.offset);
      await file.seek(mode.offset, Deno.SeekMode.Start);
    });
    return new DiskFile(file);
  }

  /** Creates a file with a new name starting with `prefix` in the directory `dir`, open for writing. */
  async mkstemp(dir: string, prefix: string): Promise<{ path: string; file: FileWriter }> {
    const real = await this.#real(dir);
    while (true) {
      const name = temporaryName(prefix);
      try {
        const file = await this.open(posix.join(real, name), { write: true, createNew: true });
        return { path: posix.join(ftpNorm("/", dir), name), file: new DiskFile(file) };
      } catch (error) {
        if (!(error instanceof Deno.errors.AlreadyExists)) throw toFilesystemError(error);
      }
    }
  }

  /** Creates a directory. */
  async mkdir(path: string): Promise<void> {
    const real = await this.#real(path);
    await io(() => Deno.mkdir(real));
  }

  /** Removes an empty directory; refuses files. */
  async rmdir(path: string): Promise<void> {
    const real = await this.#real(path);
    if ((await io(() => Deno.lstat(real))).isDirectory) return await io(() => Deno.remove(real));
    throw new FilesystemError("Not a directory.");
  }

  /** Removes a file or symlink; refuses directories. */
  async remove(path: string): Promise<void> {
    const real = await this.#real(path);
    if (!(await io(() => Deno.lstat(real))).isDirectory) return await io(() => Deno.remove(real));
    throw new FilesystemError("Is a directory.");
  }

  /** Renames (moves) `from` to `to`. */
  async rename(from: string, to: string): Promise<void> {
    const [source, target] = [await this.#real(from), await this.#real(to)];
    await io(() => Deno.rename(source, target));
  }

  /** Changes a file's mode bits. */
  async chmod(path: string, mode: number): Promise<void> {
    const real = await this.#real(path);
    await io(() => Deno.chmod(real, mode));
  }

  /** Sets a path's access and modification times. */
  async utime(path: string, atime: Date, mtime: Date): Promise<void> {
    const real = await this.#real(path);
    await io(() => Deno.utime(real, atime, mtime));
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

/** Whether the real `path` is `directory` or inside it. */
function within(path: string, directory: string): boolean {
  const prefix = directory.endsWith("/") ? directory : directory + "/";
  return path === directory || path.startsWith(prefix);
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

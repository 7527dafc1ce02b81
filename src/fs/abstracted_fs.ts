/**
 * {@linkcode AbstractedFS}: the user's view of the disk, jailed in a root directory.
 *
 * @module
 */

import { posix } from "node:path";
import type { SessionInfo } from "../session_info.ts";
import { FilesystemError } from "./errors.ts";
import { type FactEntry, formatFacts } from "./facts.ts";
import {
  type ListEntry,
  type ListFormatOptions,
  type ListingSource,
  listLines,
} from "./listing.ts";
import { groupName, userName } from "./names.ts";

const MAX_SYMLINK_HOPS = 40;

/**
 * Translates between "virtual" FTP paths (the client sees `/` at its home) and
 * "real" paths on disk, and wraps every filesystem call a session makes. All calls
 * are async. Subclass it to serve something other than the local disk.
 */
export class AbstractedFS implements ListingSource {
  /** The real home directory (symlinks resolved). */
  root: string;
  /** The virtual current working directory, always absolute. */
  cwd = "/";
  /** The session this filesystem serves, if any (pyftplib's `cmd_channel`). */
  readonly session?: SessionInfo;

  /** A view jailed in the real directory `root`, for `session` (if any). */
  constructor(root: string, session?: SessionInfo) {
    this.root = root;
    this.session = session;
  }

  /** Normalizes a virtual path against {@linkcode cwd}: `"bar"` in `/foo` is `/foo/bar`; `..` stops at `/`. */
  ftpNorm(ftpPath: string): string {
    const joined = ftpPath.startsWith("/") ? ftpPath : posix.join(this.cwd, ftpPath);
    const normal = posix.normalize(joined);
    return normal.length > 1 && normal.endsWith("/") ? normal.slice(0, -1) : normal;
  }

  /** The real path of a virtual one: `foo` with root `/home/user` is `/home/user/foo`. */
  ftp2fs(ftpPath: string): string {
    const normal = this.ftpNorm(ftpPath);
    return normal === "/" ? this.root : posix.join(this.root, normal);
  }

  /** The virtual path of a real one; a path outside the root maps to `/`. */
  fs2ftp(fsPath: string): string {
    if (!this.#contains(fsPath)) return "/";
    return fsPath === this.root ? "/" : fsPath.slice(this.root.length);
  }

  /**
   * Whether the real `path` stays inside the root once every symlink along it, the
   * last one included, is resolved. Paths that do not exist yet are judged by their
   * deepest existing ancestor.
   */
  async validPath(path: string): Promise<boolean> {
    try {
      return this.#contains(await this.#resolve(path, 0));
    } catch {
      return false;
    }
  }

  #contains(path: string): boolean {
    const root = this.root.endsWith("/") ? this.root : this.root + "/";
    return path === this.root || path.startsWith(root);
  }

  async #resolve(path: string, hops: number): Promise<string> {
    try {
      return await Deno.realPath(path);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    // The path, or one of its ancestors, does not exist. A dangling symlink must be
    // followed by hand: opening it for writing would create its target.
    const info = await Deno.lstat(path).catch(() => null);
    if (info?.isSymlink) {
      if (hops >= MAX_SYMLINK_HOPS) throw new FilesystemError("Too many levels of symbolic links.");
      const target = await Deno.readLink(path);
      return this.#resolve(posix.resolve(posix.dirname(path), target), hops + 1);
    }
    const parent = posix.dirname(path);
    if (parent === path) return path;
    return posix.join(await this.#resolve(parent, hops), posix.basename(path));
  }

  /** Opens a file, as `Deno.open` does. */
  open(path: string, options: Deno.OpenOptions): Promise<Deno.FsFile> {
    return Deno.open(path, options);
  }

  /** Makes the virtual `path` (given as a real one) the current directory; it must be a directory. */
  async chdir(path: string): Promise<void> {
    const info = await Deno.stat(path);
    if (!info.isDirectory) throw new FilesystemError("Not a directory.");
    this.cwd = this.fs2ftp(path);
  }

  /** Creates a directory. */
  mkdir(path: string): Promise<void> {
    return Deno.mkdir(path);
  }

  /** Removes an empty directory; refuses files. */
  async rmdir(path: string): Promise<void> {
    if (!(await Deno.lstat(path)).isDirectory) throw new FilesystemError("Not a directory.");
    await Deno.remove(path);
  }

  /** Removes a file or symlink; refuses directories. */
  async remove(path: string): Promise<void> {
    if ((await Deno.lstat(path)).isDirectory) throw new FilesystemError("Is a directory.");
    await Deno.remove(path);
  }

  /** Renames (moves) `src` to `dst`. */
  rename(src: string, dst: string): Promise<void> {
    return Deno.rename(src, dst);
  }

  /** Changes a file's mode bits. */
  chmod(path: string, mode: number): Promise<void> {
    return Deno.chmod(path, mode);
  }

  /** Sets a path's access and modification times. */
  utime(path: string, atime: Date, mtime: Date): Promise<void> {
    return Deno.utime(path, atime, mtime);
  }

  /** Stats a path, following symlinks. */
  stat(path: string): Promise<Deno.FileInfo> {
    return Deno.stat(path);
  }

  /** Stats a path without following a final symlink. */
  lstat(path: string): Promise<Deno.FileInfo> {
    return Deno.lstat(path);
  }

  /** The target of a symlink, as stored. */
  readlink(path: string): Promise<string> {
    return Deno.readLink(path);
  }

  /** The canonical real path, symlinks resolved. */
  realpath(path: string): Promise<string> {
    return Deno.realPath(path);
  }

  /** The names in a directory. */
  async *listdir(path: string): AsyncIterable<string> {
    for await (const entry of Deno.readDir(path)) yield entry.name;
  }

  /** Whether the path is a regular file (following symlinks). */
  async isFile(path: string): Promise<boolean> {
    return (await this.stat(path).catch(() => null))?.isFile ?? false;
  }

  /** Whether the path is a directory (following symlinks). */
  async isDir(path: string): Promise<boolean> {
    return (await this.stat(path).catch(() => null))?.isDirectory ?? false;
  }

  /** Whether the path is a symlink. */
  async isLink(path: string): Promise<boolean> {
    return (await this.lstat(path).catch(() => null))?.isSymlink ?? false;
  }

  /** Whether anything, a dangling symlink included, is at the path. */
  async lexists(path: string): Promise<boolean> {
    return (await this.lstat(path).catch(() => null)) !== null;
  }

  /** The size of a file in bytes. */
  async getSize(path: string): Promise<number> {
    return (await this.stat(path)).size;
  }

  /** The modification time of a file. */
  async getMtime(path: string): Promise<Date> {
    const mtime = (await this.stat(path)).mtime;
    if (!mtime) throw new FilesystemError("Modification time not available.");
    return mtime;
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

  /** Creates a new file with a unique name in `dir` and opens it for writing. */
  async mkstemp(dir: string, prefix = ""): Promise<{ path: string; file: Deno.FsFile }> {
    const path = await Deno.makeTempFile({ dir, prefix });
    return { path, file: await Deno.open(path, { write: true }) };
  }
}

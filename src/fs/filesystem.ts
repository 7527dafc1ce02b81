/**
 * {@linkcode FileSystem}: what a session needs of a storage, in virtual paths.
 *
 * Every path given to a filesystem is absolute and normalized (`/`, `/dir/file`),
 * relative to the user's home: the session resolves the client's paths against its
 * current directory (with `ftpNorm`) before it calls a filesystem. A
 * filesystem refuses an operation by throwing a `FilesystemError` (or any
 * `FTPError`); a failed system call (an error with an errno `code`, as
 * `Deno.errors` have) is worded by `toFilesystemError`; anything else it throws
 * is a bug, logged and answered 451.
 *
 * @module
 */

import type { Reader, Writer } from "../transport.ts";

/** What a path is. */
export type FileType =
  | "file"
  | "dir"
  | "symlink"
  | "fifo"
  | "socket"
  | "char-device"
  | "block-device";

/** The facts of one path, as LIST, MLSx, SIZE and MDTM show them. */
export interface FileStat {
  /** What the path is. */
  type: FileType;
  /** Its size in bytes (0 for what has none). */
  size: number;
  /** When its content last changed, if known. */
  mtime: Date | null;
  /** When it was last read, if known. */
  atime: Date | null;
  /** Its permission bits, setuid, setgid and sticky included (`0o4755`), if it has any. */
  mode: number | null;
  /** How many names it has. */
  nlink: number;
  /** Its owner's numeric id, if it has one. */
  uid: number | null;
  /** Its group's numeric id, if it has one. */
  gid: number | null;
  /** A token that differs between any two files of the storage (MLSx's `unique` fact), if known. */
  unique: string | null;
}

/** One name in a directory and what it is (not following a symlink). */
export interface DirEntry {
  /** The base name. */
  name: string;
  /** Its stat, a symlink's own; `null` when it could not be read. */
  stat: FileStat | null;
  /** A symlink's target, as stored. */
  linkTarget?: string;
}

/** Options for `formatListLine` and `formatList`. */
export interface ListFormatOptions {
  /** Report times in GMT (the default) rather than local time. */
  useGmtTimes: boolean;
  /** The time that "recent" is measured from. */
  now: Date;
}

/** One entry found while listing: a directory's entry, and its virtual path. */
export interface ListEntry extends DirEntry {
  /** Its virtual path. */
  path: string;
}

/** The `type` fact's values: RFC 3659's, plus `OS.unix=slink` for a dangling symlink. */
export type FactType = "file" | "dir" | "cdir" | "pdir" | "OS.unix=slink";

/** One entry to describe. */
export interface FactEntry {
  /** The name (MLSD) or path (MLST) written after the facts. */
  name: string;
  /** The type fact. */
  type: FactType;
  /** The entry's stat, symlinks followed; `null` when it could not be read. */
  info: FileStat | null;
  /** The perm fact's letters (RFC 3659 7.5.5). */
  perm: string;
}

/** An open file's descriptor and a reader's or writer's place in it, for the zero-copy data path. */
export interface FileDescriptor {
  /**
   * The descriptor, open for reading (a reader's) or writing (a writer's); it
   * belongs to the reader or writer and is closed with it.
   */
  readonly fd: number;
  /** The byte the next read or write would start at. */
  readonly position: number;
}

/** A file opened for reading. */
export interface FileReader extends Reader {
  /** Releases the file. */
  close(): void;
  /**
   * The file's descriptor and this reader's position, so that a download can be
   * sent by the kernel (`sendfile(2)`, from the position on, with offsets of its
   * own: the reader's position is left alone); `null` or absent when there is
   * none. Only the local disk has one (`AbstractedFS`, under the kernel's jail);
   * any other storage, `MemoryFS` included, is streamed through `read`.
   */
  descriptor?(): FileDescriptor | null;
}

/** A file opened for writing. */
export interface FileWriter extends Writer {
  /** Releases the file; what was written stays. */
  close(): void;
  /**
   * The file's descriptor and this writer's position, so that an upload can be
   * written by the kernel (`splice(2)` from the data connection, at offsets of its
   * own: the writer's position is left alone); `null` or absent when there is
   * none, as for {@linkcode FileReader.descriptor}. Appending writers have none
   * (only the runtime's own append keeps concurrent appends apart).
   */
  descriptor?(): FileDescriptor | null;
}

/** Where {@linkcode FileSystem.openWrite} starts writing. */
export type WriteMode =
  /** Create the file, or empty it (STOR). */
  | { truncate: true }
  /** Create the file, or keep it and write after its end (APPE). */
  | { append: true }
  /** Keep an existing file's first `offset` bytes, drop the rest, and write from there (REST + STOR). */
  | { offset: number };

/** How {@linkcode FileSystem.rename} treats an entry already at its target. */
export interface RenameOptions {
  /** Whether a file at the target is replaced (the default); if not, the rename fails. */
  replace?: boolean;
}

/**
 * A storage seen in virtual paths: the local disk (`AbstractedFS`), memory
 * (`MemoryFS`), or anything else that implements it.
 */
export interface FileSystem {
  /**
   * The virtual directory a session starts in (default `/`): the home, for a
   * storage that shows more than the home (`UnixFilesystem`).
   */
  readonly startDirectory?: string;
  /**
   * The real path of the virtual `path`, as the authorizer's permissions and the
   * file callbacks name paths (default: `path` under the home the authorizer gave).
   */
  ftp2fs?(path: string): string;
  /** The facts of `path`, following symlinks. */
  stat(path: string): Promise<FileStat>;
  /** The facts of `path`, not following a final symlink. */
  lstat(path: string): Promise<FileStat>;
  /** The entries of the directory `path`. */
  list(path: string): AsyncIterable<DirEntry>;
  /** Opens the regular file `path` for reading from byte `offset`. */
  openRead(path: string, offset: number): Promise<FileReader>;
  /** Opens the regular file `path` for writing as `mode` says. */
  openWrite(path: string, mode: WriteMode): Promise<FileWriter>;
  /**
   * Creates a file whose name, starting with `prefix`, is new in the directory
   * `dir`, and opens it for writing (STOU; pyftplib's `mkstemp`).
   */
  mkstemp(dir: string, prefix: string): Promise<{ path: string; file: FileWriter }>;
  /** Creates the directory `path`; its parent must exist. */
  mkdir(path: string): Promise<void>;
  /** Removes the empty directory `path`; refuses a file. */
  rmdir(path: string): Promise<void>;
  /** Removes the file or symlink `path`; refuses a directory. */
  remove(path: string): Promise<void>;
  /**
   * Renames (moves) `from` to `to`, replacing a file at `to`; with
   * `{ replace: false }` (for a file) it fails (550 "File exists") where `to`
   * exists, the refusal made in the same step as the rename where the storage
   * can (STOU's file taking its new name, which another session may have taken
   * since it was chosen).
   */
  rename(from: string, to: string, options?: RenameOptions): Promise<void>;
  /** Sets the permission bits of `path`. */
  chmod(path: string, mode: number): Promise<void>;
  /** Sets the access and modification times of `path`. */
  utime(path: string, atime: Date, mtime: Date): Promise<void>;
  /**
   * Flushes the file or directory `path` to stable storage (`fsync(2)`), where the
   * storage can: for uploads that must survive a power cut (`fsyncUploads`).
   */
  sync?(path: string): Promise<void>;
  /** The target of the symlink `path`, as stored, where the storage has symlinks. */
  readlink?(path: string): Promise<string>;
  /** The owner column of LIST for `uid` (default: the number). */
  getUserByUid?(uid: number): Promise<string>;
  /** The group column of LIST for `gid` (default: the number). */
  getGroupByGid?(gid: number): Promise<string>;
  /** LIST's and STAT's lines for `entries` (default: `ls -l` lines). */
  formatList?(entries: AsyncIterable<ListEntry>, options: ListFormatOptions): AsyncIterable<string>;
  /** One MLSD line, or MLST's entry line (default: RFC 3659's facts). */
  formatMlsx?(entry: FactEntry, facts: readonly string[]): string;
}

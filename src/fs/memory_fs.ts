/**
 * {@linkcode MemoryFS}: a {@linkcode FileSystem} kept in memory, shared by every
 * session that is given a view of it.
 *
 * @module
 */

import { posix } from "node:path";
import { FilesystemError } from "./errors.ts";
import type {
  DirEntry,
  FileReader,
  FileStat,
  FileSystem,
  FileWriter,
  WriteMode,
} from "./filesystem.ts";
import { ftpNorm, temporaryName } from "./virtual_path.ts";

interface NodeBase {
  mode: number;
  mtime: Date;
  atime: Date;
  /** Unique within the tree, for MLSx's `unique` fact. */
  readonly id: number;
}

interface FileNode extends NodeBase {
  readonly type: "file";
  /** The content is `data.subarray(0, size)`; `data` grows by doubling. */
  data: Uint8Array;
  size: number;
}

interface DirNode extends NodeBase {
  readonly type: "dir";
  readonly children: Map<string, Node>;
}

type Node = FileNode | DirNode;

/** What every view of one tree shares. */
interface Tree {
  readonly root: DirNode;
  /** Bytes held by file contents. */
  used: number;
  readonly capacity: number;
  nextId: number;
}

/** Options of a new {@linkcode MemoryFS}. */
export interface MemoryFSOptions {
  /** The most bytes the files may hold together; past it, writes fail with 452 (default: no limit). */
  capacity?: number;
}

const NOT_FOUND = "No such file or directory.";
/** The longest name, in UTF-8 bytes, as on Linux filesystems (`NAME_MAX`). */
const NAME_MAX = 255;

function newNode<T extends Node["type"]>(
  tree: { nextId: number },
  type: T,
): T extends "file" ? FileNode : DirNode {
  const now = new Date();
  const base = { mtime: now, atime: now, id: tree.nextId++ };
  const node: Node = type === "file"
    ? { ...base, type: "file", mode: 0o644, data: new Uint8Array(0), size: 0 }
    : { ...base, type: "dir", mode: 0o755, children: new Map() };
  return node as T extends "file" ? FileNode : DirNode;
}

function statOf(node: Node): FileStat {
  return {
    type: node.type,
    size: node.type === "file" ? node.size : 0,
    mtime: node.mtime,
    atime: node.atime,
    mode: node.mode,
    nlink: node.type === "dir" ? 2 + [...node.children.values()].filter(isDir).length : 1,
    uid: null,
    gid: null,
    unique: `m${node.id.toString(16)}`,
  };
}

function isDir(node: Node): node is DirNode {
  return node.type === "dir";
}

const encoder = new TextEncoder();

/** The names along a path: `/a/b/` is `["a", "b"]`; `..` stops at the root. */
function names(path: string): string[] {
  return ftpNorm("/", path).split("/").filter(Boolean);
}

/** Runs a tree operation as a promise, its refusal a rejection. */
function attempt<T>(operation: () => T): Promise<T> {
  try {
    return Promise.resolve(operation());
  } catch (error) {
    return Promise.reject(error);
  }
}

/** Reads a file node from an offset; sees what is written to it meanwhile. */
class MemoryReader implements FileReader {
  readonly #node: FileNode;
  #position: number;

  constructor(node: FileNode, offset: number) {
    this.#node = node;
    this.#position = offset;
  }

  read(p: Uint8Array): Promise<number | null> {
    const { data, size } = this.#node;
    if (this.#position >= size) return Promise.resolve(null);
    const n = Math.min(p.byteLength, size - this.#position);
    p.set(data.subarray(this.#position, this.#position + n));
    this.#position += n;
    return Promise.resolve(n);
  }

  close(): void {}
}

/** Writes a file node from a position, or always at its end (`append`), within the tree's capacity. */
class MemoryWriter implements FileWriter {
  readonly #tree: Tree;
  readonly #node: FileNode;
  readonly #append: boolean;
  #position: number;

  constructor(tree: Tree, node: FileNode, position: number, append = false) {
    this.#tree = tree;
    this.#node = node;
    this.#position = position;
    this.#append = append;
  }

  write(p: Uint8Array): Promise<number> {
    const node = this.#node;
    const start = this.#append ? node.size : this.#position;
    const end = start + p.byteLength;
    const growth = Math.max(0, end - node.size);
    if (this.#tree.used + growth > this.#tree.capacity) {
      return Promise.reject(new FilesystemError("No space left on device.", 452));
    }
    if (end > node.data.byteLength) {
      const data = new Uint8Array(Math.max(end, node.data.byteLength * 2, 4096));
      data.set(node.data.subarray(0, node.size));
      node.data = data;
    }
    // A write past the end leaves zeros between, as a sparse file does.
    if (start > node.size) node.data.fill(0, node.size, start);
    node.data.set(p, start);
    node.size = Math.max(node.size, end);
    node.mtime = new Date();
    this.#tree.used += growth;
    this.#position = end;
    return Promise.resolve(p.byteLength);
  }

  close(): void {}
}

/**
 * Files and directories in memory, lost when the process ends: for tests, for
 * scratch areas, and as the model of a storage that is not a disk. Every view made
 * by {@linkcode MemoryFS.view} shares the one tree, so uploads of one session are
 * seen by the others. It has no symlinks, no owners, and enforces no mode bits.
 *
 * ```ts
 * import { DummyAuthorizer, FTPServer, MemoryFS } from "../../mod.ts";
 *
 * const storage = new MemoryFS({ capacity: 64 * 1024 * 1024 });
 * const authorizer = new DummyAuthorizer();
 * authorizer.addUser("user", "12345", "/home/user"); // a path in the tree, not on disk
 * const server = new FTPServer({
 *   authorizer,
 *   abstractedFs: (home) => storage.view(home),
 * });
 * ```
 */
export class MemoryFS implements FileSystem {
  #tree: Tree;
  /** The names from the tree's root to this view's root. */
  #base: string[] = [];

  /** A new, empty tree, seen from its root. */
  constructor(options: MemoryFSOptions = {}) {
    const tree = { used: 0, capacity: options.capacity ?? Infinity, nextId: 1 };
    this.#tree = { ...tree, root: newNode(tree, "dir") };
  }

  /** The same tree seen from the directory `home` down, which is created if missing. */
  view(home: string): MemoryFS {
    const base = [...this.#base, ...names(home)];
    let dir = this.#tree.root;
    for (const name of base) {
      let child = dir.children.get(name);
      if (!child) dir.children.set(name, child = newNode(this.#tree, "dir"));
      if (!isDir(child)) throw new FilesystemError(`Not a directory: ${home}`);
      dir = child;
    }
    const view = new MemoryFS();
    view.#tree = this.#tree;
    view.#base = base;
    return view;
  }

  /** The node at `path`, or a 550 refusal. */
  #node(path: string): Node {
    let node: Node = this.#tree.root;
    for (const name of [...this.#base, ...names(path)]) {
      if (!isDir(node)) throw new FilesystemError("Not a directory.");
      const child = node.children.get(name);
      if (!child) throw new FilesystemError(NOT_FOUND);
      node = child;
    }
    return node;
  }

  /** The directory that holds `path`, and the name `path` has in it. */
  #parent(path: string): { dir: DirNode; name: string } {
    const normal = ftpNorm("/", path);
    if (normal === "/") throw new FilesystemError("Operation not permitted on the root directory.");
    const dir = this.#node(posix.dirname(normal));
    if (!isDir(dir)) throw new FilesystemError("Not a directory.");
    const name = posix.basename(normal);
    if (encoder.encode(name).length > NAME_MAX) throw new FilesystemError("File name too long.");
    return { dir, name };
  }

  #file(path: string): FileNode {
    const node = this.#node(path);
    if (node.type === "file") return node;
    throw new FilesystemError("Is a directory.");
  }

  /** The facts of `path`. */
  stat(path: string): Promise<FileStat> {
    return attempt(() => statOf(this.#node(path)));
  }

  /** The facts of `path` (there are no symlinks to not follow). */
  lstat(path: string): Promise<FileStat> {
    return this.stat(path);
  }

  /** The entries of the directory `path`, in the order they were made. */
  async *list(path: string): AsyncIterable<DirEntry> {
    const node = await attempt(() => this.#node(path));
    if (!isDir(node)) throw new FilesystemError("Not a directory.");
    for (const [name, child] of [...node.children]) yield { name, stat: statOf(child) };
  }

  /** Opens the file `path` for reading from byte `offset`. */
  openRead(path: string, offset: number): Promise<FileReader> {
    return attempt(() => {
      const node = this.#file(path);
      node.atime = new Date();
      return new MemoryReader(node, offset);
    });
  }

  /** Opens the file `path` for writing as `mode` says. */
  openWrite(path: string, mode: WriteMode): Promise<FileWriter> {
    return attempt(() => {
      if ("offset" in mode) {
        const node = this.#file(path);
        this.#resize(node, Math.min(mode.offset, node.size));
        return new MemoryWriter(this.#tree, node, node.size);
      }
      const node = this.#fileOrNew(path);
      if ("truncate" in mode) this.#resize(node, 0);
      return new MemoryWriter(this.#tree, node, node.size, "append" in mode);
    });
  }

  #fileOrNew(path: string): FileNode {
    const { dir, name } = this.#parent(path);
    const existing = dir.children.get(name);
    if (existing && existing.type !== "file") throw new FilesystemError("Is a directory.");
    if (existing) return existing;
    const node = newNode(this.#tree, "file");
    dir.children.set(name, node);
    dir.mtime = node.mtime;
    return node;
  }

  #resize(node: FileNode, size: number): void {
    this.#tree.used -= node.size - size;
    node.size = size;
    node.mtime = new Date();
  }

  /** Creates a file named `prefix` and random letters or digits in the directory `dir`, open for writing. */
  mkstemp(dir: string, prefix: string): Promise<{ path: string; file: FileWriter }> {
    return attempt(() => {
      const parent = this.#node(dir);
      if (!isDir(parent)) throw new FilesystemError("Not a directory.");
      let name: string;
      do name = temporaryName(prefix); while (parent.children.has(name));
      const path = posix.join(ftpNorm("/", dir), name);
      const node = this.#fileOrNew(path);
      return { path, file: new MemoryWriter(this.#tree, node, 0) };
    });
  }

  /** Creates the directory `path`. */
  mkdir(path: string): Promise<void> {
    return attempt(() => {
      const { dir, name } = this.#parent(path);
      if (dir.children.has(name)) throw new FilesystemError("File exists.");
      const node = newNode(this.#tree, "dir");
      dir.children.set(name, node);
      dir.mtime = node.mtime;
    });
  }

  /** Removes the empty directory `path`. */
  rmdir(path: string): Promise<void> {
    return attempt(() => {
      const { dir, name } = this.#parent(path);
      const node = this.#node(path);
      if (!isDir(node)) throw new FilesystemError("Not a directory.");
      if (node.children.size > 0) throw new FilesystemError("Directory not empty.");
      dir.children.delete(name);
      dir.mtime = new Date();
    });
  }

  /** Removes the file `path`. */
  remove(path: string): Promise<void> {
    return attempt(() => {
      const { dir, name } = this.#parent(path);
      const node = this.#file(path);
      dir.children.delete(name);
      dir.mtime = new Date();
      this.#tree.used -= node.size;
    });
  }

  /** Moves `from` to `to`, as POSIX `rename` does: a file or an empty directory at `to` is replaced. */
  rename(from: string, to: string): Promise<void> {
    return attempt(() => {
      const source = this.#parent(from);
      const node = this.#node(from);
      const target = this.#parent(to);
      const normalFrom = ftpNorm("/", from);
      const normalTo = ftpNorm("/", to);
      if (normalTo.startsWith(normalFrom + "/")) {
        throw new FilesystemError("Invalid argument.");
      }
      const existing = target.dir.children.get(target.name);
      if (existing === node) return;
      if (existing) {
        if (isDir(existing) && !isDir(node)) throw new FilesystemError("Is a directory.");
        if (!isDir(existing) && isDir(node)) throw new FilesystemError("Not a directory.");
        if (isDir(existing) && existing.children.size > 0) {
          throw new FilesystemError("Directory not empty.");
        }
        if (existing.type === "file") this.#tree.used -= existing.size;
      }
      source.dir.children.delete(source.name);
      target.dir.children.set(target.name, node);
      source.dir.mtime = target.dir.mtime = new Date();
    });
  }

  /** Sets the mode bits of `path`. */
  chmod(path: string, mode: number): Promise<void> {
    return attempt(() => {
      this.#node(path).mode = mode & 0o7777;
    });
  }

  /** Sets the times of `path`. */
  utime(path: string, atime: Date, mtime: Date): Promise<void> {
    return attempt(() => {
      const node = this.#node(path);
      node.atime = atime;
      node.mtime = mtime;
    });
  }
}

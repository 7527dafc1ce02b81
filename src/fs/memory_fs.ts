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
  RenameOptions,
  WriteMode,
} from "./filesystem.ts";
import { checkNameLength, ftpNorm, temporaryName } from "./virtual_path.ts";

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
  /** Readers and writers that have it open. */
  handles: number;
  /** Whether a directory names it; its memory goes once none does and no handle is open. */
  linked: boolean;
}

interface DirNode extends NodeBase {
  readonly type: "dir";
  readonly children: Map<string, Node>;
}

type Node = FileNode | DirNode;

/** What every view of one tree shares. */
interface Tree {
  readonly root: DirNode;
  /** Bytes allocated to file contents, what `capacity` bounds. */
  used: number;
  readonly capacity: number;
  nextId: number;
}

/** Options of a new {@linkcode MemoryFS}. */
export interface MemoryFSOptions {
  /**
   * The most bytes of memory the files' contents may take together (buffers grow
   * by doubling, within it); past it, writes fail with 452 (default: no limit).
   */
  capacity?: number;
}

const NOT_FOUND = "No such file or directory.";
const EMPTY = new Uint8Array(0);

function newNode<T extends Node["type"]>(
  tree: { nextId: number },
  type: T,
): T extends "file" ? FileNode : DirNode {
  const now = new Date();
  const base = { mtime: now, atime: now, id: tree.nextId++ };
  const node: Node = type === "file"
    ? { ...base, type: "file", mode: 0o644, data: EMPTY, size: 0, handles: 0, linked: true }
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

/** Gives `node` a buffer of `bytes`, its content kept (as much as fits), the tree's count kept. */
function reallocate(tree: Tree, node: FileNode, bytes: number): void {
  const data = bytes === 0 ? EMPTY : new Uint8Array(bytes);
  data.set(node.data.subarray(0, Math.min(node.size, bytes)));
  tree.used += bytes - node.data.byteLength;
  node.data = data;
}

/** Shortens `node` to `size` bytes, handing back the memory a much shorter file no longer needs. */
function truncate(tree: Tree, node: FileNode, size: number): void {
  node.size = Math.min(node.size, size);
  if (node.size <= node.data.byteLength / 2) reallocate(tree, node, node.size);
  node.mtime = new Date();
}

/** Frees the memory of a file no directory names once its last handle closes. */
function release(tree: Tree, node: FileNode): void {
  if (node.linked || node.handles > 0) return;
  reallocate(tree, node, 0);
}

/** What a reader and a writer share: the node, kept open until `close`. */
class Handle {
  protected readonly tree: Tree;
  protected readonly node: FileNode;
  #open = true;

  constructor(tree: Tree, node: FileNode) {
    this.tree = tree;
    this.node = node;
    node.handles++;
  }

  close(): void {
    if (!this.#open) return;
    this.#open = false;
    this.node.handles--;
    release(this.tree, this.node);
  }
}

/** Reads a file node from an offset; sees what is written to it meanwhile. */
class MemoryReader extends Handle implements FileReader {
  #position: number;

  constructor(tree: Tree, node: FileNode, offset: number) {
    super(tree, node);
    this.#position = offset;
  }

  read(p: Uint8Array): Promise<number | null> {
    const { data, size } = this.node;
    if (this.#position >= size) return Promise.resolve(null);
    const n = Math.min(p.byteLength, size - this.#position);
    p.set(data.subarray(this.#position, this.#position + n));
    this.#position += n;
    return Promise.resolve(n);
  }
}

/** Writes a file node from a position, or always at its end (`append`), within the tree's capacity. */
class MemoryWriter extends Handle implements FileWriter {
  readonly #append: boolean;
  #position: number;

  constructor(tree: Tree, node: FileNode, position: number, append = false) {
    super(tree, node);
    this.#position = position;
    this.#append = append;
  }

  write(p: Uint8Array): Promise<number> {
    const { tree, node } = this;
    const start = this.#append ? node.size : this.#position;
    const end = start + p.byteLength;
    if (end > node.data.byteLength) {
      const room = tree.capacity - tree.used + node.data.byteLength;
      if (end > room) return Promise.reject(new FilesystemError("No space left on device.", 452));
      reallocate(tree, node, Math.min(Math.max(end, node.data.byteLength * 2), room));
    }
    // A write past the end leaves zeros between, as a sparse file does.
    if (start > node.size) node.data.fill(0, node.size, start);
    node.data.set(p, start);
    node.size = Math.max(node.size, end);
    node.mtime = new Date();
    this.#position = end;
    return Promise.resolve(p.byteLength);
  }
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
    const counter = { nextId: 1 };
    const root = newNode(counter, "dir");
    this.#tree = { root, used: 0, capacity: options.capacity ?? Infinity, nextId: counter.nextId };
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
    checkNameLength(name);
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
      return new MemoryReader(this.#tree, node, offset);
    });
  }

  /** Opens the file `path` for writing as `mode` says. */
  openWrite(path: string, mode: WriteMode): Promise<FileWriter> {
    return attempt(() => {
      if ("offset" in mode) {
        const node = this.#file(path);
        truncate(this.#tree, node, mode.offset);
        return new MemoryWriter(this.#tree, node, node.size);
      }
      const node = this.#fileOrNew(path);
      if ("truncate" in mode) truncate(this.#tree, node, 0);
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
      node.linked = false;
      release(this.#tree, node);
    });
  }

  /**
   * Moves `from` to `to`, as POSIX `rename` does: a file or an empty directory at
   * `to` is replaced, unless `replace` is false.
   */
  rename(from: string, to: string, { replace = true }: RenameOptions = {}): Promise<void> {
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
      if (existing && !replace) throw new FilesystemError("File exists.");
      if (existing === node) return;
      if (existing) {
        if (isDir(existing) && !isDir(node)) throw new FilesystemError("Is a directory.");
        if (!isDir(existing) && isDir(node)) throw new FilesystemError("Not a directory.");
        if (isDir(existing) && existing.children.size > 0) {
          throw new FilesystemError("Directory not empty.");
        }
      }
      source.dir.children.delete(source.name);
      target.dir.children.set(target.name, node);
      if (existing?.type === "file") {
        existing.linked = false;
        release(this.#tree, existing);
      }
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

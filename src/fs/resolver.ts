/**
 * How {@linkcode AbstractedFS} reaches a virtual path on disk without leaving the
 * user's home: {@linkcode KernelResolver} where the kernel can enforce it (Linux's
 * `openat2`), {@linkcode PathResolver} elsewhere.
 *
 * Both hand out {@linkcode Reach}es: a path the runtime's file APIs may act on, valid
 * until disposed. A kernel reach is `/proc/self/fd/N` of a descriptor the kernel
 * resolved beneath the home, so what it names cannot be swapped for a symlink to
 * outside between the check and the use; a path reach is the real path, checked
 * once, and only as good as the moment of that check.
 *
 * @import { AbstractedFS } from "./abstracted_fs.ts"
 * @module
 */

import { posix } from "node:path";
import {
  AT_FDCWD,
  type Descriptor,
  libc,
  O,
  openat2,
  RESOLVE,
  SystemError,
} from "../native/libc.ts";
import { FilesystemError, OutsideHomeError } from "./errors.ts";
import { ftpNorm, quote } from "./virtual_path.ts";

/** The most symlinks followed in one path, as Linux's own limit. */
const MAX_SYMLINK_HOPS = 40;

/** A path the runtime's file APIs may use until it is disposed. */
export interface Reach extends Disposable {
  /** The path to act on. */
  readonly path: string;
}

/** A directory reached, and the name of an entry in it (never followed if a symlink). */
export interface EntryReach extends Disposable {
  /** The directory's path. */
  readonly dir: string;
  /** The entry's name in it. */
  readonly name: string;
  /** The entry's path: `dir/name`. */
  readonly path: string;
}

/** How a jailed filesystem turns virtual paths into paths on disk. */
export interface DiskResolver {
  /**
   * `path` itself, every symlink followed (`follow`) or all but a final one. Refuses
   * (550) a path that leaves the home.
   */
  reach(path: string, follow: boolean): Promise<Reach>;
  /**
   * The file `path` opened for creation (created if missing, with `exclusive` only
   * if missing), a final symlink followed: the path to open it by.
   */
  create(path: string, exclusive: boolean): Promise<Reach>;
  /** The directory holding `path`, and its entry's name, for what acts on the entry itself. */
  entry(path: string): Promise<EntryReach>;
}

/** The refusal of a path that resolves outside the home. */
export function outsideHome(path: string): OutsideHomeError {
  return new OutsideHomeError(
    `"${quote(ftpNorm("/", path))}" points to a path outside the home directory.`,
  );
}

/** Whether the real `path` is `directory` or inside it. */
export function within(path: string, directory: string): boolean {
  const prefix = directory.endsWith("/") ? directory : directory + "/";
  return path === directory || path.startsWith(prefix);
}

/** `/a/b` as a path relative to the home: `a/b`; the home itself is `.`. */
function relative(path: string): string {
  const normal = ftpNorm("/", path);
  return normal === "/" ? "." : normal.slice(1);
}

/** Splits a normalized virtual path into its directory and its last name. */
function split(path: string): { dir: string; name: string } {
  const normal = ftpNorm("/", path);
  return normal === "/"
    ? { dir: "/", name: "." }
    : { dir: posix.dirname(normal), name: posix.basename(normal) };
}

let kernelJail: boolean | undefined;

/**
 * The resolver of the home `root` that the kernel enforces: every path is opened
 * with `openat2(RESOLVE_BENEATH)` from a descriptor of the home, so resolution and
 * check are one atomic step. An absolute symlink that points inside the home (which
 * `RESOLVE_BENEATH` refuses) is rewritten relative to the home and the open retried,
 * still beneath it.
 */
export class KernelResolver implements DiskResolver {
  readonly #root: string;
  #realRoot: string | undefined;

  /**
   * Whether this process can use it: Linux 5.6 or later, FFI granted, and the
   * runtime allowed to open `/proc/self/fd` (which Deno 2.9 grants only with
   * `--allow-all`). Probed once.
   */
  static available(): boolean {
    if (kernelJail !== undefined) return kernelJail;
    kernelJail = false;
    if (libc() === null) return false;
    try {
      using root = openat2(AT_FDCWD, "/", O.PATH | O.DIRECTORY, 0);
      Deno.statSync(root.path);
      kernelJail = true;
    } catch {
      // ENOSYS (an older kernel) or the runtime refusing /proc/self/fd.
    }
    return kernelJail;
  }

  /** The resolver of the home directory `root`. */
  constructor(root: string) {
    this.#root = root;
  }

  reach(path: string, follow: boolean): Promise<Reach> {
    return Promise.resolve(this.#open(path, O.PATH | (follow ? 0 : O.NOFOLLOW)));
  }

  create(path: string, exclusive: boolean): Promise<Reach> {
    if (!exclusive) {
      // What exists is reached without opening it: opening a FIFO or a device for
      // writing has effects of its own, and the caller refuses what is not a file.
      try {
        return Promise.resolve(this.#open(path, O.PATH));
      } catch (error) {
        if (!(error instanceof SystemError) || error.code !== "ENOENT") throw error;
      }
    }
    // O_NONBLOCK: a FIFO made in the meantime must not hang the open. The mode is
    // the runtime's own default for new files.
    const flags = O.WRONLY | O.CREAT | O.NOCTTY | O.NONBLOCK | (exclusive ? O.EXCL : 0);
    return Promise.resolve(this.#open(path, flags, 0o666));
  }

  entry(path: string): Promise<EntryReach> {
    const { dir, name } = split(path);
    const directory = this.#open(dir, O.PATH | O.DIRECTORY);
    return Promise.resolve({
      dir: directory.path,
      name,
      path: `${directory.path}/${name}`,
      [Symbol.dispose]: () => directory[Symbol.dispose](),
    });
  }

  /** Opens the virtual `path` beneath the home; an escape is refused as {@linkcode outsideHome}. */
  #open(path: string, flags: number, mode = 0): Descriptor {
    using root = openat2(AT_FDCWD, this.#root, O.PATH | O.DIRECTORY, 0);
    let target = relative(path);
    for (let hops = 0;; hops++) {
      try {
        return openat2(root.fd, target, flags, RESOLVE.BENEATH | RESOLVE.NO_MAGICLINKS, mode);
      } catch (error) {
        if (!(error instanceof SystemError) || error.code !== "EXDEV") throw error;
      }
      const rewritten = hops < MAX_SYMLINK_HOPS ? this.#absoluteLinksRewritten(root, target) : null;
      if (rewritten === null) throw outsideHome(path);
      target = rewritten;
    }
  }

  /**
   * `target` with its symlinks replaced by what they point to, walking from the
   * home, when the only reason the kernel refused it is an absolute symlink that
   * points inside the home; `null` when it really leaves the home. This only
   * proposes a path: the caller opens it beneath the home again, so a race here
   * can make the open fail, never escape.
   */
  #absoluteLinksRewritten(root: Descriptor, target: string): string | null {
    this.#realRoot ??= Deno.realPathSync(this.#root);
    const resolved: string[] = [];
    const pending = target.split("/").reverse();
    for (let hops = 0; pending.length > 0;) {
      const name = pending.pop()!;
      if (name === "." || name === "") continue;
      if (name === "..") {
        if (resolved.pop() === undefined) return null;
        continue;
      }
      const link = this.#linkTarget(root, resolved, name);
      if (link === undefined) {
        resolved.push(name);
        continue;
      }
      if (++hops > MAX_SYMLINK_HOPS) return null;
      if (link.startsWith("/")) {
        if (!within(link, this.#realRoot)) return null;
        resolved.length = 0;
        pending.push(...link.slice(this.#realRoot.length).split("/").reverse());
      } else {
        pending.push(...link.split("/").reverse());
      }
    }
    return resolved.length === 0 ? "." : resolved.join("/");
  }

  /** What the entry `name` of the directory `dirs` points to, if it is a symlink. */
  #linkTarget(root: Descriptor, dirs: string[], name: string): string | undefined {
    try {
      const parent = dirs.length === 0 ? "." : dirs.join("/");
      using dir = openat2(root.fd, parent, O.PATH | O.DIRECTORY, RESOLVE.BENEATH);
      const entry = `${dir.path}/${name}`;
      return Deno.lstatSync(entry).isSymlink ? Deno.readLinkSync(entry) : undefined;
    } catch {
      // Missing (a path being created) or not a directory: the kernel will say.
      return undefined;
    }
  }
}

/**
 * The resolver of the home `root` by path: every symlink along a path is resolved
 * and the result checked to be inside the home before the path is used. Between the
 * check and the use, a symlink swapped in by someone who can write inside the home
 * can still lead outside; {@linkcode AbstractedFS} narrows that for opened files by
 * checking, once open, that the file still has a name inside the home.
 */
export class PathResolver implements DiskResolver {
  readonly #root: string;
  #realRoot: Promise<string> | null = null;

  /** The resolver of the home directory `root`. */
  constructor(root: string) {
    this.#root = root;
  }

  /** The real path of a virtual one: `/foo` with root `/home/user` is `/home/user/foo`. */
  real(path: string): string {
    const normal = ftpNorm("/", path);
    return normal === "/" ? this.#root : posix.join(this.#root, normal);
  }

  /**
   * Whether the real `path` stays inside the home once every symlink along it, the
   * last one included, is resolved. Paths that do not exist yet are judged by their
   * deepest existing ancestor. A failure to resolve (a loop, a directory it may not
   * search) throws.
   */
  async inside(path: string): Promise<boolean> {
    return (await this.resolvedInside(path)) !== null;
  }

  /** The real `path` with every symlink resolved, if that is inside the home; else `null`. */
  async resolvedInside(path: string): Promise<string | null> {
    this.#realRoot ??= Deno.realPath(this.#root).catch(() => this.#root);
    const resolved = await this.#resolve(path, 0);
    return within(resolved, await this.#realRoot) ? resolved : null;
  }

  async reach(path: string): Promise<Reach> {
    return { path: await this.#checkedPath(path), [Symbol.dispose]() {} };
  }

  create(path: string): Promise<Reach> {
    return this.reach(path);
  }

  async entry(path: string): Promise<EntryReach> {
    const { dir, name } = split(path);
    const directory = await this.#checkedPath(dir);
    return { dir: directory, name, path: posix.join(directory, name), [Symbol.dispose]() {} };
  }

  async #checkedPath(path: string): Promise<string> {
    const real = this.real(path);
    if (await this.inside(real)) return real;
    throw outsideHome(path);
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
}

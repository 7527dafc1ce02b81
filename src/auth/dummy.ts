/**
 * {@linkcode DummyAuthorizer}: a table of virtual users kept in memory.
 *
 * @module
 */

import { createHash, timingSafeEqual } from "node:crypto";
import { dirname, isAbsolute, resolve } from "node:path";
import {
  AuthenticationFailed,
  type Authorizer,
  AuthorizerError,
  checkPermissionLetters,
  type Permission,
} from "./authorizer.ts";
import type { SessionInfo } from "../session_info.ts";

/** The user name that logs in without a password. */
export const ANONYMOUS_USER = "anonymous";

/** The letters that let a user change the tree. */
/** The permission letters that let a user change the tree. */
export const WRITE_PERMISSIONS = "adfmwMT";

/** Options of a {@linkcode DummyAuthorizer}. */
export interface DummyAuthorizerOptions {
  /** Hears about risky settings, such as write access for anonymous (default `console.warn`). */
  warn?: (message: string) => void;
}

/** Options of {@linkcode DummyAuthorizer.addUser}. */
export interface UserOptions {
  /** Permission letters (default `"elr"`, read-only). */
  perm?: string;
  /** Text of the 230 reply (default `"Login successful."`). */
  msgLogin?: string;
  /** Text of the 221 reply (default `"Goodbye."`). */
  msgQuit?: string;
}

/** A per-directory permission override of {@linkcode DummyAuthorizer.overridePerm}. */
export interface PermOverride {
  /** The real directory it applies to. */
  directory: string;
  /** The permission letters it grants there. */
  perm: string;
  /** Whether it covers the whole tree, or only the directory and the files directly in it. */
  recursive: boolean;
}

/** One user of a {@linkcode DummyAuthorizer}'s table. */
export interface UserRecord {
  /** The SHA-256 of the password; `null` for the anonymous user, who needs none. */
  passwordDigest: Uint8Array | null;
  /** The real home directory. */
  home: string;
  /** The permission letters in the home. */
  perm: string;
  /** The overrides, deepest directory first. */
  overrides: PermOverride[];
  /** The 230 text. */
  msgLogin: string;
  /** The 221 text. */
  msgQuit: string;
}

/** The SHA-256 of a clear-text password, to compare in constant time with `timingSafeEqual`. */
export function digest(text: string): Uint8Array {
  return createHash("sha256").update(text, "utf8").digest();
}

/** Whether the real `path` is `directory` or inside it. */
export function isWithin(path: string, directory: string): boolean {
  return path === directory ||
    path.startsWith(directory.endsWith("/") ? directory : directory + "/");
}

/**
 * A home or override directory as an absolute path, its symlinks resolved when it
 * exists on disk; a file there is refused. A path the disk lacks is kept as given:
 * the filesystem need not be the disk (a disk session then refuses the login).
 */
function directoryPath(path: string): string {
  const absolute = resolve(path);
  let real: string;
  try {
    real = Deno.realPathSync(absolute);
  } catch {
    return absolute;
  }
  if (!Deno.statSync(real).isDirectory) throw new AuthorizerError(`not a directory: ${path}`);
  return real;
}

/**
 * Virtual users with clear-text passwords (compared in constant time), their homes,
 * their permission letters and per-directory overrides. Subclass it and override
 * {@linkcode DummyAuthorizer.validateAuthentication} to store hashes instead.
 */
export class DummyAuthorizer implements Authorizer {
  /** The users, by name. */
  protected readonly userTable: Map<string, UserRecord> = new Map();
  readonly #warn: (message: string) => void;

  /** An empty user table; `warn` hears about risky settings (default `console.warn`). */
  constructor(options: DummyAuthorizerOptions = {}) {
    this.#warn = options.warn ?? ((message) => console.warn(`Warning: ${message}`));
  }

  /** Adds a user jailed in `homedir`; throws {@linkcode AuthorizerError} on a duplicate, or a home that is a file. */
  addUser(username: string, password: string, homedir: string, options: UserOptions = {}): void {
    this.#add(username, digest(password), homedir, options);
  }

  /** Adds the anonymous user, who logs in with any password; read-only unless `perm` says otherwise. */
  addAnonymous(homedir: string, options: UserOptions = {}): void {
    this.#add(ANONYMOUS_USER, null, homedir, options);
    if ([...WRITE_PERMISSIONS].some((letter) => options.perm?.includes(letter))) {
      this.#warn("write permissions assigned to anonymous user.");
    }
  }

  #add(username: string, passwordDigest: Uint8Array | null, homedir: string, options: UserOptions) {
    if (this.userTable.has(username)) throw new AuthorizerError(`user ${username} already exists`);
    const perm = options.perm ?? "elr";
    checkPermissionLetters(perm);
    this.userTable.set(username, {
      passwordDigest,
      home: directoryPath(homedir),
      perm,
      overrides: [],
      msgLogin: options.msgLogin ?? "Login successful.",
      msgQuit: options.msgQuit ?? "Goodbye.",
    });
  }

  /** Removes a user; unknown names are ignored. */
  removeUser(username: string): void {
    this.userTable.delete(username);
  }

  /** Whether `username` is in the table. */
  hasUser(username: string): boolean {
    return this.userTable.has(username);
  }

  /**
   * Gives `username` the letters `perm` in `directory` (a real path inside their home):
   * for the directory and the files directly in it, or for the whole tree when `recursive`.
   */
  overridePerm(username: string, directory: string, perm: string, recursive = false): void {
    const user = this.#user(username);
    checkPermissionLetters(perm);
    const real = directoryPath(isAbsolute(directory) ? directory : resolve(user.home, directory));
    if (!isWithin(real, user.home)) {
      throw new AuthorizerError(`${directory} is outside the home of ${username}`);
    }
    user.overrides = user.overrides.filter((o) => o.directory !== real);
    user.overrides.push({ directory: real, perm, recursive });
    user.overrides.sort((a, b) => b.directory.length - a.directory.length);
  }

  #user(username: string): UserRecord {
    const user = this.userTable.get(username);
    if (!user) throw new AuthorizerError(`no such user: ${username}`);
    return user;
  }

  /** Checks the password; any password is right for the anonymous user. */
  validateAuthentication(
    username: string,
    password: string,
    _session?: SessionInfo,
  ): Promise<void> {
    const user = this.userTable.get(username);
    // Hash even for unknown users, so timing does not tell which names exist.
    const given = digest(password);
    if (!user) return Promise.reject(new AuthenticationFailed("no such user"));
    if (user.passwordDigest && !timingSafeEqual(given, user.passwordDigest)) {
      return Promise.reject(new AuthenticationFailed("wrong password"));
    }
    return Promise.resolve();
  }

  /** The user's real home directory. */
  getHomeDir(username: string): Promise<string> {
    return Promise.resolve(this.#user(username).home);
  }

  /** The user's permission letters, without overrides. */
  getPerms(username: string): Promise<string> {
    return Promise.resolve(this.userTable.get(username)?.perm ?? "");
  }

  /**
   * Whether `username` may do `perm` on `path`, overrides considered; a
   * non-recursive override asks `isDirectory` (default: the disk) about `path`.
   */
  async hasPerm(
    username: string,
    perm: Permission,
    path?: string,
    isDirectory: () => Promise<boolean> = () => isDir(path!),
  ): Promise<boolean> {
    const user = this.userTable.get(username);
    if (!user) return false;
    if (path !== undefined) {
      for (const override of user.overrides) {
        if (!isWithin(path, override.directory)) continue;
        if (override.recursive) return override.perm.includes(perm);
        if (
          path === override.directory ||
          dirname(path) === override.directory && !await isDirectory()
        ) {
          return override.perm.includes(perm);
        }
      }
    }
    return user.perm.includes(perm);
  }

  /** The 230 text of `username`. */
  getMsgLogin(username: string): Promise<string> {
    return Promise.resolve(this.userTable.get(username)?.msgLogin ?? "Login successful.");
  }

  /** The 221 text of `username`. */
  getMsgQuit(username: string): Promise<string> {
    return Promise.resolve(this.userTable.get(username)?.msgQuit ?? "Goodbye.");
  }

  /** Does nothing: virtual users all act as the server's own system user. */
  impersonateUser(_username: string, _password: string): Promise<void> {
    return Promise.resolve();
  }

  /** Does nothing: see {@linkcode DummyAuthorizer.impersonateUser}. */
  terminateImpersonation(_username: string): Promise<void> {
    return Promise.resolve();
  }
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}

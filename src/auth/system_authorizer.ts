/**
 * {@linkcode SystemAuthorizer}: what the authorizers of a machine's own accounts
 * share (pyftplib's `BaseUnixAuthorizer`/`BaseWindowsAuthorizer` options): the
 * global permissions, the allowed or rejected users, the anonymous user, the
 * messages and each user's overrides. How a password is checked and where a
 * home is are the system's: {@linkcode UnixAuthorizer}, {@linkcode WindowsAuthorizer}.
 *
 * @import { UnixAuthorizer } from "./unix.ts"
 * @import { WindowsAuthorizer } from "./windows.ts"
 * @module
 */

import { timingSafeEqual } from "node:crypto";
import {
  type Authorizer,
  AuthorizerError,
  checkPermissionLetters,
  LoginRefused,
  type Permission,
} from "./authorizer.ts";
import { ANONYMOUS_USER, digest, WRITE_PERMISSIONS } from "./dummy.ts";
import { ConcurrencyLimit } from "./limit.ts";
import type { SessionInfo } from "../session_info.ts";

/** The seed's options of an authorizer of the system's accounts. */
export interface SystemAuthorizerOptions {
  /** Permission letters of every user (default `"elradfmwMT"`); anonymous gets `"elr"`. */
  globalPerm?: string;
  /** Only these users may log in (default: all); excludes `rejectedUsers`. */
  allowedUsers?: readonly string[];
  /** These users may not log in; excludes `allowedUsers`. */
  rejectedUsers?: readonly string[];
  /** The system account `anonymous` logs in as, with any password (default `null`: no anonymous login). */
  anonymousUser?: string | null;
  /** The 230 text (default `"Login successful."`). */
  msgLogin?: string;
  /** The 221 text (default `"Goodbye."`). */
  msgQuit?: string;
  /** Most passwords checked at once (default: the processors less one, at least 1). */
  concurrency?: number;
  /** Hears about risky settings (default `console.warn`). */
  warn?: (message: string) => void;
}

/** Options of {@linkcode SystemAuthorizer.overrideUser}: at least one. */
export interface SystemUserOverride {
  /** A password for FTP instead of the system's (compared in constant time). */
  password?: string;
  /** A home instead of the account's. */
  homedir?: string;
  /** Permission letters instead of `globalPerm`. */
  perm?: string;
  /** The 230 text. */
  msgLogin?: string;
  /** The 221 text. */
  msgQuit?: string;
}

/** An override, its password as a digest. */
type Override = Omit<SystemUserOverride, "password"> & { passwordDigest?: Uint8Array };

/**
 * The machine's accounts, the seed's options applied alike on every system.
 * A subclass checks passwords ({@linkcode SystemAuthorizer.validateAuthentication},
 * with {@linkcode SystemAuthorizer.checkAnonymous},
 * {@linkcode SystemAuthorizer.isRejected} and
 * {@linkcode SystemAuthorizer.overridePasswordMatches}), finds homes
 * ({@linkcode SystemAuthorizer.accountHome}) and says which overrides its
 * system can honour ({@linkcode SystemAuthorizer.checkOverride}); its
 * constructor ends with {@linkcode SystemAuthorizer.checkNamedUsers}.
 * Impersonation does nothing: a subclass that serves a session's files as its
 * user does so in a process of its own (`startSession`).
 */
export abstract class SystemAuthorizer implements Authorizer {
  /** The system account `anonymous` logs in as, or `null`. */
  protected readonly anonymousUser: string | null;
  /** The users `allowedUsers` names, as given (empty: all may log in). */
  protected readonly allowedUsers: readonly string[];
  /** Hears about risky settings. */
  protected readonly warn: (message: string) => void;
  readonly #globalPerm: string;
  readonly #allowed: ReadonlySet<string> | null;
  readonly #rejected: ReadonlySet<string>;
  readonly #named: readonly string[];
  readonly #limit: ConcurrencyLimit;
  readonly #msgLogin: string;
  readonly #msgQuit: string;
  readonly #overrides = new Map<string, Override>();

  /**
   * The seed's options; throws {@linkcode AuthorizerError} for unknown permission
   * letters, or both `allowedUsers` and `rejectedUsers`.
   */
  constructor(options: SystemAuthorizerOptions) {
    this.#globalPerm = options.globalPerm ?? "elradfmwMT";
    checkPermissionLetters(this.#globalPerm);
    const allowed = options.allowedUsers ?? [];
    const rejected = options.rejectedUsers ?? [];
    if (allowed.length > 0 && rejected.length > 0) {
      throw new AuthorizerError("allowedUsers and rejectedUsers exclude each other");
    }
    this.#allowed = allowed.length > 0 ? new Set(allowed.map((name) => this.#key(name))) : null;
    this.#rejected = new Set(rejected.map((name) => this.#key(name)));
    this.allowedUsers = allowed;
    this.#named = [...allowed, ...rejected];
    this.anonymousUser = options.anonymousUser ?? null;
    this.#msgLogin = options.msgLogin ?? "Login successful.";
    this.#msgQuit = options.msgQuit ?? "Goodbye.";
    this.warn = options.warn ?? ((message) => console.warn(`Warning: ${message}`));
    this.#limit = new ConcurrencyLimit(options.concurrency);
  }

  /**
   * The name the system knows `name` by, for comparing names: itself (Unix
   * names are case-sensitive); a subclass for a system whose names are not
   * overrides it. Called from the constructor: it may not read the subclass's fields.
   */
  protected canonicalName(name: string): string {
    return name;
  }

  /** What names one user in the lists and overrides: anonymous is only ever `"anonymous"`. */
  #key(username: string): string {
    return username === ANONYMOUS_USER ? username : this.canonicalName(username);
  }

  /**
   * The seed's checks of the users the options name, each with `exists`: none is
   * `"anonymous"`, every allowed or rejected user and `anonymousUser` exist.
   * Throws {@linkcode AuthorizerError}.
   */
  protected checkNamedUsers(exists: (name: string) => boolean): void {
    for (const name of this.#named) {
      if (name === ANONYMOUS_USER) throw new AuthorizerError(`invalid user name "${name}"`);
      if (!exists(name)) throw new AuthorizerError(`no such user: ${name}`);
    }
    if (this.anonymousUser !== null && !exists(this.anonymousUser)) {
      throw new AuthorizerError(`no such user: ${this.anonymousUser}`);
    }
  }

  /**
   * The system's checks of an override of `username` (never anonymous): throws
   * {@linkcode AuthorizerError} when there is no such account, or the system
   * cannot honour `override`.
   */
  protected abstract checkOverride(username: string, override: SystemUserOverride): void;

  /**
   * Overrides, for `username`, the system's password, the home, the permissions or
   * the messages (at least one). Throws {@linkcode AuthorizerError} for a user who
   * may not log in anyway, or a password for anonymous.
   */
  overrideUser(username: string, override: SystemUserOverride): void {
    const { password, homedir, perm, msgLogin, msgQuit } = override;
    if (Object.values(override).every((value) => value === undefined)) {
      throw new AuthorizerError("an override needs at least one setting");
    }
    if (this.isRejected(username)) throw new AuthorizerError(`${username} is not an allowed user`);
    if (username === ANONYMOUS_USER) {
      if (password !== undefined) {
        throw new AuthorizerError("anonymous logs in without a password: none can be set");
      }
      if (this.anonymousUser === null) throw new AuthorizerError("no anonymousUser is set");
    } else {
      this.checkOverride(username, override);
    }
    if (perm !== undefined) {
      checkPermissionLetters(perm);
      if (username === ANONYMOUS_USER && [...WRITE_PERMISSIONS].some((l) => perm.includes(l))) {
        this.warn("write permissions assigned to anonymous user.");
      }
    }
    this.#overrides.set(this.#key(username), {
      ...(password !== undefined && { passwordDigest: digest(password) }),
      homedir,
      perm,
      msgLogin,
      msgQuit,
    });
  }

  /** The override of `username`, if any. */
  #override(username: string): Override | undefined {
    return this.#overrides.get(this.#key(username));
  }

  /** Whether `username` may not log in: not among `allowedUsers`, or among `rejectedUsers`. */
  protected isRejected(username: string): boolean {
    const key = this.#key(username);
    return this.#allowed ? !this.#allowed.has(key) : this.#rejected.has(key);
  }

  /**
   * Whether `username` is anonymous, who logs in with any password; throws
   * {@linkcode LoginRefused} for anonymous when no `anonymousUser` is set.
   */
  protected checkAnonymous(username: string): boolean {
    if (username !== ANONYMOUS_USER) return false;
    if (this.anonymousUser === null) throw new LoginRefused("anonymous login is not enabled");
    return true;
  }

  /**
   * Whether `password` is the override's password of `username`, compared in
   * constant time; `null` when no override sets one (the system's password applies).
   */
  protected overridePasswordMatches(username: string, password: string): boolean | null {
    const stored = this.#override(username)?.passwordDigest;
    return stored ? timingSafeEqual(digest(password), stored) : null;
  }

  /** Runs `check` (a password check) once fewer than `concurrency` others run. */
  protected limited<T>(check: () => Promise<T>): Promise<T> {
    return this.#limit.run(check);
  }

  /** Whether an override gives `username` a home of its own. */
  protected hasHomeOverride(username: string): boolean {
    return this.#override(username)?.homedir !== undefined;
  }

  /**
   * Resolves when `password` is right for `username` on this system; throws
   * {@linkcode AuthenticationFailed} or {@linkcode LoginRefused} otherwise.
   */
  abstract validateAuthentication(
    username: string,
    password: string,
    session?: SessionInfo,
  ): Promise<void>;

  /** The home the system gives `username` (anonymous: `anonymousUser`'s). */
  protected abstract accountHome(username: string): Promise<string>;

  /** The home: the override's, or the account's. */
  async getHomeDir(username: string): Promise<string> {
    return this.#override(username)?.homedir ?? await this.accountHome(username);
  }

  /** The user's permission letters: the override's, `"elr"` for anonymous, or `globalPerm`. */
  getPerms(username: string): Promise<string> {
    const perm = this.#override(username)?.perm ??
      (username === ANONYMOUS_USER ? "elr" : this.#globalPerm);
    return Promise.resolve(perm);
  }

  /** Whether `perm` is among the user's letters: the system's permissions decide the rest. */
  async hasPerm(username: string, perm: Permission): Promise<boolean> {
    return (await this.getPerms(username)).includes(perm);
  }

  /** The 230 text. */
  getMsgLogin(username: string): Promise<string> {
    return Promise.resolve(this.#override(username)?.msgLogin ?? this.#msgLogin);
  }

  /** The 221 text. */
  getMsgQuit(username: string): Promise<string> {
    return Promise.resolve(this.#override(username)?.msgQuit ?? this.#msgQuit);
  }

  /** Does nothing: a process-wide (or thread) identity switch would race between sessions. */
  impersonateUser(_username: string, _password: string): Promise<void> {
    return Promise.resolve();
  }

  /** Does nothing: see {@linkcode SystemAuthorizer.impersonateUser}. */
  terminateImpersonation(_username: string): Promise<void> {
    return Promise.resolve();
  }
}

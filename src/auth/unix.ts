/**
 * {@linkcode UnixAuthorizer}: the machine's own accounts (`/etc/passwd`,
 * `/etc/shadow`), verified by the system's `crypt_r`, each session's files
 * served by a process running as its user (pyftplib's `UnixAuthorizer`, with
 * privilege separation instead of `seteuid`).
 *
 * @module
 */

import { timingSafeEqual } from "node:crypto";
import {
  AuthenticationFailed,
  type Authorizer,
  AuthorizerError,
  checkPermissionLetters,
  LoginRefused,
  type Permission,
  type UserSession,
} from "./authorizer.ts";
import { ANONYMOUS_USER, digest, WRITE_PERMISSIONS } from "./dummy.ts";
import { ConcurrencyLimit } from "./limit.ts";
import {
  readAccount,
  readAccountsSync,
  readShadow,
  readShells,
  readShellsSync,
  refusal,
  shadowToday,
  type SystemAccount,
} from "./system_accounts.ts";
import { PrivsepFS } from "../fs/privsep_fs.ts";
import { crypt, cryptAvailable, defaultSetting } from "../native/libcrypt.ts";
import type { SessionInfo } from "../session_info.ts";

/** Options of a {@linkcode UnixAuthorizer}; the seed's, and what privilege separation adds. */
export interface UnixAuthorizerOptions {
  /** Permission letters of every user (default `"elradfmwMT"`: the system's permissions decide); anonymous gets `"elr"`. */
  globalPerm?: string;
  /** Only these users may log in (default: all); excludes `rejectedUsers`. */
  allowedUsers?: readonly string[];
  /** These users may not log in; excludes `allowedUsers`. */
  rejectedUsers?: readonly string[];
  /** Refuse users whose shell is not in `/etc/shells` (default true; anonymous is exempt; no file: no check). */
  requireValidShell?: boolean;
  /** The system account `anonymous` logs in as, with any password (default `null`: no anonymous login). */
  anonymousUser?: string | null;
  /** The 230 text (default `"Login successful."`). */
  msgLogin?: string;
  /** The 221 text (default `"Goodbye."`). */
  msgQuit?: string;
  /** Let accounts with uid 0 log in (default false). */
  allowRoot?: boolean;
  /**
   * Jail each user in their home (`AbstractedFS`) instead of showing the whole disk
   * from `/` and starting in the home (`UnixFilesystem`, the seed's; default false).
   */
  jail?: boolean;
  /** Most password hashes computed at once (default: the processors less one, at least 1). */
  concurrency?: number;
  /** Hears about risky settings and about a session's file process that ended (default `console.warn`). */
  warn?: (message: string) => void;
}

/** Options of {@linkcode UnixAuthorizer.overrideUser}: at least one. */
export interface UnixUserOverride {
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
type Override = Omit<UnixUserOverride, "password"> & { passwordDigest?: Uint8Array };

/**
 * The machine's accounts. A password is checked with the system's own `crypt_r`
 * (libcrypt, through FFI, on a worker thread), so every format the system writes
 * works: yescrypt, SHA-512-crypt, SHA-256-crypt, bcrypt, MD5-crypt. Locked (`!`,
 * `*`), password-less and expired accounts and expired passwords are refused, and
 * root unless `allowRoot`. Failures are answered 530 after the session's delay,
 * whatever the reason; the log says which.
 *
 * Each logged-in session's filesystem is a {@linkcode PrivsepFS}: a process of
 * its own running as the account's uid, gid and supplementary groups, so that
 * the kernel decides every access; it ends when the session does. The server
 * must run as root (to read `/etc/shadow` and start those processes), with
 * `setpriv(1)` (util-linux) and `libcrypt.so.1` installed.
 */
export class UnixAuthorizer implements Authorizer {
  readonly #globalPerm: string;
  readonly #allowed: ReadonlySet<string> | null;
  readonly #rejected: ReadonlySet<string>;
  readonly #requireValidShell: boolean;
  readonly #anonymousUser: string | null;
  readonly #msgLogin: string;
  readonly #msgQuit: string;
  readonly #allowRoot: boolean;
  readonly #jail: boolean;
  readonly #warn: (message: string) => void;
  readonly #limit: ConcurrencyLimit;
  readonly #overrides = new Map<string, Override>();
  #nobody: string | null = null;

  /**
   * The system's accounts, with `options`. Throws {@linkcode AuthorizerError} when
   * not root, without libcrypt, or when the options name
   * users the system lacks.
   */
  constructor(options: UnixAuthorizerOptions = {}) {
    if (Deno.build.os !== "linux" || Deno.uid() !== 0) {
      throw new AuthorizerError(
        "system accounts need the server to run as root on Linux " +
          "(to read /etc/shadow and start each session as its user)",
      );
    }
    if (!cryptAvailable()) {
      throw new AuthorizerError("system accounts need libcrypt.so.1 and FFI (--allow-ffi)");
    }
    this.#globalPerm = options.globalPerm ?? "elradfmwMT";
    checkPermissionLetters(this.#globalPerm);
    const allowed = options.allowedUsers ?? [];
    const rejected = options.rejectedUsers ?? [];
    if (allowed.length > 0 && rejected.length > 0) {
      throw new AuthorizerError("allowedUsers and rejectedUsers exclude each other");
    }
    this.#allowed = allowed.length > 0 ? new Set(allowed) : null;
    this.#rejected = new Set(rejected);
    this.#requireValidShell = options.requireValidShell ?? true;
    this.#anonymousUser = options.anonymousUser ?? null;
    this.#msgLogin = options.msgLogin ?? "Login successful.";
    this.#msgQuit = options.msgQuit ?? "Goodbye.";
    this.#allowRoot = options.allowRoot ?? false;
    this.#jail = options.jail ?? false;
    this.#warn = options.warn ?? ((message) => console.warn(`Warning: ${message}`));
    this.#limit = new ConcurrencyLimit(options.concurrency);
    this.#checkUsers([...allowed, ...rejected]);
  }

  /** The seed's checks: the users named exist, anonymous has a home, allowed users a valid shell. */
  #checkUsers(named: string[]): void {
    const accounts = readAccountsSync();
    for (const name of named) {
      if (name === ANONYMOUS_USER) throw new AuthorizerError(`invalid user name "${name}"`);
      if (!accounts.has(name)) throw new AuthorizerError(`no such user: ${name}`);
    }
    if (this.#anonymousUser !== null) {
      const account = accounts.get(this.#anonymousUser);
      if (!account) throw new AuthorizerError(`no such user: ${this.#anonymousUser}`);
      if (account.uid === 0) throw new AuthorizerError("anonymousUser may not be root");
      if (!isDirectory(account.home)) {
        throw new AuthorizerError(`no valid home for user ${this.#anonymousUser}`);
      }
    }
    if (this.#requireValidShell && this.#allowed) {
      const shells = readShellsSync();
      for (const name of this.#allowed) {
        if (shells && !shells.has(accounts.get(name)!.shell)) {
          throw new AuthorizerError(`user ${name} has no valid shell`);
        }
      }
    }
  }

  /**
   * Overrides, for `username`, the system's password, the home, the permissions or
   * the messages (at least one). Throws {@linkcode AuthorizerError} for a user who
   * may not log in anyway, or a password for anonymous.
   */
  overrideUser(username: string, override: UnixUserOverride): void {
    const { password, homedir, perm, msgLogin, msgQuit } = override;
    if (Object.values(override).every((value) => value === undefined)) {
      throw new AuthorizerError("an override needs at least one setting");
    }
    if (this.#isRejected(username)) throw new AuthorizerError(`${username} is not an allowed user`);
    if (username === ANONYMOUS_USER) {
      if (password !== undefined) {
        throw new AuthorizerError("anonymous logs in without a password: none can be set");
      }
      if (this.#anonymousUser === null) throw new AuthorizerError("no anonymousUser is set");
    } else {
      const account = readAccountsSync().get(username);
      if (!account) throw new AuthorizerError(`no such user: ${username}`);
      const shells = this.#requireValidShell ? readShellsSync() : null;
      if (shells && !shells.has(account.shell)) {
        throw new AuthorizerError(`user ${username} has no valid shell`);
      }
    }
    if (perm !== undefined) {
      checkPermissionLetters(perm);
      if (username === ANONYMOUS_USER && [...WRITE_PERMISSIONS].some((l) => perm.includes(l))) {
        this.#warn("write permissions assigned to anonymous user.");
      }
    }
    this.#overrides.set(username, {
      ...(password !== undefined && { passwordDigest: digest(password) }),
      homedir,
      perm,
      msgLogin,
      msgQuit,
    });
  }

  #isRejected(username: string): boolean {
    return this.#allowed ? !this.#allowed.has(username) : this.#rejected.has(username);
  }

  /**
   * Checks `password` against the account's hash with the system's `crypt_r`
   * (or against an override's password). An unknown user costs a hash too, so
   * that timing does not tell which names exist.
   */
  async validateAuthentication(
    username: string,
    password: string,
    _session?: SessionInfo,
  ): Promise<void> {
    if (username === ANONYMOUS_USER) {
      if (this.#anonymousUser === null) throw new LoginRefused("anonymous login is not enabled");
      return;
    }
    const account = await readAccount(username);
    const shadow = account && await readShadow(account);
    const override = this.#overrides.get(username)?.passwordDigest;
    const usable = shadow !== null && refusal(shadow, shadowToday()) === null;
    const matches = override
      ? timingSafeEqual(digest(password), override)
      : await this.#verify(password, usable ? shadow!.hash : null);
    if (!account) throw new AuthenticationFailed("no such user");
    if (this.#isRejected(username)) throw new LoginRefused("not an allowed user");
    if (account.uid === 0 && !this.#allowRoot) throw new LoginRefused("root may not log in");
    if (!override) {
      if (!shadow) throw new LoginRefused("the account has no password entry");
      const why = refusal(shadow, shadowToday());
      if (why) throw new LoginRefused(`the account ${why}`);
    }
    if (!matches) throw new AuthenticationFailed("wrong password");
    if (this.#requireValidShell) {
      const shells = await readShells();
      if (shells && !shells.has(account.shell)) {
        throw new LoginRefused(`the shell ${JSON.stringify(account.shell)} is not in /etc/shells`);
      }
    }
  }

  /** Whether `password` hashes to `hash` with the system's crypt; with no hash, the same work for nothing. */
  #verify(password: string, hash: string | null): Promise<boolean> {
    return this.#limit.run(async () => {
      const setting = hash ?? (this.#nobody ??= defaultSetting() ?? "$6$tsftpd.nobody$");
      const computed = await crypt(password, setting);
      if (hash === null || computed === null) return false;
      const given = new TextEncoder().encode(computed);
      const stored = new TextEncoder().encode(hash);
      return given.length === stored.length && timingSafeEqual(given, stored);
    });
  }

  /** The system account behind `username` (anonymous: `anonymousUser`'s). */
  async #account(username: string): Promise<SystemAccount> {
    const name = username === ANONYMOUS_USER ? this.#anonymousUser : username;
    const account = name === null ? null : await readAccount(name);
    if (!account) throw new AuthorizerError(`no such user: ${username}`);
    return account;
  }

  /** The home: the override's, or the account's. */
  async getHomeDir(username: string): Promise<string> {
    return this.#overrides.get(username)?.homedir ?? (await this.#account(username)).home;
  }

  /**
   * Starts the process that serves the session's files as the account's user; the
   * grant's `end` stops it. Refuses the login (530) when it cannot start.
   */
  async startSession(username: string, session: SessionInfo): Promise<UserSession> {
    const account = await this.#account(username);
    if (account.uid === 0 && !this.#allowRoot) throw new LoginRefused("root may not log in");
    const home = await this.getHomeDir(username);
    const who = `${username} (${session.remoteIp}:${session.remotePort})`;
    let filesystem: PrivsepFS;
    try {
      filesystem = await PrivsepFS.start({ ...account, home }, {
        jail: this.#jail,
        onExit: (message) => this.#warn(`session of ${who}: ${message}`),
      });
    } catch (error) {
      throw new LoginRefused((error as Error).message, "Cannot start the session.");
    }
    return { filesystem, end: () => filesystem.close() };
  }

  /** The user's permission letters: the override's, `"elr"` for anonymous, or `globalPerm`. */
  getPerms(username: string): Promise<string> {
    const perm = this.#overrides.get(username)?.perm ??
      (username === ANONYMOUS_USER ? "elr" : this.#globalPerm);
    return Promise.resolve(perm);
  }

  /** Whether `perm` is among the user's letters: the system's permissions decide the rest. */
  async hasPerm(username: string, perm: Permission): Promise<boolean> {
    return (await this.getPerms(username)).includes(perm);
  }

  /** The 230 text. */
  getMsgLogin(username: string): Promise<string> {
    return Promise.resolve(this.#overrides.get(username)?.msgLogin ?? this.#msgLogin);
  }

  /** The 221 text. */
  getMsgQuit(username: string): Promise<string> {
    return Promise.resolve(this.#overrides.get(username)?.msgQuit ?? this.#msgQuit);
  }

  /** Does nothing: the session's process already runs as the user. */
  impersonateUser(_username: string, _password: string): Promise<void> {
    return Promise.resolve();
  }

  /** Does nothing: see {@linkcode UnixAuthorizer.impersonateUser}. */
  terminateImpersonation(_username: string): Promise<void> {
    return Promise.resolve();
  }
}

function isDirectory(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

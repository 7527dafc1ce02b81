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
  AuthorizerError,
  LoginRefused,
  type UserSession,
} from "./authorizer.ts";
import { ANONYMOUS_USER } from "./dummy.ts";
import {
  SystemAuthorizer,
  type SystemAuthorizerOptions,
  type SystemUserOverride,
} from "./system_authorizer.ts";
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
export interface UnixAuthorizerOptions extends SystemAuthorizerOptions {
  /** Refuse users whose shell is not in `/etc/shells` (default true; anonymous is exempt; no file: no check). */
  requireValidShell?: boolean;
  /** Let accounts with uid 0 log in (default false). */
  allowRoot?: boolean;
  /**
   * Jail each user in their home (`AbstractedFS`) instead of showing the whole disk
   * from `/` and starting in the home (`UnixFilesystem`, the seed's; default false).
   */
  jail?: boolean;
  /** Hears about risky settings and about a session's file process that ended (default `console.warn`). */
  warn?: (message: string) => void;
}

/** Options of {@linkcode UnixAuthorizer.overrideUser}: at least one. */
export type UnixUserOverride = SystemUserOverride;

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
export class UnixAuthorizer extends SystemAuthorizer {
  readonly #requireValidShell: boolean;
  readonly #allowRoot: boolean;
  readonly #jail: boolean;
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
    super(options);
    this.#requireValidShell = options.requireValidShell ?? true;
    this.#allowRoot = options.allowRoot ?? false;
    this.#jail = options.jail ?? false;
    this.#checkUsers();
  }

  /** The seed's checks: the users named exist, anonymous has a home, allowed users a valid shell. */
  #checkUsers(): void {
    const accounts = readAccountsSync();
    this.checkNamedUsers((name) => accounts.has(name));
    if (this.anonymousUser !== null) {
      const account = accounts.get(this.anonymousUser)!;
      if (account.uid === 0) throw new AuthorizerError("anonymousUser may not be root");
      if (!isDirectory(account.home)) {
        throw new AuthorizerError(`no valid home for user ${this.anonymousUser}`);
      }
    }
    if (this.#requireValidShell) {
      const shells = readShellsSync();
      for (const name of this.allowedUsers) {
        if (shells && !shells.has(accounts.get(name)!.shell)) {
          throw new AuthorizerError(`user ${name} has no valid shell`);
        }
      }
    }
  }

  /** The account exists and, with `requireValidShell`, has a valid shell. */
  protected checkOverride(username: string): void {
    const account = readAccountsSync().get(username);
    if (!account) throw new AuthorizerError(`no such user: ${username}`);
    const shells = this.#requireValidShell ? readShellsSync() : null;
    if (shells && !shells.has(account.shell)) {
      throw new AuthorizerError(`user ${username} has no valid shell`);
    }
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
    if (this.checkAnonymous(username)) return;
    const account = await readAccount(username);
    const shadow = account && await readShadow(account);
    const override = this.overridePasswordMatches(username, password);
    const usable = shadow !== null && refusal(shadow, shadowToday()) === null;
    const matches = override ?? await this.#verify(password, usable ? shadow!.hash : null);
    if (!account) throw new AuthenticationFailed("no such user");
    if (this.isRejected(username)) throw new LoginRefused("not an allowed user");
    if (account.uid === 0 && !this.#allowRoot) throw new LoginRefused("root may not log in");
    if (override === null) {
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
    return this.limited(async () => {
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
    const name = username === ANONYMOUS_USER ? this.anonymousUser : username;
    const account = name === null ? null : await readAccount(name);
    if (!account) throw new AuthorizerError(`no such user: ${username}`);
    return account;
  }

  /** The account's home, from `/etc/passwd`. */
  protected async accountHome(username: string): Promise<string> {
    return (await this.#account(username)).home;
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
        onExit: (message) => this.warn(`session of ${who}: ${message}`),
      });
    } catch (error) {
      throw new LoginRefused((error as Error).message, "Cannot start the session.");
    }
    return { filesystem, end: () => filesystem.close() };
  }
}

function isDirectory(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

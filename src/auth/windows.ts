/**
 * {@linkcode WindowsAuthorizer}: the machine's local Windows accounts, their
 * passwords checked by `LogonUserW` (pyftplib's `WindowsAuthorizer`).
 *
 * @module
 */

import { AuthenticationFailed, AuthorizerError, LoginRefused } from "./authorizer.ts";
import { ANONYMOUS_USER } from "./dummy.ts";
import {
  SystemAuthorizer,
  type SystemAuthorizerOptions,
  type SystemUserOverride,
} from "./system_authorizer.ts";
import {
  accountExists,
  logonUser,
  windowsAccountsAvailable,
  WindowsError,
} from "../native/windows.ts";
import type { SessionInfo } from "../session_info.ts";

/** Options of a {@linkcode WindowsAuthorizer}: the seed's (no `requireValidShell`: Windows has no login shells). */
export interface WindowsAuthorizerOptions extends SystemAuthorizerOptions {
  /** The password `anonymousUser` logs on with, for each anonymous session (default `""`). */
  anonymousPassword?: string;
}

/** Characters a local account name cannot hold, and `@` and `\` (a domain's account: not served). */
const NOT_IN_NAMES = /["/\\[\]:;|=,+*?<>@\p{Cc}]/u;

/** Whether `name` can name a local account: no domain, no character Windows refuses, no blank or dot at its ends. */
function isLocalAccountName(name: string): boolean {
  return name !== "" && !NOT_IN_NAMES.test(name) && name.trim() === name && !name.endsWith(".");
}

/**
 * The machine's local Windows accounts. A password is checked by `LogonUserW`
 * (a network logon against the local account database, on a worker thread,
 * never stored); the home is the user's profile directory, read from the
 * logon's token, unless {@linkcode WindowsAuthorizer.overrideUser} gives one
 * (an account that never logged on interactively has no profile yet: it is
 * refused until it has one or an override). Names are compared as Windows
 * compares them, whatever their case; names of a domain's accounts
 * (`DOMAIN\name`, `name@domain`) are refused. Rejected users are refused before
 * any logon, so FTP cannot lock their accounts out. No account is refused for
 * being an administrator (the seed refuses none): name them in `rejectedUsers`.
 *
 * **Files are served as the server's own account.** The seed impersonates the
 * user around each filesystem call (`ImpersonateLoggedOnUser`), but that
 * switches the identity of the calling thread only: the runtime's file
 * operations run on worker threads, which would not see it, and a switch of
 * the main thread would race between sessions. So
 * {@linkcode WindowsAuthorizer.impersonateUser} does nothing, each user is
 * jailed in their home (the server's `abstractedFs`), and what Windows lets
 * the server's account do there decides. Serving a session's files as its user
 * would take a process of its own, started with the logon's token
 * (`CreateProcessWithTokenW`), as `UnixAuthorizer` does on Linux: not done.
 */
export class WindowsAuthorizer extends SystemAuthorizer {
  readonly #anonymousPassword: string;
  /** The profile directory of each account, by canonical name, as its last logon read it. */
  readonly #homes = new Map<string, string>();

  /**
   * The local accounts, with `options`. Throws {@linkcode AuthorizerError} on
   * another system than Windows, without FFI, or when the options name users
   * Windows lacks.
   */
  constructor(options: WindowsAuthorizerOptions = {}) {
    if (!windowsAccountsAvailable()) {
      throw new AuthorizerError("Windows accounts need Windows and FFI (--allow-ffi)");
    }
    super(options);
    this.#anonymousPassword = options.anonymousPassword ?? "";
    this.checkNamedUsers(accountExists);
  }

  /** Windows compares account names whatever their case. */
  protected override canonicalName(name: string): string {
    return name.toUpperCase();
  }

  /**
   * The account exists; an override's password comes with a homedir (the
   * profile directory is only known from a logon with the account's own password).
   */
  protected checkOverride(username: string, override: SystemUserOverride): void {
    if (!accountExists(username)) throw new AuthorizerError(`no such user: ${username}`);
    if (override.password !== undefined && override.homedir === undefined) {
      throw new AuthorizerError(`an override of ${username}'s password needs a homedir too`);
    }
  }

  /**
   * Logs on with `password` (`LogonUserW`), or compares it with an override's
   * password; anonymous logs on as `anonymousUser` with `anonymousPassword`.
   * A failed logon says no more than that (its code is the worker thread's).
   */
  async validateAuthentication(
    username: string,
    password: string,
    _session?: SessionInfo,
  ): Promise<void> {
    if (this.checkAnonymous(username)) {
      if (!await this.#logOn(username, this.anonymousUser!, this.#anonymousPassword)) {
        throw new LoginRefused(`anonymousUser ${this.anonymousUser} cannot log on`);
      }
      return;
    }
    if (!isLocalAccountName(username)) throw new LoginRefused("not a local account name");
    if (this.isRejected(username)) throw new LoginRefused("not an allowed user");
    const matches = this.overridePasswordMatches(username, password);
    if (matches === false) throw new AuthenticationFailed("wrong password");
    if (matches === null && !await this.#logOn(username, username, password)) {
      throw new AuthenticationFailed("logon failed");
    }
  }

  /**
   * Logs `account` on for `username`, keeping its profile directory for
   * {@linkcode WindowsAuthorizer.getHomeDir} unless an override gives a home;
   * whether the logon succeeded. Throws {@linkcode LoginRefused} when it has no profile.
   */
  async #logOn(username: string, account: string, password: string): Promise<boolean> {
    using token = await this.limited(() => logonUser(account, password));
    if (token === null) return false;
    if (this.hasHomeOverride(username)) return true;
    try {
      this.#homes.set(this.canonicalName(account), token.profileDirectory());
    } catch (error) {
      if (!(error instanceof WindowsError)) throw error;
      throw new LoginRefused(
        `the account ${account} has no profile directory (${error.message}): ` +
          "it has never logged on interactively; override its homedir",
      );
    }
    return true;
  }

  /** The profile directory the account's last logon read (anonymous: `anonymousUser`'s). */
  protected accountHome(username: string): Promise<string> {
    const account = username === ANONYMOUS_USER ? this.anonymousUser : username;
    const home = account === null ? undefined : this.#homes.get(this.canonicalName(account));
    if (home === undefined) {
      return Promise.reject(new AuthorizerError(`no profile directory known for ${username}`));
    }
    return Promise.resolve(home);
  }
}

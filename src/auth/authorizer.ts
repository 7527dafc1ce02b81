/**
 * The authorizer contract: how a session checks passwords, finds a user's home
 * and asks whether an action on a path is permitted.
 *
 * @module
 */

import type { SharedRate } from "../data/shared_rate.ts";
import type { FileSystem } from "../fs/filesystem.ts";
import type { QuotaLimits } from "../fs/quota.ts";
import type { SessionInfo } from "../session_info.ts";

/** Raised by {@linkcode Authorizer.validateAuthentication} when the credentials are wrong. */
export class AuthenticationFailed extends Error {
  /** Always `"AuthenticationFailed"`. */
  override name = "AuthenticationFailed";
}

/**
 * Raised by an authorizer to refuse a login for a reason other than a wrong
 * password (a client network not allowed, too many sessions): the session logs
 * `USER '<name>' refused: <message>` and answers 530 with {@linkcode LoginRefused.reply},
 * after the same delay as a wrong password, counting it as a failed attempt.
 */
export class LoginRefused extends AuthenticationFailed {
  /** Always `"LoginRefused"`. */
  override name = "LoginRefused";
  /** The text of the 530 reply. */
  readonly reply: string;

  /** A refusal logged as `message` and answered with `reply` (default `"Authentication failed."`). */
  constructor(message: string, reply = "Authentication failed.") {
    super(message);
    this.reply = reply;
  }
}

/**
 * Raised by an authorizer that cannot answer now, its user store being
 * unreachable (a database down): the session logs the message, answers 421 and
 * closes; the attempt is not counted as a failed login.
 */
export class AuthorizerUnavailable extends Error {
  /** Always `"AuthorizerUnavailable"`. */
  override name = "AuthorizerUnavailable";
}

/**
 * What an authorizer grants one logged-in session, from
 * {@linkcode Authorizer.startSession}: all optional.
 */
export interface UserSession {
  /**
   * Most bytes per second this session's data connections receive (uploads); 0 is
   * no limit. Absent: the server's `dtp.readLimit`.
   */
  readonly readLimit?: number;
  /** Most bytes per second this session's data connections send (downloads); 0 is no limit. Absent: `dtp.writeLimit`. */
  readonly writeLimit?: number;
  /** A budget for uploads that this session shares with others (all of one user's), besides `readLimit`. */
  readonly readRate?: SharedRate;
  /** A budget for downloads that this session shares with others (all of one user's), besides `writeLimit`. */
  readonly writeRate?: SharedRate;
  /**
   * The authorizer that answers for this session from now on (home, permissions,
   * messages, impersonation); absent: the server's. An authorizer whose users can
   * change while the server runs gives the table as it was at login, so that a
   * session keeps what it logged in with.
   */
  readonly authorizer?: Authorizer;
  /**
   * How many bytes and files the user may keep in their home; absent: no limit.
   * Uploads past it are refused with 552. What the home holds is counted at
   * login (see `Quota`), and shared by the user's sessions of the server.
   */
  readonly quota?: QuotaLimits;
  /**
   * The filesystem that serves this session (a system user's, in a process of
   * its own); absent: the server's `abstractedFs` of the home.
   */
  readonly filesystem?: FileSystem;
  /**
   * Called once when the session logs out (QUIT, REIN, a new USER) or closes; the
   * session waits for it to settle.
   */
  end?(): void | Promise<void>;
}

/** Raised when a user table is misconfigured (duplicate user, unknown permission, ...). */
export class AuthorizerError extends Error {
  /** Always `"AuthorizerError"`. */
  override name = "AuthorizerError";
}

/**
 * The permission letters, as pyftplib defines them.
 *
 * Read: `e` change directory, `l` list, `r` retrieve.
 * Write: `a` append, `d` delete, `f` rename, `m` make directory, `w` store,
 * `M` change mode (SITE CHMOD), `T` change modification time (MFMT).
 */
export const PERMISSION_LETTERS = "elradfmwMT";

/** One permission letter. */
export type Permission = "e" | "l" | "r" | "a" | "d" | "f" | "m" | "w" | "M" | "T";

/**
 * What a session asks of its users' database. Every method may be async, so a slow
 * password hash or a remote user store never stalls other sessions.
 */
export interface Authorizer {
  /**
   * Resolves when `password` is right for `username`; throws
   * {@linkcode AuthenticationFailed} otherwise. `session` tells who is asking (the
   * client's address and port), as pyftplib passes the handler.
   */
  validateAuthentication(username: string, password: string, session: SessionInfo): Promise<void>;
  /** The directory the user is jailed in, as the filesystem names it (on disk, a real path). */
  getHomeDir(username: string): Promise<string>;
  /**
   * Whether the user may do `perm` on the path `path` under their home (or
   * anywhere, without one). `isDirectory` tells, through the session's filesystem,
   * whether that path is a directory, which the home's own storage may not show.
   */
  hasPerm(
    username: string,
    perm: Permission,
    path?: string,
    isDirectory?: () => Promise<boolean>,
  ): Promise<boolean>;
  /** The user's permission letters for their home. */
  getPerms(username: string): Promise<string>;
  /** The 230 text sent after a successful login. */
  getMsgLogin(username: string): Promise<string>;
  /** The 221 text sent on QUIT. */
  getMsgQuit(username: string): Promise<string>;
  /** Called before the filesystem is touched on the user's behalf. */
  impersonateUser(username: string, password: string): Promise<void>;
  /** Called after the filesystem was touched on the user's behalf. */
  terminateImpersonation(username: string): Promise<void>;
  /**
   * Optional: called once `username`'s password was accepted, before the home is
   * opened and 230 sent. It may throw {@linkcode LoginRefused} (too many sessions)
   * or grant the session its own limits and authorizer ({@linkcode UserSession});
   * the session calls the grant's `end` when it logs out or closes.
   */
  startSession?(username: string, session: SessionInfo): Promise<UserSession>;
}

/** Throws {@linkcode AuthorizerError} unless every letter of `perm` is a known permission. */
export function checkPermissionLetters(perm: string): void {
  for (const letter of perm) {
    if (!PERMISSION_LETTERS.includes(letter)) {
      throw new AuthorizerError(`no such permission ${JSON.stringify(letter)}`);
    }
  }
}

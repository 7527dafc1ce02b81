/**
 * {@linkcode DatabaseAuthorizer}: the accounts of a PostgreSQL database that
 * several nodes share, read at each login (no cache: every node sees a change at
 * the next login), with the users file's fields and rules, and a most-sessions
 * limit that holds across the nodes.
 *
 * @module
 */

import { DatabaseBanStore } from "../db/bans.ts";
import { LoggedInUsers } from "./logged_in_users.ts";
import {
  AuthenticationFailed,
  type Authorizer,
  AuthorizerUnavailable,
  type Permission,
  type UserSession,
} from "./authorizer.ts";
import { PasswordVerifier, type PasswordVerifierOptions } from "./hashes.ts";
import {
  checkLogin,
  quotaOf,
  realHome,
  type UserAccount,
  UsersFileError,
  UserTable,
} from "./users_file.ts";
import { AccountStore } from "../db/accounts.ts";
import {
  connectDatabase,
  type DatabaseOptions,
  describeDatabaseError,
  redactUrl,
  SCHEMA_VERSION,
  schemaVersion,
  type Sql,
} from "../db/database.ts";
import { SessionRegistry, type SessionRegistryOptions } from "../db/sessions.ts";
import type { SessionInfo } from "../session_info.ts";

/** Options of {@linkcode DatabaseAuthorizer.connect}. */
export interface DatabaseAuthorizerOptions extends DatabaseOptions, SessionRegistryOptions {
  /** Hears about risky settings, and that the database cannot be reached (default `console.warn`). */
  warn?: (message: string) => void;
  /** Hears that the database can be reached again (default `console.info`). */
  notice?: (message: string) => void;
  /**
   * Whether a home must be an existing directory on this node, given to the
   * session as its real path (default true); off when homes are not on a local disk.
   */
  checkHomes?: boolean;
  /** How many password hashes are computed at once ({@linkcode PasswordVerifierOptions}). */
  verifier?: PasswordVerifierOptions;
}

/** What {@linkcode DatabaseAuthorizer.problem} finds wrong. */
export interface DatabaseProblem {
  /** `unreachable`: the database does not answer; `schema`: it has not the schema this code uses. */
  readonly kind: "unreachable" | "schema";
  /** What is wrong, in a sentence. */
  readonly message: string;
}

/**
 * The accounts of the shared database (`tsftpd db init` creates its schema,
 * `tsftpd user add` and the like fill it). Each login reads its account there:
 * a user added, changed, disabled or removed on one node is seen by every other
 * at the next login. The database down, a login fails with
 * {@linkcode AuthorizerUnavailable} (the session answers 421) and sessions
 * logged in go on; the client reconnects by itself once it is back.
 *
 * ```ts ignore
 * import { DatabaseAuthorizer, FTPServer } from "../../mod.ts";
 *
 * await using authorizer = await DatabaseAuthorizer.connect("postgres://tsftpd@db/tsftpd");
 * await new FTPServer({ port: 21, authorizer }).serve();
 * ```
 */
export class DatabaseAuthorizer implements Authorizer, AsyncDisposable {
  /** The database's URL, its password masked. */
  readonly url: string;
  /** The accounts. */
  readonly accounts: AccountStore;
  /** The sessions of every node. */
  readonly sessions: SessionRegistry;
  /** The defender's scores and bans, shared by every node (for `Defender`'s `store`). */
  readonly bans: DatabaseBanStore;
  readonly #sql: Sql;
  readonly #verifier: PasswordVerifier;
  readonly #checkHomes: boolean;
  readonly #warn: (message: string) => void;
  /** The account that validated a session's password, until its session starts. */
  readonly #validated = new WeakMap<SessionInfo, UserAccount>();
  /** The rate budgets of the users' sessions on this node. */
  readonly #loggedIn = new LoggedInUsers();

  private constructor(url: string, sql: Sql, options: DatabaseAuthorizerOptions) {
    this.url = redactUrl(url);
    this.#sql = sql;
    this.#warn = options.warn ?? ((message) => console.warn(`Warning: ${message}`));
    this.accounts = new AccountStore(sql);
    this.bans = new DatabaseBanStore(sql);
    const notice = options.notice ?? ((message) => console.info(message));
    let reachable = true;
    this.sessions = new SessionRegistry(sql, {
      ...options,
      onHeartbeat: (error) => {
        options.onHeartbeat?.(error);
        if (error === null && !reachable) notice(`accounts database ${this.url} reachable again`);
        else if (error !== null && reachable) {
          this.#warn(
            `accounts database ${this.url} unreachable: ${describeDatabaseError(error)}; ` +
              `logins are answered 421 until it is back`,
          );
        }
        reachable = error === null;
      },
    });
    this.#verifier = new PasswordVerifier(options.verifier);
    this.#checkHomes = options.checkHomes ?? true;
  }

  /**
   * The accounts of the database at `url`, its heartbeat started. Connects
   * lazily: a database that is down now only makes logins fail until it is back.
   * Throws `DatabaseError` for a URL that is none.
   */
  static async connect(
    url: string,
    options: DatabaseAuthorizerOptions = {},
  ): Promise<DatabaseAuthorizer> {
    const authorizer = new DatabaseAuthorizer(url, await connectDatabase(url, options), options);
    authorizer.sessions.start();
    return authorizer;
  }

  /**
   * Checks that the database answers with the schema this code uses; resolves to
   * `null` when it does, otherwise to what is wrong.
   */
  async problem(): Promise<DatabaseProblem | null> {
    let version: number;
    try {
      version = await schemaVersion(this.#sql);
    } catch (error) {
      return { kind: "unreachable", message: describeDatabaseError(error) };
    }
    if (version === SCHEMA_VERSION) return null;
    const found = version === 0 ? "no schema" : `the schema is at version ${version}`;
    return {
      kind: "schema",
      message: `${found}, not ${SCHEMA_VERSION}: run \`tsftpd db init --db URL\``,
    };
  }

  /**
   * Reads the account, checks the client's network (`allow_from`), then the
   * password; an unknown or disabled user costs an argon2id verification too.
   * Throws {@linkcode AuthorizerUnavailable} when the database cannot be asked.
   */
  async validateAuthentication(
    username: string,
    password: string,
    session?: SessionInfo,
  ): Promise<void> {
    const stored = await this.#ask(() => this.accounts.find(username));
    if (!stored || stored.disabled) {
      await this.#verifier.verifyNobody(password);
      throw new AuthenticationFailed(stored ? "account disabled" : "no such user");
    }
    const { account } = stored;
    await checkLogin(account, password, this.#verifier, session);
    if (session) this.#validated.set(session, account);
  }

  /**
   * Counts the session against the user's `max_sessions` across the nodes
   * (refusing it with a `LoginRefused` past that) and grants it the
   * account as it was read at login, with its rate budgets (shared by the user's
   * sessions on this node).
   */
  async startSession(username: string, session: SessionInfo): Promise<UserSession> {
    const account = this.#validated.get(session) ?? (await this.#read(username));
    this.#validated.delete(session);
    const table = await this.#tableOf(account);
    const id = await this.#ask(() =>
      this.sessions.open(username, account.maxSessions ?? 0, session.remoteIp)
    );
    const joined = this.#loggedIn.join(username, account);
    return {
      authorizer: table,
      ...joined.rates,
      ...quotaOf(account),
      end: () => {
        joined.leave();
        this.sessions.end(id);
      },
    };
  }

  /** The home of `username`, read now. */
  async getHomeDir(username: string): Promise<string> {
    return (await this.#tableOf(await this.#read(username))).getHomeDir(username);
  }

  /** Whether `username` may do `perm` on `path`, overrides considered, read now. */
  async hasPerm(
    username: string,
    perm: Permission,
    path?: string,
    isDirectory?: () => Promise<boolean>,
  ): Promise<boolean> {
    const table = await this.#tableOf(await this.#read(username));
    return await table.hasPerm(username, perm, path, isDirectory);
  }

  /** The permission letters of `username` in their home, read now. */
  async getPerms(username: string): Promise<string> {
    return (await this.#read(username)).perm;
  }

  /** The 230 text of `username`, read now. */
  async getMsgLogin(username: string): Promise<string> {
    return (await this.#tableOf(await this.#read(username))).getMsgLogin(username);
  }

  /** The 221 text of `username`, read now. */
  async getMsgQuit(username: string): Promise<string> {
    return (await this.#tableOf(await this.#read(username))).getMsgQuit(username);
  }

  /** Does nothing: the accounts are virtual users, acting as the server's system user. */
  impersonateUser(_username: string, _password: string): Promise<void> {
    return Promise.resolve();
  }

  /** Does nothing: see {@linkcode DatabaseAuthorizer.impersonateUser}. */
  terminateImpersonation(_username: string): Promise<void> {
    return Promise.resolve();
  }

  /** Stops the heartbeat, removes this node's sessions from the database and closes its connections. */
  async close(): Promise<void> {
    await this.sessions.close();
    this.#verifier.close();
    await this.#sql.end({ timeout: 1 });
  }

  /** Same as {@linkcode DatabaseAuthorizer.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** The account `username`, enabled; throws {@linkcode AuthenticationFailed} otherwise. */
  async #read(username: string): Promise<UserAccount> {
    const stored = await this.#ask(() => this.accounts.find(username));
    if (!stored || stored.disabled) throw new AuthenticationFailed("no such user");
    return stored.account;
  }

  /** The one-account table a session keeps, its home resolved on this node if asked. */
  async #tableOf(account: UserAccount): Promise<UserTable> {
    // A home that is missing here is refused by the session, as "not available".
    const home = this.#checkHomes
      ? await realHome(account.home).catch(() => account.home)
      : account.home;
    const table = new UserTable([{ ...account, home }], noCheck, this.#warn);
    table.fill("database");
    return table;
  }

  /**
   * Runs a query: what the database cannot answer becomes
   * {@linkcode AuthorizerUnavailable}; refusals and a row that breaks the rules pass.
   */
  async #ask<T>(query: () => Promise<T>): Promise<T> {
    try {
      return await query();
    } catch (error) {
      if (error instanceof AuthenticationFailed || error instanceof UsersFileError) throw error;
      throw new AuthorizerUnavailable(
        `accounts database ${this.url} unavailable: ${describeDatabaseError(error)}`,
        { cause: error },
      );
    }
  }
}

const noCheck = () => Promise.reject(new AuthenticationFailed("checked at login"));

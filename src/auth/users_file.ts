/**
 * {@linkcode UsersFileAuthorizer}: the accounts of a TOML users file, one
 * `[[user]]` table each, with hashed passwords, per-directory permission
 * overrides, rate limits, a session limit and the client networks allowed;
 * re-read on demand ({@linkcode UsersFileAuthorizer.reload}) without dropping
 * running sessions.
 *
 * @module
 */

import { LoggedInUsers } from "./logged_in_users.ts";
import { dirname, isAbsolute, resolve } from "node:path";
import {
  AuthenticationFailed,
  type Authorizer,
  AuthorizerError,
  LoginRefused,
  type Permission,
  PERMISSION_LETTERS,
  type UserSession,
} from "./authorizer.ts";
import { ANONYMOUS_USER, DummyAuthorizer, isWithin, WRITE_PERMISSIONS } from "./dummy.ts";
import {
  parsePasswordHash,
  type PasswordHash,
  PasswordHashError,
  PasswordVerifier,
  type PasswordVerifierOptions,
} from "./hashes.ts";
import { inNetwork, type Network, parseNetwork } from "./networks.ts";
import type { SessionInfo } from "../session_info.ts";
import { systemReason } from "../errors.ts";
import { parseSize, SIZE_SYNTAX } from "../sizes.ts";
import {
  hasControl,
  isTable,
  kindOf,
  parseToml,
  TomlLines,
  type TomlPath,
  TomlSyntaxError,
} from "../toml_file.ts";

/**
 * A users file that cannot be used: {@linkcode UsersFileError.message} names the
 * file, the line and the user (`users.toml:12: user "alice": unknown key "pasword"`).
 */
export class UsersFileError extends AuthorizerError {
  /** Always `"UsersFileError"`. */
  override name = "UsersFileError";
  /** The file, as it was named. */
  readonly file: string;
  /** The line (from 1) the problem is on; `null` for the file as a whole. */
  readonly line: number | null;
  /** The user the problem is in (`user #2` when it has no name); `null` outside any user. */
  readonly user: string | null;
  /** What is wrong, without the place. */
  readonly reason: string;

  /** The problem `reason` at `file`:`line`, in `user`. */
  constructor(file: string, line: number | null, user: string | null, reason: string) {
    const place = line === null ? file : `${file}:${line}`;
    super(`${place}: ${user === null ? "" : `${user}: `}${reason}`);
    this.file = file;
    this.line = line;
    this.user = user;
    this.reason = reason;
  }
}

/** A `[[user.override]]`: permission letters for a directory of the home. */
export interface UserOverride {
  /** The directory, relative to the home. */
  readonly path: string;
  /** The permission letters there. */
  readonly perm: string;
  /** Whether it covers the whole subtree (default: the directory and its files only). */
  readonly recursive: boolean;
}

/** One `[[user]]` of a users file, checked. */
export interface UserAccount {
  /** The login name. */
  readonly name: string;
  /** The password hash; `null` for `anonymous`, who logs in with any password. */
  readonly password: PasswordHash | null;
  /** The home directory, absolute (relative ones are taken from the file's directory). */
  readonly home: string;
  /** Permission letters in the home. */
  readonly perm: string;
  /** The 230 text, if set. */
  readonly msgLogin?: string;
  /** The 221 text, if set. */
  readonly msgQuit?: string;
  /** Directory overrides. */
  readonly overrides: readonly UserOverride[];
  /** Most bytes per second received by each session (uploads); 0: no limit; absent: the server's. */
  readonly uploadRate?: number;
  /** Most bytes per second sent by each session (downloads); 0: no limit; absent: the server's. */
  readonly downloadRate?: number;
  /** Most sessions logged in at once; absent or 0: no limit. */
  readonly maxSessions?: number;
  /** Most bytes of files the home may hold (`quota_bytes`); absent or 0: no limit. */
  readonly quotaBytes?: number;
  /** Most files the home may hold (`quota_files`); absent or 0: no limit. */
  readonly quotaFiles?: number;
  /** The client networks allowed; `null`: any. */
  readonly allowFrom: readonly Network[] | null;
  /** The line of its `[[user]]`. */
  readonly line: number;
}

/** What a users file holds, in numbers: the `check-config` summary. */
export interface UsersFileSummary {
  /** The file. */
  readonly file: string;
  /** Accounts, anonymous included. */
  readonly users: number;
  /** Whether there is an anonymous account. */
  readonly anonymous: boolean;
  /** Directory overrides, all users together. */
  readonly overrides: number;
}

/** Options of {@linkcode UsersFileAuthorizer.load}. */
export interface UsersFileAuthorizerOptions {
  /** Hears about risky settings, such as write access for anonymous (default `console.warn`). */
  warn?: (message: string) => void;
  /**
   * Whether every home must be an existing directory on this machine (default
   * true); turn it off when the homes are not on the local disk (a `MemoryFS`).
   */
  checkHomes?: boolean;
  /** How many password hashes are computed at once, and where ({@linkcode PasswordVerifierOptions}). */
  verifier?: PasswordVerifierOptions;
}

const USER_KEYS = [
  "name",
  "password",
  "home",
  "perm",
  "msg_login",
  "msg_quit",
  "upload_rate",
  "download_rate",
  "max_sessions",
  "quota_bytes",
  "quota_files",
  "allow_from",
  "override",
] as const;
const OVERRIDE_KEYS = ["path", "perm", "recursive"] as const;

// --- Checking the values --------------------------------------------------------------

/** Options of {@linkcode parseUsersFile}. */
export interface ParseUsersFileOptions {
  /**
   * Whether every home must be an existing directory on this machine (default
   * true); homes are then given as their real paths.
   */
  checkHomes?: boolean;
}

/**
 * Checks the text of the users file `file` and returns its accounts; throws
 * {@linkcode UsersFileError} naming the line and the user of the first problem.
 */
export async function parseUsersFile(
  text: string,
  file: string,
  options: ParseUsersFileOptions = {},
): Promise<UserAccount[]> {
  const lines = new TomlLines(text);
  let data: Record<string, unknown>;
  try {
    data = await parseToml(text);
  } catch (error) {
    if (!(error instanceof TomlSyntaxError)) throw error;
    let index = -1;
    while ((lines.exact(["user", index + 1]) ?? Infinity) <= error.line) index++;
    const name = lines.string(["user", index, "name"]);
    const user = index < 0
      ? null
      : name !== undefined
      ? `user ${JSON.stringify(name)}`
      : `user #${index + 1}`;
    throw new UsersFileError(file, error.line, user, `not valid TOML: ${error.reason}`);
  }
  for (const key of Object.keys(data)) {
    if (key !== "user") {
      throw new UsersFileError(
        file,
        lines.exact([key]),
        null,
        `unknown key ${JSON.stringify(key)} (a users file holds [[user]] tables only)`,
      );
    }
  }
  const users = data.user;
  if (users === undefined) return [];
  if (!Array.isArray(users)) {
    throw new UsersFileError(
      file,
      lines.exact(["user"]),
      null,
      "user must be an array of tables: write [[user]], not [user]",
    );
  }
  const base = dirname(resolve(file));
  const seen = new Map<string, number>();
  const accounts: UserAccount[] = [];
  for (const [index, entry] of users.entries()) {
    const at = ["user", index];
    const account = checkUser(entry, lines, at, file, base);
    const label = `user ${JSON.stringify(account.name)}`;
    const first = seen.get(account.name);
    if (first !== undefined) {
      throw new UsersFileError(
        file,
        account.line,
        label,
        `duplicate user: already defined on line ${first}`,
      );
    }
    seen.set(account.name, account.line);
    if (options.checkHomes === false) accounts.push(account);
    else {
      const home = await realHome(account.home).catch((error: Error) => {
        throw new UsersFileError(
          file,
          lines.exact([...at, "home"]) ?? account.line,
          label,
          error.message,
        );
      });
      accounts.push({ ...account, home });
    }
  }
  return accounts;
}

/**
 * Checks one account given with a `[[user]]`'s keys (`name`, `password`, `home`,
 * ...) by something other than a file, such as a database row: the same rules as
 * the users file's, its home absolute. Throws {@linkcode UsersFileError} naming
 * `source` and the user.
 */
export function checkAccount(entry: Record<string, unknown>, source: string): UserAccount {
  if (typeof entry.home === "string" && !isAbsolute(entry.home)) {
    const label = typeof entry.name === "string" ? `user ${JSON.stringify(entry.name)}` : null;
    throw new UsersFileError(source, null, label, `home ${entry.home} is not an absolute path`);
  }
  return checkUser(entry, new TomlLines(""), ["user", 0], source, "/");
}

function checkUser(
  entry: unknown,
  lines: TomlLines,
  at: TomlPath,
  file: string,
  base: string,
): UserAccount {
  const userLine = lines.exact(at);
  let label = `user #${Number(at[at.length - 1]) + 1}`;
  const fail = (key: string | null, reason: string): never => {
    const line = (key !== null ? lines.exact([...at, key]) : null) ?? userLine;
    throw new UsersFileError(file, line, label, reason);
  };
  if (!isTable(entry)) return fail(null, `a [[user]] must be a table, not ${kindOf(entry)}`);
  const name = entry.name;
  if (name === undefined) fail(null, "name is missing");
  if (typeof name !== "string") return fail("name", `name must be a string, not ${kindOf(name)}`);
  if (name === "" || name.trim() !== name || hasControl(name, "")) {
    fail(
      "name",
      `bad name ${JSON.stringify(name)}: empty, or with spaces around or control characters`,
    );
  }
  label = `user ${JSON.stringify(name)}`;
  for (const key of Object.keys(entry)) {
    if (!(USER_KEYS as readonly string[]).includes(key)) {
      fail(key, `unknown key ${JSON.stringify(key)} (known: ${USER_KEYS.join(", ")})`);
    }
  }
  const string = (key: string, value: unknown): string | undefined => {
    if (value === undefined) return undefined;
    if (typeof value !== "string") {
      return fail(key, `${key} must be a string, not ${kindOf(value)}`);
    }
    return value;
  };

  let password: PasswordHash | null = null;
  if (name === ANONYMOUS_USER) {
    if (entry.password !== undefined) {
      fail("password", "anonymous logs in without a password: remove its password");
    }
  } else {
    const text = string("password", entry.password);
    if (text === undefined) fail(null, "password is missing (a hash: `tsftpd hash-password`)");
    try {
      password = parsePasswordHash(text!);
    } catch (error) {
      if (!(error instanceof PasswordHashError)) throw error;
      fail("password", error.message);
    }
  }

  const homeText = string("home", entry.home);
  if (homeText === undefined) fail(null, "home is missing");
  if (homeText === "") fail("home", "home is empty");
  const home = isAbsolute(homeText!) ? resolve(homeText!) : resolve(base, homeText!);

  const perm = string("perm", entry.perm) ?? "elr";
  const wrongPerm = badPermission(perm);
  if (wrongPerm) fail("perm", wrongPerm);

  const message = (key: string) => {
    const text = string(key, entry[key]);
    if (text !== undefined && hasControl(text, "\n")) {
      fail(key, `${key} may hold line breaks but no other control characters`);
    }
    return text;
  };
  const msgLogin = message("msg_login");
  const msgQuit = message("msg_quit");

  const size = (key: string, unit: string) => {
    const value = entry[key];
    if (value === undefined) return undefined;
    const bytes = parseSize(value);
    if (bytes === null) {
      fail(key, `malformed size ${JSON.stringify(value)} for ${key}: ${unit}, ${SIZE_SYNTAX}`);
    }
    return bytes!;
  };
  const uploadRate = size("upload_rate", "bytes per second");
  const downloadRate = size("download_rate", "bytes per second");
  const quotaBytes = size("quota_bytes", "bytes (0: no limit)");

  const count = (key: string) => {
    const value = entry[key];
    if (value === undefined) return undefined;
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
      fail(key, `${key} must be a whole number (0: no limit), not ${JSON.stringify(value)}`);
    }
    return value as number;
  };
  const maxSessions = count("max_sessions");
  const quotaFiles = count("quota_files");

  let allowFrom: Network[] | null = null;
  if (entry.allow_from !== undefined) {
    const value = entry.allow_from;
    const list = typeof value === "string" ? [value] : value;
    if (!Array.isArray(list) || list.some((item) => typeof item !== "string")) {
      fail("allow_from", 'allow_from must be an array of networks, e.g. ["10.0.0.0/8", "::1"]');
    }
    if ((list as string[]).length === 0) {
      fail("allow_from", "allow_from is empty, so nobody could log in: remove the key or the user");
    }
    allowFrom = (list as string[]).map((text) =>
      parseNetwork(text) ??
        fail(
          "allow_from",
          `bad network ${JSON.stringify(text)} in allow_from: an IPv4 or IPv6 address, ` +
            `optionally with a /prefix (CIDR), e.g. "192.168.0.0/16" or "2001:db8::/32"`,
        )
    );
  }

  const overrides: UserOverride[] = [];
  if (entry.override !== undefined) {
    if (!Array.isArray(entry.override)) {
      fail("override", "override must be an array of tables: write [[user.override]]");
    }
    (entry.override as unknown[]).forEach((item, i) => {
      const failOverride = (key: string | null, reason: string): never => {
        const line = (key !== null ? lines.exact([...at, "override", i, key]) : null) ??
          lines.lineOf([...at, "override", i]) ?? userLine;
        throw new UsersFileError(file, line, label, reason);
      };
      if (!isTable(item)) return failOverride(null, "an override must be a table");
      for (const key of Object.keys(item)) {
        if (!(OVERRIDE_KEYS as readonly string[]).includes(key)) {
          failOverride(
            key,
            `unknown key ${JSON.stringify(key)} in [[user.override]] (known: ${
              OVERRIDE_KEYS.join(", ")
            })`,
          );
        }
      }
      if (typeof item.path !== "string" || item.path === "") {
        failOverride(
          item.path === undefined ? null : "path",
          "an override needs a path (a directory relative to the home)",
        );
      }
      const relative = (item.path as string).replace(/^\/+/, "");
      if (!isWithin(resolve(home, relative), home)) {
        failOverride("path", `override path ${JSON.stringify(item.path)} leaves the home`);
      }
      if (typeof item.perm !== "string") {
        failOverride(item.perm === undefined ? null : "perm", "an override needs perm letters");
      }
      const wrongOverride = badPermission(item.perm as string);
      if (wrongOverride) failOverride("perm", wrongOverride);
      if (item.recursive !== undefined && typeof item.recursive !== "boolean") {
        failOverride("recursive", "recursive must be true or false");
      }
      overrides.push({
        path: relative,
        perm: item.perm as string,
        recursive: item.recursive === true,
      });
    });
  }

  return {
    name,
    password,
    home,
    perm,
    ...(msgLogin !== undefined && { msgLogin }),
    ...(msgQuit !== undefined && { msgQuit }),
    overrides,
    ...(uploadRate !== undefined && { uploadRate }),
    ...(downloadRate !== undefined && { downloadRate }),
    ...(maxSessions !== undefined && { maxSessions }),
    ...(quotaBytes !== undefined && { quotaBytes }),
    ...(quotaFiles !== undefined && { quotaFiles }),
    allowFrom,
    line: userLine ?? 0,
  };
}

// --- The table of one reading -------------------------------------------------------------

/** Verifies a password against an account (the authorizer's verifier). */
export type Check = (
  account: UserAccount,
  password: string,
  session?: SessionInfo,
) => Promise<void>;

/**
 * The accounts of one reading of the file: a {@linkcode DummyAuthorizer} (homes,
 * permissions and overrides, messages) whose passwords are hashes. Sessions keep
 * the table they logged in with.
 */
export class UserTable extends DummyAuthorizer {
  /** The accounts, by name. */
  readonly accounts: ReadonlyMap<string, UserAccount>;
  readonly #check: Check;

  /** The table of `accounts`, whose passwords `check` verifies; call {@linkcode fill} next. */
  constructor(accounts: UserAccount[], check: Check, warn: (message: string) => void) {
    super({ warn });
    this.accounts = new Map(accounts.map((account) => [account.name, account]));
    this.#check = check;
  }

  /** Adds every account; `file` and the accounts' lines for the errors. */
  fill(file: string): void {
    for (const account of this.accounts.values()) {
      const label = `user ${JSON.stringify(account.name)}`;
      const home = account.home;
      this.userTable.set(account.name, {
        passwordDigest: null,
        home,
        perm: account.perm,
        overrides: [],
        msgLogin: account.msgLogin ?? "Login successful.",
        msgQuit: account.msgQuit ?? "Goodbye.",
      });
      for (const override of account.overrides) {
        try {
          this.overridePerm(
            account.name,
            resolve(home, override.path),
            override.perm,
            override.recursive,
          );
        } catch (error) {
          throw new UsersFileError(file, account.line, label, (error as Error).message);
        }
      }
    }
  }

  /** Verifies `password` for an account of this table. */
  override async validateAuthentication(
    username: string,
    password: string,
    session?: SessionInfo,
  ): Promise<void> {
    const account = this.accounts.get(username);
    if (!account) throw new AuthenticationFailed("no such user");
    await this.#check(account, password, session);
  }
}

/** The real path of the home directory `path`; throws, saying why, if it is none. */
export async function realHome(path: string): Promise<string> {
  let real: string;
  try {
    real = await Deno.realPath(path);
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound ? "does not exist" : systemReason(error);
    throw new Error(`home ${path} ${reason}`);
  }
  if (!(await Deno.stat(real)).isDirectory) throw new Error(`home ${path} is not a directory`);
  return real;
}

// --- The authorizer -----------------------------------------------------------------

/** The grant's quota field for `account`: none when it sets no limit. */
export function quotaOf(account: UserAccount): Pick<UserSession, "quota"> {
  if (!account.quotaBytes && !account.quotaFiles) return {};
  return { quota: { bytes: account.quotaBytes ?? 0, files: account.quotaFiles ?? 0 } };
}

/**
 * Checks a login to `account`: the client's network (`allow_from`, refused with
 * {@linkcode LoginRefused}), then the password with `verifier`
 * ({@linkcode AuthenticationFailed}). Shared by every store of such accounts.
 */
export async function checkLogin(
  account: UserAccount,
  password: string,
  verifier: PasswordVerifier,
  session?: SessionInfo,
): Promise<void> {
  if (account.allowFrom) {
    const ip = session?.remoteIp;
    if (ip === undefined || !account.allowFrom.some((network) => inNetwork(ip, network))) {
      throw new LoginRefused(
        `client address ${ip ?? "(unknown)"} is not in allow_from ` +
          `(${account.allowFrom.map((network) => network.text).join(", ")})`,
      );
    }
  }
  if (account.password && !await verifier.verify(account.password, password)) {
    throw new AuthenticationFailed("wrong password");
  }
}

/**
 * The accounts of a TOML users file. Passwords are hashes (argon2id, bcrypt,
 * scrypt, SHA-512-crypt), verified off the event loop; each account may have
 * directory overrides, upload and download rate limits, a most-sessions limit and
 * the client networks it may log in from.
 *
 * ```ts
 * import { FTPServer, UsersFileAuthorizer } from "../../mod.ts";
 *
 * const authorizer = await UsersFileAuthorizer.load("/etc/tsftpd/users.toml");
 * const server = new FTPServer({ port: 21, authorizer });
 * Deno.addSignalListener("SIGHUP", () => authorizer.reload().catch(console.error));
 * await server.serve();
 * ```
 *
 * {@linkcode UsersFileAuthorizer.reload} reads the file again: new logins see the
 * change; sessions already logged in keep the account as it was at their login; a
 * broken file is refused with a {@linkcode UsersFileError} and the accounts stay.
 */
export class UsersFileAuthorizer implements Authorizer, Disposable {
  /** The users file. */
  readonly path: string;
  readonly #options: UsersFileAuthorizerOptions;
  readonly #verifier: PasswordVerifier;
  #table: UserTable;
  /** Logged-in sessions by user name, across reloads. */
  readonly #loggedIn = new LoggedInUsers();
  /** The table that validated a session's password, until its session starts. */
  readonly #validated = new WeakMap<SessionInfo, UserTable>();

  private constructor(path: string, options: UsersFileAuthorizerOptions, table: UserTable) {
    this.path = path;
    this.#options = options;
    this.#table = table;
    this.#verifier = new PasswordVerifier(options.verifier);
  }

  /** Reads and checks the users file `path`; throws {@linkcode UsersFileError} if it cannot be used. */
  static async load(
    path: string,
    options: UsersFileAuthorizerOptions = {},
  ): Promise<UsersFileAuthorizer> {
    const authorizer = new UsersFileAuthorizer(path, options, new UserTable([], noCheck, noWarn));
    await authorizer.reload();
    return authorizer;
  }

  /**
   * Reads the file again and, if it can be used, puts its accounts in place for
   * new logins; otherwise throws {@linkcode UsersFileError} and keeps the accounts
   * in place. Sessions already logged in keep their account as it was.
   */
  async reload(): Promise<UsersFileSummary> {
    let text: string;
    try {
      text = await Deno.readTextFile(this.path);
    } catch (error) {
      const reason = systemReason(error);
      throw new UsersFileError(this.path, null, null, `cannot read the users file: ${reason}`);
    }
    const accounts = await parseUsersFile(text, this.path, {
      checkHomes: this.#options.checkHomes,
    });
    const warn = this.#options.warn ?? ((message: string) => console.warn(`Warning: ${message}`));
    const table = new UserTable(
      accounts,
      (account, password, session) => this.#check(account, password, session),
      warn,
    );
    table.fill(this.path);
    const anonymous = accounts.find((account) => account.name === ANONYMOUS_USER);
    if (anonymous && [...anonymous.perm].some((letter) => WRITE_PERMISSIONS.includes(letter))) {
      warn("write permissions assigned to anonymous user.");
    }
    this.#table = table;
    return this.summary;
  }

  /** What the accounts in place hold, in numbers. */
  get summary(): UsersFileSummary {
    const accounts = [...this.#table.accounts.values()];
    return {
      file: this.path,
      users: accounts.length,
      anonymous: this.#table.accounts.has(ANONYMOUS_USER),
      overrides: accounts.reduce((sum, account) => sum + account.overrides.length, 0),
    };
  }

  /** The accounts in place, by name. */
  get accounts(): ReadonlyMap<string, UserAccount> {
    return this.#table.accounts;
  }

  /** How many sessions `username` has logged in right now. */
  sessions(username: string): number {
    return this.#loggedIn.sessions(username);
  }

  /**
   * Checks the client's network, then the password: an unknown user costs an
   * argon2id verification too; a network not in `allow_from` is refused with
   * {@linkcode LoginRefused} before the password is looked at.
   */
  async validateAuthentication(
    username: string,
    password: string,
    session?: SessionInfo,
  ): Promise<void> {
    const table = this.#table;
    await table.validateAuthentication(username, password, session).catch(async (error) => {
      if (!table.accounts.has(username)) await this.#verifier.verifyNobody(password);
      throw error;
    });
    if (session) this.#validated.set(session, table);
  }

  #check(account: UserAccount, password: string, session?: SessionInfo): Promise<void> {
    return checkLogin(account, password, this.#verifier, session);
  }

  /**
   * Counts the session against the user's `max_sessions` (refusing it with
   * {@linkcode LoginRefused} past that) and grants it the user's rate budgets
   * (shared by all its sessions), quota and the table it logged in with.
   */
  startSession(username: string, session: SessionInfo): Promise<UserSession> {
    const table = this.#validated.get(session) ?? this.#table;
    this.#validated.delete(session);
    const account = table.accounts.get(username);
    if (!account) return Promise.reject(new AuthenticationFailed("no such user"));
    const open = this.sessions(username);
    const max = account.maxSessions ?? 0;
    if (max > 0 && open >= max) {
      return Promise.reject(
        new LoginRefused(
          `${open} session${open === 1 ? "" : "s"} already logged in, max_sessions is ${max}`,
          `Too many sessions for this user (at most ${max}); try again later.`,
        ),
      );
    }
    const joined = this.#loggedIn.join(username, account);
    return Promise.resolve({
      authorizer: table,
      ...joined.rates,
      ...quotaOf(account),
      end: joined.leave,
    });
  }

  /** The real home directory of `username`. */
  getHomeDir(username: string): Promise<string> {
    return this.#table.getHomeDir(username);
  }

  /** Whether `username` may do `perm` on `path`, overrides considered. */
  hasPerm(
    username: string,
    perm: Permission,
    path?: string,
    isDirectory?: () => Promise<boolean>,
  ): Promise<boolean> {
    return this.#table.hasPerm(username, perm, path, isDirectory);
  }

  /** The permission letters of `username` in their home. */
  getPerms(username: string): Promise<string> {
    return this.#table.getPerms(username);
  }

  /** The 230 text of `username`. */
  getMsgLogin(username: string): Promise<string> {
    return this.#table.getMsgLogin(username);
  }

  /** The 221 text of `username`. */
  getMsgQuit(username: string): Promise<string> {
    return this.#table.getMsgQuit(username);
  }

  /** Does nothing: the accounts are virtual users, acting as the server's system user. */
  impersonateUser(_username: string, _password: string): Promise<void> {
    return Promise.resolve();
  }

  /** Does nothing: see {@linkcode UsersFileAuthorizer.impersonateUser}. */
  terminateImpersonation(_username: string): Promise<void> {
    return Promise.resolve();
  }

  /** Ends the workers that verify SHA-512-crypt hashes (started at the first such login). */
  close(): void {
    this.#verifier.close();
  }

  /** Same as {@linkcode UsersFileAuthorizer.close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}

const noCheck: Check = () => Promise.reject(new AuthenticationFailed("no accounts"));
const noWarn = () => {};

/** Why `letters` is no permission string (a letter that is no permission), if it is not one. */
function badPermission(letters: string): string | undefined {
  const bad = [...letters].find((letter) => !PERMISSION_LETTERS.includes(letter));
  if (bad === undefined) return undefined;
  return `bad permission letter ${JSON.stringify(bad)} in ${JSON.stringify(letters)} ` +
    `(letters: ${PERMISSION_LETTERS})`;
}

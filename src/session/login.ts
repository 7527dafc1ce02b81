/**
 * {@linkcode Login}: who the session is logged in as, and the only code that
 * changes it (USER, PASS, REIN, QUIT call it through the command context).
 *
 * @module
 */

import {
  AuthenticationFailed,
  type Authorizer,
  AuthorizerUnavailable,
  LoginRefused,
  type UserSession,
} from "../auth/authorizer.ts";
import type { LoginControl } from "../commands/table.ts";
import type { DTPOptions } from "../data/dtp.ts";
import type { DefenderEvent } from "../defender/defender.ts";
import type { SessionInfo } from "../session_info.ts";
import type { FileSystem } from "../fs/filesystem.ts";
import { measureUsage, openQuota, type Quota } from "../fs/quota.ts";
import type { LogFields, LogLevel } from "../log.ts";
import type { HandlerConfig } from "../options.ts";

/** What a {@linkcode Login} needs of its session. */
export interface LoginHost {
  /** The session's settings (the authorizer among them). */
  readonly config: HandlerConfig;
  /** Who is connected, for the filesystem factory. */
  readonly info: SessionInfo;
  /** Aborted when the session closes: a failed login's delay ends with it. */
  readonly closing: AbortSignal;
  /** Sends a reply. */
  reply(code: number, text: string): Promise<void>;
  /** Writes a log line about the session. */
  log(level: LogLevel, message: string, fields?: LogFields): void;
  /** Runs a login event callback. */
  emit(
    event: "onLogin" | "onLoginFailed" | "onLogout",
    username: string,
    password?: string,
  ): Promise<void>;
  /** Reports what the client did wrong to the defender (which may close the session). */
  offence(event: DefenderEvent): Promise<void>;
  /** Forgets the settings and the data channel of the user who logged out. */
  reset(): void;
  /** Makes `directory` the current one: where the user who logged in starts. */
  enter(directory: string): void;
  /** Ends the session (too many failed logins). */
  close(): void;
}

/** Resolves after `seconds`, or at once when `signal` aborts. */
function delay(seconds: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, seconds * 1000);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}

/**
 * The filesystem `make` gives, once the directory the session starts in is seen
 * to be one (a disk's home may be missing or a file); otherwise why not, for the log.
 */
async function openHome(make: () => FileSystem): Promise<FileSystem | string> {
  try {
    const fs = make();
    const { type } = await fs.stat(fs.startDirectory ?? "/");
    return type === "dir" ? fs : "is not a directory";
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return `cannot be used: ${reason.replace(/\.$/, "")}`;
  }
}

/** One session's login state: the user named, whether they are logged in, their filesystem. */
export class Login implements LoginControl {
  readonly #host: LoginHost;
  #username = "";
  #password = "";
  #fs: FileSystem | null = null;
  #home: string | null = null;
  #failures = 0;
  #grant: UserSession | null = null;
  #dtp: DTPOptions | null = null;
  #quota: Quota | null = null;

  /** The login state of the session `host`, logged out. */
  constructor(host: LoginHost) {
    this.#host = host;
  }

  /** The user name given by USER (logged in or not). */
  get username(): string {
    return this.#username;
  }

  /** Whether USER and PASS succeeded. */
  get authenticated(): boolean {
    return this.#fs !== null;
  }

  /** The logged-in user's filesystem. */
  get fs(): FileSystem | null {
    return this.#fs;
  }

  /** The logged-in user's home, as the authorizer names it. */
  get home(): string | null {
    return this.#home;
  }

  /** The authorizer that answers for the logged-in user: the one their login granted, or the server's. */
  get authorizer(): Authorizer {
    return this.#grant?.authorizer ?? this.#host.config.authorizer;
  }

  /** The logged-in user's quota, if their login was granted one. */
  get quota(): Quota | null {
    return this.#quota;
  }

  /** The data transfer settings of this login: the server's, with the user's rate limits. */
  get dtp(): DTPOptions {
    return this.#dtp ?? this.#host.config.dtp;
  }

  /** USER: names the user to log in as; a logged-in user is logged out first. */
  async user(username: string): Promise<void> {
    if (this.authenticated) await this.logout();
    this.#username = username;
    // 331 for every name, so replies never tell which users exist (RFC 2577).
    await this.#host.reply(331, "Username ok, send password.");
  }

  /** PASS: checks `password` for the named user, logging in or counting the failure. */
  async pass(password: string): Promise<void> {
    const { authorizer, abstractedFs } = this.#host.config;
    const username = this.#username;
    let grant: UserSession;
    try {
      await authorizer.validateAuthentication(username, password, this.#host.info);
      grant = (await authorizer.startSession?.(username, this.#host.info)) ?? {};
    } catch (error) {
      if (error instanceof AuthorizerUnavailable) return await this.#unavailable(username, error);
      // Unknown user, wrong password or a refusal: answered alike, but for a refusal's text.
      if (!(error instanceof AuthenticationFailed)) this.#authorizerFailed(error);
      return this.#failed(username, password, error instanceof LoginRefused ? error : null);
    }
    const users = grant.authorizer ?? authorizer;
    let home: string;
    try {
      home = await users.getHomeDir(username);
    } catch (error) {
      await this.#end(grant);
      this.#authorizerFailed(error);
      return this.#failed(username, password, null);
    }
    const fs = await openHome(() => grant.filesystem ?? abstractedFs(home, this.#host.info));
    if (typeof fs === "string") {
      await this.#end(grant);
      this.#host.config.metrics?.loginEnded("refused");
      this.#host.log("error", `USER '${username}' refused: home ${JSON.stringify(home)} ${fs}.`, {
        event: "login_refused",
      });
      this.#username = "";
      return await this.#host.reply(530, "Home directory not available.");
    }
    if (grant.quota && ((grant.quota.bytes ?? 0) > 0 || (grant.quota.files ?? 0) > 0)) {
      // Counted while the user has no other session here; shared with those they have.
      this.#quota = await openQuota(
        this.#host.config,
        username,
        home,
        grant.quota,
        () => measureUsage(fs),
      );
      this.#host.log("debug", `quota of '${username}': ${this.#quota.describe()}`);
    }
    this.#password = password;
    this.#failures = 0;
    this.#fs = fs;
    this.#home = home;
    this.#grant = grant;
    this.#host.enter(fs.startDirectory ?? "/");
    const { readLimit, writeLimit, readRate, writeRate } = grant;
    this.#dtp = {
      ...this.#host.config.dtp,
      ...(readLimit !== undefined && { readLimit }),
      ...(writeLimit !== undefined && { writeLimit }),
      ...(readRate && { readRate }),
      ...(writeRate && { writeRate }),
    };
    this.#host.config.metrics?.loginEnded("ok");
    this.#host.log("info", `USER '${username}' logged in.`, { event: "login" });
    await this.#host.reply(230, await users.getMsgLogin(username));
    await this.#host.emit("onLogin", username);
  }

  /** Logs what an authorizer threw that is not a refusal: a bug or an unreachable user store. */
  #authorizerFailed(error: unknown): void {
    const detail = error instanceof Error ? error.stack ?? error.message : String(error);
    this.#host.log("error", `authorizer failed: ${detail}`);
  }

  /** The authorizer cannot answer (its user store is down): 421, and the session ends. */
  async #unavailable(username: string, error: AuthorizerUnavailable): Promise<void> {
    this.#host.log("error", `USER '${username}' not logged in: ${error.message}`);
    this.#username = "";
    await this.#host.reply(421, "Service not available, try again later.");
    this.#host.close();
  }

  async #failed(username: string, password: string, refusal: LoginRefused | null): Promise<void> {
    const host = this.#host;
    this.#failures++;
    host.config.metrics?.loginEnded(refusal ? "refused" : "failed");
    if (refusal) {
      host.log("warning", `USER '${username}' refused: ${refusal.message}.`, {
        event: "login_refused",
      });
    } else host.log("info", `USER '${username}' failed login.`, { event: "login_failed" });
    await host.emit("onLoginFailed", username, password);
    await host.offence("loginFailed");
    if (host.closing.aborted) return;
    await delay(host.config.authFailedTimeout, host.closing);
    if (this.#failures >= host.config.maxLoginAttempts) {
      await host.reply(530, "Maximum login attempts. Disconnecting.");
      host.close();
      return;
    }
    this.#username = "";
    await host.reply(530, refusal?.reply ?? "Authentication failed.");
  }

  /** Forgets the user, calling `onLogout` for a logged-in one. */
  async logout(): Promise<void> {
    const username = this.#username;
    const wasLoggedIn = this.authenticated;
    if (wasLoggedIn) {
      this.#host.log("info", `USER '${username}' logged out.`, { event: "logout" });
    }
    this.#username = "";
    this.#password = "";
    this.#fs = null;
    this.#home = null;
    await this.#endGrant();
    this.#host.reset();
    if (wasLoggedIn) await this.#host.emit("onLogout", username);
  }

  /** The session is closing: ends what the authorizer granted the login, if any. */
  async close(): Promise<void> {
    await this.#endGrant();
  }

  async #endGrant(): Promise<void> {
    const grant = this.#grant;
    this.#grant = null;
    this.#dtp = null;
    this.#quota?.[Symbol.dispose]();
    this.#quota = null;
    if (grant) await this.#end(grant);
  }

  /** Ends `grant`, logging (never propagating) what it throws. */
  async #end(grant: UserSession): Promise<void> {
    try {
      await grant.end?.();
    } catch (error) {
      this.#authorizerFailed(error);
    }
  }

  /** Runs `action` as the logged-in user (the authorizer's impersonation around it). */
  async impersonating(action: () => void | Promise<void>): Promise<void> {
    if (!this.authenticated) return await action();
    const authorizer = this.authorizer;
    const username = this.#username;
    await authorizer.impersonateUser(username, this.#password);
    try {
      await action();
    } finally {
      await authorizer.terminateImpersonation(username);
    }
  }
}

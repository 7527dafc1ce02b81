/**
 * {@linkcode FTPHandler}: one control connection, from the 220 greeting to the
 * close. It reads command lines, runs each through the command table's checks,
 * and owns the session's state: login, filesystem view, TYPE, REST, RNFR, and
 * the data channel with its current transfer.
 *
 * @module
 */

import type { Permission } from "./auth/authorizer.ts";
import type { Command, CommandSpec } from "./commands/table.ts";
import type { BufferPool } from "./data/buffer_pool.ts";
import { DataChannel, DataConnectError } from "./data/channel.ts";
import { DTPHandler, TransferError } from "./data/dtp.ts";
import type { AbstractedFS } from "./fs/abstracted_fs.ts";
import { describeFsError, isFsError, isStorageFull } from "./fs/errors.ts";
import { DEFAULT_MLST_FACTS } from "./fs/facts.ts";
import { LineReader } from "./line_reader.ts";
import type { Logger } from "./log.ts";
import { normalizeIp } from "./net.ts";
import type { HandlerConfig } from "./options.ts";
import { TlsHandshakeError, upgradeToTls } from "./tls.ts";
import { type Transport, writeAll } from "./transport.ts";

/** A path argument resolved inside the user's jail. */
export interface ResolvedPath {
  /** The normalized virtual path the client sees. */
  ftp: string;
  /** The real path on disk. */
  real: string;
}

/** The work a transfer command hands to {@linkcode FTPHandler.startTransfer}. */
export interface TransferJob {
  /** The command, for the log line: RETR, STOR, APPE, STOU, LIST, NLST. */
  command: string;
  /** The file's real path, for the log line and the callbacks; absent for listings. */
  path?: string;
  /** Whether a file is sent to the client or received from it. */
  direction: "send" | "receive";
  /** Text of the 125/150 reply, when not the standard one (STOU's `FILE: name`). */
  preliminary?: string;
  /** Moves the bytes over the open data connection. */
  run(dtp: DTPHandler): Promise<void>;
  /** Releases the file; called before the final reply. */
  close?(): void;
}

/** The transfer a session is running. */
export interface ActiveTransfer {
  /** What is being transferred. */
  readonly job: TransferJob;
  /** The data transfer, once the data connection is open. */
  dtp: DTPHandler | null;
  /** Settles when the final reply has been sent. */
  done: Promise<void>;
}

/** What a session needs of the server that accepted it. */
export interface SessionHost {
  /** The settings every session shares. */
  readonly config: HandlerConfig;
  /** Where log lines go. */
  readonly logger: Logger;
  /** The transfer buffers every session shares. */
  readonly buffers: BufferPool;
}

const encoder = new TextEncoder();

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
 * Formats a reply: `code text`, or a multi-line `code-` ... `code ` reply when text
 * has newlines. A CR (in a path name) is sent as CR NUL, as RFC 2640 asks.
 */
export function formatReply(code: number, text: string): string {
  const lines = text.replaceAll("\r", "\r\0").split("\n");
  if (lines.length === 1) return `${code} ${lines[0]}\r\n`;
  const last = lines.pop();
  const [first, ...middle] = lines;
  return `${code}-${first}\r\n` + middle.map((line) => ` ${line}\r\n`).join("") +
    `${code} ${last}\r\n`;
}

/**
 * The Protocol Interpreter of one control connection (pyftplib's `FTPHandler`).
 * Subclass it to hook the event callbacks (`onLogin`, `onFileReceived`, ...) and
 * pass the subclass as the server's `handler`.
 */
export class FTPHandler {
  /** The control connection. */
  readonly conn: Deno.Conn;
  /** The shared settings. */
  readonly config: HandlerConfig;
  /** Where log lines go. */
  readonly logger: Logger;
  /** The client's address (IPv4-mapped addresses in plain IPv4 form). */
  readonly remoteIp: string;
  /** The client's port. */
  readonly remotePort: number;
  /** The server address the client connected to. */
  readonly localIp: string;
  /** The data channel that PASV and PORT prepare. */
  readonly data: DataChannel;
  /** The user name given by USER (logged in or not). */
  username = "";
  /** Whether USER and PASS succeeded. */
  authenticated = false;
  /** The user's filesystem view, once logged in. */
  fs: AbstractedFS | null = null;
  /** TYPE: `"A"` (ASCII, the RFC's default) or `"I"` (binary). */
  transferType: "A" | "I" = "A";
  /** The REST offset for the next transfer. */
  restartPosition = 0;
  /** The real path named by RNFR, waiting for RNTO. */
  renameFrom: string | null = null;
  /** Whether EPSV ALL was sent: from then on only EPSV may set up data connections (RFC 2428). */
  epsvAll = false;
  /** The facts MLST and MLSD report, as OPTS MLST chose them. */
  mlstFacts: readonly string[] = DEFAULT_MLST_FACTS;
  /** Whether the control connection is TLS (after AUTH, or implicit FTPS). */
  tlsControl = false;
  /** Whether PBSZ was sent (PROT must follow it, RFC 4217). */
  pbszSent = false;
  /** Whether data connections use TLS (PROT P). */
  protP = false;

  #transfer: ActiveTransfer | null = null;
  #password = "";
  #failedLogins = 0;
  /** Aborted when the session closes: waits (a failed login's delay) end with it. */
  readonly #closing = new AbortController();
  get #closed(): boolean {
    return this.#closing.signal.aborted;
  }
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  #replies: Promise<void> = Promise.resolve();
  #transport: Transport;
  #lines: LineReader;
  readonly #buffers: BufferPool;

  /** The session of the control connection `conn`, accepted by `host`. */
  constructor(conn: Deno.Conn, host: SessionHost) {
    this.conn = conn;
    this.config = host.config;
    this.logger = host.logger;
    const remote = conn.remoteAddr as Deno.NetAddr;
    this.remoteIp = normalizeIp(remote.hostname);
    this.remotePort = remote.port;
    this.localIp = normalizeIp((conn.localAddr as Deno.NetAddr).hostname);
    this.#transport = conn;
    this.#buffers = host.buffers;
    this.#lines = new LineReader(conn, this.config.maxLineLength);
    this.data = new DataChannel(this.remoteIp, {
      connectTimeout: this.config.dataConnectTimeout,
      permitForeignAddresses: this.config.permitForeignAddresses,
      onRefused: (message) => this.log("warning", message),
    });
  }

  // --- Event callbacks: override in a subclass. They may be async. -----------------

  /** Called when the client connects. */
  onConnect(): void | Promise<void> {}
  /** Called when the connection is closed. */
  onDisconnect(): void | Promise<void> {}
  /** Called when a user logs in. */
  onLogin(_username: string): void | Promise<void> {}
  /** Called when a login fails. */
  onLoginFailed(_username: string, _password: string): void | Promise<void> {}
  /** Called when a user logs out with QUIT, REIN or a second USER. */
  onLogout(_username: string): void | Promise<void> {}
  /** Called with the real path of a file sent completely. */
  onFileSent(_file: string): void | Promise<void> {}
  /** Called with the real path of a file received completely. */
  onFileReceived(_file: string): void | Promise<void> {}
  /** Called with the real path of a file whose sending did not finish. */
  onIncompleteFileSent(_file: string): void | Promise<void> {}
  /** Called with the real path of a file whose receiving did not finish. */
  onIncompleteFileReceived(_file: string): void | Promise<void> {}

  /** Runs a callback, logging (never propagating) what it throws. */
  async emit<K extends EventName>(event: K, ...args: Parameters<FTPHandler[K]>): Promise<void> {
    try {
      await (this[event] as (...a: unknown[]) => void | Promise<void>)(...args);
    } catch (error) {
      this.log("error", `${event} callback failed: ${errorText(error)}`);
    }
  }

  // --- Logging ----------------------------------------------------------------------

  /** The session part of a log line, from `config.logPrefix`. */
  get logPrefix(): string {
    return this.config.logPrefix
      .replaceAll("%(remote_ip)s", this.remoteIp)
      .replaceAll("%(remote_port)s", String(this.remotePort))
      .replaceAll("%(username)s", this.username);
  }

  /** Writes a log line about this session. */
  log(level: "debug" | "info" | "warning" | "error", message: string): void {
    if (this.logger.enabled(level)) this.logger.log(level, `${this.logPrefix} ${message}`);
  }

  // --- The session's life -------------------------------------------------------------

  /** Serves the connection until the client quits or vanishes, or {@linkcode close} is called. */
  async handle(): Promise<void> {
    this.log("info", "FTP session opened (connect)");
    await this.emit("onConnect");
    try {
      if (this.config.tls?.implicit) await this.secureControl();
      await this.reply(220, this.config.banner);
      this.#armIdleTimer();
      while (!this.#closed) {
        const line = await this.#lines.next();
        if (line === null) break;
        this.#armIdleTimer();
        if (line.kind === "too-long") await this.reply(500, "Command line too long.");
        else if (line.kind === "not-utf8") {
          await this.reply(500, "Command line is not valid UTF-8.");
        } else await this.#dispatch(line.text);
      }
    } catch (error) {
      if (error instanceof TlsHandshakeError) this.log("warning", error.message);
      else if (!this.#closed) this.log("debug", `control connection error: ${errorText(error)}`);
    } finally {
      await this.#shutdown();
    }
  }

  /** Closes the session: any transfer is aborted and the control connection closed. */
  close(): void {
    if (this.#closed) return;
    this.#closing.abort();
    clearTimeout(this.#idleTimer);
    this.#transfer?.dtp?.abort("aborted");
    this.data.close();
    try {
      // The control transport is the connection itself, or TLS over it (closing both).
      this.#transport.close();
    } catch {
      // Already closed.
    }
  }

  /**
   * Switches the control connection to TLS, once the 234 reply to AUTH has gone
   * out (or at once, for implicit FTPS). Whatever the client sent before the
   * handshake is dropped with the old reader, never run as a command
   * (CVE-2011-1575). Throws {@linkcode TlsHandshakeError} when the handshake fails.
   */
  async secureControl(): Promise<void> {
    const tls = this.config.tls!;
    await this.#replies;
    const transport = await upgradeToTls(
      this.conn,
      tls.context,
      this.config.dataConnectTimeout * 1000,
    );
    this.#transport = transport;
    this.#lines = new LineReader(transport, this.config.maxLineLength);
    this.tlsControl = true;
    this.log("debug", "control connection secured with TLS");
  }

  async #shutdown(): Promise<void> {
    const transfer = this.#transfer;
    this.close();
    if (transfer) await transfer.done;
    this.log("info", "FTP session closed (disconnect).");
    await this.emit("onDisconnect");
  }

  #armIdleTimer(): void {
    clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(() => this.#idle(), this.config.timeout * 1000);
  }

  async #idle(): Promise<void> {
    if (this.#closed) return;
    if (this.#transfer) {
      this.#armIdleTimer();
      return;
    }
    this.log("info", "Control connection timed out.");
    await this.reply(421, "Control connection timed out.");
    this.close();
  }

  // --- Replies ------------------------------------------------------------------------

  /** Sends a reply; replies go out in the order asked for. A broken connection closes the session. */
  reply(code: number, text: string): Promise<void> {
    const wire = formatReply(code, text);
    this.#replies = this.#replies.then(async () => {
      if (this.#closed) return;
      this.log("debug", `-> ${wire.trimEnd().replaceAll("\r\n", "\\r\\n")}`);
      try {
        await writeAll(this.#transport, encoder.encode(wire));
      } catch (error) {
        this.log("debug", `cannot send reply: ${errorText(error)}`);
        this.close();
      }
    });
    return this.#replies;
  }

  /** Replies to a failed filesystem call: 550 with a plain text, or 452 when the disk is full. */
  replyFsError(error: unknown): Promise<void> {
    if (isStorageFull(error)) {
      return this.reply(452, `Insufficient storage space: ${describeFsError(error)}`);
    }
    return this.reply(550, describeFsError(error));
  }

  // --- Commands -------------------------------------------------------------------------

  /** The command table this session dispatches through. */
  get commands(): ReadonlyMap<string, CommandSpec> {
    return this.config.commands;
  }

  async #dispatch(line: string): Promise<void> {
    const command = this.#parse(line);
    this.log("debug", command.name === "PASS" ? "<- PASS ******" : `<- ${line}`);
    const spec = this.commands.get(command.name);
    if (!spec?.duringTransfer && this.#transfer) await this.#transfer.done;
    if (this.#closed) return;
    if (!spec) return this.reply(500, `Command "${command.name}" not understood.`);
    try {
      await this.#process(spec, command);
    } catch (error) {
      if (isFsError(error)) return this.replyFsError(error);
      this.log("error", `${command.name} failed unexpectedly: ${(error as Error)?.stack ?? error}`);
      await this.reply(451, "Requested action aborted: local error in processing.");
    }
  }

  #parse(line: string): Command {
    const space = line.indexOf(" ");
    const verb = (space < 0 ? line : line.slice(0, space)).toUpperCase();
    const arg = space < 0 ? "" : line.slice(space + 1);
    if (verb !== "SITE" || !arg) return { name: verb, arg };
    const subSpace = arg.indexOf(" ");
    const sub = (subSpace < 0 ? arg : arg.slice(0, subSpace)).toUpperCase();
    return { name: `SITE ${sub}`, arg: subSpace < 0 ? "" : arg.slice(subSpace + 1) };
  }

  /** The checks every command goes through, in order, then the command itself. */
  async #process(spec: CommandSpec, command: Command): Promise<void> {
    if (spec.auth && !this.authenticated) {
      return this.reply(530, "Log in with USER and PASS first.");
    }
    if (spec.arg === "required" && !command.arg) {
      return this.reply(501, "Syntax error: command needs an argument.");
    }
    if (spec.arg === "none" && command.arg) {
      return this.reply(501, "Syntax error: command does not accept arguments.");
    }
    const tls = this.config.tls;
    if (spec.tls === "control" && tls?.controlRequired && !this.tlsControl) {
      return this.reply(550, "SSL/TLS required on the control channel: use AUTH TLS first.");
    }
    if (spec.tls === "data" && tls?.dataRequired && !this.protP) {
      return this.reply(550, "SSL/TLS required on the data channel: use PBSZ 0 and PROT P first.");
    }
    if (spec.path && (command.arg || spec.auth)) {
      if (!this.authenticated) return this.reply(530, "Log in with USER and PASS first.");
      const arg = spec.listOptions ? stripListOptions(command.arg) : command.arg;
      const path = await this.resolvePath(arg || ".", spec.perm);
      if (!path) return;
      command.path = path;
    } else if (spec.perm && spec.auth && !await this.hasPerm(spec.perm)) {
      return this.reply(550, "Not enough privileges.");
    }
    if (!this.authenticated) return spec.run(this, command);
    const { authorizer } = this.config;
    const username = this.username;
    await authorizer.impersonateUser(username, this.#password);
    try {
      await spec.run(this, command);
    } finally {
      await authorizer.terminateImpersonation(username);
    }
  }

  /**
   * Resolves a client's path inside the jail and checks `perm` on it. Replies 550 and
   * returns `null` when the path escapes the home or the permission is missing.
   */
  async resolvePath(ftpPath: string, perm?: Permission): Promise<ResolvedPath | null> {
    const fs = this.fs;
    if (!fs) {
      await this.reply(530, "Log in with USER and PASS first.");
      return null;
    }
    if (ftpPath.includes("\0")) {
      await this.reply(501, "Path names may not contain NUL.");
      return null;
    }
    const ftp = fs.ftpNorm(ftpPath);
    const real = fs.ftp2fs(ftp);
    if (!await fs.validPath(real)) {
      this.log("warning", `refused path outside the home directory: ${JSON.stringify(ftp)}`);
      await this.reply(550, `"${quote(ftp)}" points to a path outside the home directory.`);
      return null;
    }
    if (perm && !await this.hasPerm(perm, real)) {
      await this.reply(550, "Not enough privileges.");
      return null;
    }
    return { ftp, real };
  }

  /** Whether the logged-in user has `perm` (on the real `path`, when given). */
  hasPerm(perm: Permission, path?: string): Promise<boolean> {
    return this.config.authorizer.hasPerm(this.username, perm, path);
  }

  // --- Login ---------------------------------------------------------------------------

  /** Checks a password for {@linkcode username}, logging in or counting the failure. */
  async authenticate(password: string): Promise<void> {
    const { authorizer } = this.config;
    const username = this.username;
    let home: string | null = null;
    try {
      await authorizer.validateAuthentication(username, password);
      home = await authorizer.getHomeDir(username);
    } catch {
      // Unknown user or wrong password: answered below, alike.
    }
    if (home === null) return this.#loginFailed(username, password);
    this.authenticated = true;
    this.#password = password;
    this.#failedLogins = 0;
    this.fs = this.config.abstractedFs(home, this);
    this.log("info", `USER '${username}' logged in.`);
    await this.reply(230, await authorizer.getMsgLogin(username));
    await this.emit("onLogin", username);
  }

  async #loginFailed(username: string, password: string): Promise<void> {
    this.#failedLogins++;
    this.log("info", `USER '${username}' failed login.`);
    await this.emit("onLoginFailed", username, password);
    await delay(this.config.authFailedTimeout, this.#closing.signal);
    if (this.#failedLogins >= this.config.maxLoginAttempts) {
      await this.reply(530, "Maximum login attempts. Disconnecting.");
      this.close();
      return;
    }
    this.username = "";
    await this.reply(530, "Authentication failed.");
  }

  /** Forgets the user (REIN, USER again), calling `onLogout` for a logged-in one. */
  async logout(): Promise<void> {
    const { username, authenticated } = this;
    if (authenticated) this.log("info", `USER '${username}' logged out.`);
    this.data.close();
    this.username = "";
    this.authenticated = false;
    this.#password = "";
    this.fs = null;
    this.transferType = "A";
    this.restartPosition = 0;
    this.renameFrom = null;
    if (authenticated) await this.emit("onLogout", username);
  }

  // --- Transfers -----------------------------------------------------------------------

  /** Replies 425 and resolves to false when neither PASV nor PORT prepared a data connection. */
  async dataChannelReady(): Promise<boolean> {
    if (this.data.ready) return true;
    await this.reply(425, "Use PORT or PASV first.");
    return false;
  }

  /** The transfer in progress, if any. */
  get transfer(): ActiveTransfer | null {
    return this.#transfer;
  }

  /**
   * Starts a transfer in the background: replies 125/150, opens the data connection,
   * runs the job, closes it, replies 226 (or 425/426/451/452) and logs the transfer.
   * The session keeps reading commands meanwhile, so STAT and ABOR work mid-transfer.
   */
  startTransfer(job: TransferJob): void {
    const transfer: ActiveTransfer = { job, dtp: null, done: Promise.resolve() };
    this.#transfer = transfer;
    transfer.done = this.#runTransfer(transfer).finally(() => {
      if (this.#transfer === transfer) this.#transfer = null;
    });
  }

  /** Aborts the transfer in progress (ABOR); resolves once its final reply was sent. */
  async abortTransfer(): Promise<void> {
    const transfer = this.#transfer;
    if (!transfer) return;
    transfer.dtp?.abort("aborted");
    this.data.close();
    await transfer.done;
  }

  async #runTransfer(transfer: ActiveTransfer): Promise<void> {
    const { job } = transfer;
    let completed = false;
    let failure: unknown = null;
    try {
      const preliminary = job.preliminary;
      if (this.data.connected) {
        await this.reply(125, preliminary ?? "Data connection already open. Transfer starting.");
      } else {
        await this.reply(150, preliminary ?? "File status okay. About to open data connection.");
      }
      transfer.dtp = new DTPHandler(
        await this.#openDataConnection(),
        this.config.dtp,
        this.#buffers,
      );
      if (this.#closed) transfer.dtp.abort("aborted");
      await job.run(transfer.dtp);
      completed = true;
    } catch (error) {
      failure = error;
    } finally {
      job.close?.();
    }
    await this.reply(...this.#transferReply(failure));
    await this.#logTransfer(transfer, completed);
  }

  /** The data connection, under TLS with PROT P (resuming the control session, if required). */
  async #openDataConnection(): Promise<Transport> {
    const conn = await this.data.connect();
    const tls = this.config.tls;
    if (!this.protP || !tls) return conn;
    const transport = await upgradeToTls(conn, tls.context, this.config.dataConnectTimeout * 1000);
    if (tls.requireSessionReuse && !transport.sessionReused) {
      transport.close();
      throw new TlsHandshakeError(
        "the data connection did not resume the control connection's TLS session",
      );
    }
    return transport;
  }

  #transferReply(failure: unknown): [number, string] {
    if (failure === null) return [226, "Transfer complete."];
    if (failure instanceof DataConnectError) return [425, "Can't open data connection."];
    if (failure instanceof TlsHandshakeError) {
      this.log("warning", `data connection refused: ${failure.message}`);
      return [522, `Data connection TLS negotiation failed: ${failure.message}.`];
    }
    if (failure instanceof TransferError) {
      switch (failure.failure) {
        case "aborted":
          return [426, "Transfer aborted."];
        case "timeout":
          return [426, "Data connection timed out; transfer aborted."];
        case "connection":
          return [426, "Data connection closed; transfer aborted."];
        case "truncated":
          return [426, "Upload incomplete: the data connection ended without TLS close_notify."];
        case "file":
          if (isStorageFull(failure.cause)) {
            return [452, `Transfer aborted: ${describeFsError(failure.cause)}`];
          }
          return [451, `Transfer aborted: ${describeFsError(failure.cause)}`];
      }
    }
    this.log("error", `transfer failed unexpectedly: ${errorText(failure)}`);
    return [451, "Requested action aborted: local error in processing."];
  }

  async #logTransfer(transfer: ActiveTransfer, completed: boolean): Promise<void> {
    const { job, dtp } = transfer;
    if (job.path === undefined) return;
    const bytes = dtp?.bytes ?? 0;
    const seconds = (dtp?.seconds ?? 0).toFixed(3);
    this.log(
      completed ? "info" : "warning",
      `${job.command} ${job.path} completed=${completed ? 1 : 0} bytes=${bytes} seconds=${seconds}`,
    );
    const event = job.direction === "send"
      ? (completed ? "onFileSent" : "onIncompleteFileSent")
      : (completed ? "onFileReceived" : "onIncompleteFileReceived");
    await this.emit(event, job.path);
  }
}

/** The names of the event callbacks. */
export type EventName =
  | "onConnect"
  | "onDisconnect"
  | "onLogin"
  | "onLoginFailed"
  | "onLogout"
  | "onFileSent"
  | "onFileReceived"
  | "onIncompleteFileSent"
  | "onIncompleteFileReceived";

/** A path with each `"` doubled, as RFC 959 quotes path names in 257 replies. */
export function quote(path: string): string {
  return path.replaceAll('"', '""');
}

/** Drops the `ls` options (`-la`, `-a -l`) clients put before LIST's path. */
export function stripListOptions(arg: string): string {
  return arg.replace(/^(-[a-zA-Z]+(\s+|$))+/, "");
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

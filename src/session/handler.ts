/**
 * {@linkcode FTPHandler}: one control connection, from the 220 greeting to the
 * close: its lifecycle, its settings and its event callbacks. Reading a line and
 * running it is the dispatcher's job, logging in the login's, transfers the
 * transfers'.
 *
 * @module
 */

import type { ActiveTransfer, CommandTable, ProtocolState } from "../commands/table.ts";
import type { BufferPool } from "../data/buffer_pool.ts";
import { DataChannel } from "../data/channel.ts";
import {
  BANNED_REPLY,
  type Defender,
  type DefenderEvent,
  type SessionOffences,
} from "../defender/defender.ts";
import { FTPError } from "../errors.ts";
import type { FileSystem } from "../fs/filesystem.ts";
import { DEFAULT_MLST_FACTS } from "../fs/facts.ts";
import { LineReader } from "../line_reader.ts";
import { countHandshake } from "../metrics.ts";
import type { LogFields, Logger, LogLevel } from "../log.ts";
import { nativeSocketsAvailable } from "../native/socket.ts";
import type { UploadPumps } from "../native/upload_pumps.ts";
import { normalizeIp } from "../net.ts";
import type { Network } from "../auth/networks.ts";
import type { HandlerConfig } from "../options.ts";
import type { SessionInfo } from "../session_info.ts";
import { TlsHandshakeError, upgradeToTls } from "../tls.ts";
import type { Transport } from "../transport.ts";
import { dispatch, type DispatchHost } from "./dispatch.ts";
import { Login } from "./login.ts";
import { ReplyQueue } from "./replies.ts";
import { Transfers } from "./transfers.ts";

/** How a control connection reached the server through a proxy (the PROXY protocol). */
export interface Proxied {
  /** The client, as the proxy's header names it. */
  readonly client: Deno.NetAddr;
  /**
   * The trusted proxies: their passive data connections are taken as the
   * client's, since they forward the passive ports without a header.
   */
  readonly proxies: readonly Network[];
}

/** What a session needs of the server that accepted it. */
export interface SessionHost {
  /** The settings every session shares. */
  readonly config: HandlerConfig;
  /** Where log lines go. */
  readonly logger: Logger;
  /** The transfer buffers every session shares. */
  readonly buffers: BufferPool;
  /** What bans abusive addresses, if anything: the session reports its client's offences. */
  readonly defender?: Defender | null;
  /** The threads spliced uploads may run on besides the main thread, if any. */
  readonly uploads?: UploadPumps | null;
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

/** The protocol settings of a session that has just connected or logged out. */
function initialState(): ProtocolState {
  return {
    cwd: "/",
    transferType: "A",
    restartPosition: 0,
    renameFrom: null,
    epsvAll: false,
    mlstFacts: DEFAULT_MLST_FACTS,
    pbszSent: false,
    protP: false,
  };
}

/** The last session number given out in this process. */
let lastSessionId = 0;

/** How long a closing TLS control connection waits for its close_notify to go out. */
const CLOSE_NOTIFY_TIMEOUT_MS = 1000;

/**
 * Closes a control connection's transport (the connection itself, or TLS over it,
 * closing both). TLS says goodbye first, briefly (close_notify): a client reports
 * a bare close as a truncation, an error after its QUIT.
 */
async function endThenClose(transport: Transport): Promise<void> {
  await transport.end?.(CLOSE_NOTIFY_TIMEOUT_MS).catch(() => {});
  try {
    transport.close();
  } catch {
    // Already closed.
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The Protocol Interpreter of one control connection (pyftplib's `FTPHandler`).
 * Subclass it to hook the event callbacks (`onLogin`, `onFileReceived`, ...) and
 * pass the subclass as the server's `handler`.
 */
export class FTPHandler implements SessionInfo {
  /** The control connection. */
  readonly conn: Deno.Conn;
  /** The shared settings. */
  readonly config: HandlerConfig;
  /** Where log lines go. */
  readonly logger: Logger;
  /** A number unique to this session in the process: the `session` field of its log lines. */
  readonly sessionId: number = ++lastSessionId;
  /** The client's address (IPv4-mapped addresses in plain IPv4 form). */
  readonly remoteIp: string;
  /** The client's port. */
  readonly remotePort: number;
  /** The server address the client connected to. */
  readonly localIp: string;
  /** The server port the client connected to. */
  readonly localPort: number;
  /** The data channel that PASV and PORT prepare. */
  readonly data: DataChannel;
  /** TYPE, REST, RNFR and the other settings commands change. */
  readonly state: ProtocolState = initialState();
  /** Whether the control connection is TLS (after AUTH, or implicit FTPS). */
  tlsControl = false;

  readonly #login: Login;
  readonly #transfers: Transfers;
  readonly #replies: ReplyQueue;
  readonly #closing = new AbortController();
  #controlClosed: Promise<void> = Promise.resolve();
  readonly #offences: SessionOffences | null;
  #lines: LineReader;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;

  /**
   * The session of the control connection `conn`, accepted by `host`; `proxied`
   * when a proxy's header named the client behind the connection.
   */
  constructor(conn: Deno.Conn, host: SessionHost, proxied?: Proxied) {
    this.conn = conn;
    this.config = host.config;
    this.logger = host.logger;
    const remote = proxied?.client ?? conn.remoteAddr as Deno.NetAddr;
    const local = conn.localAddr as Deno.NetAddr;
    this.remoteIp = normalizeIp(remote.hostname);
    this.remotePort = remote.port;
    this.localIp = normalizeIp(local.hostname);
    this.localPort = local.port;
    this.#lines = new LineReader(conn, this.config.maxLineLength);
    this.#offences = host.defender?.forSession(this.remoteIp) ?? null;
    this.data = new DataChannel(this.remoteIp, {
      connectTimeout: this.config.dataConnectTimeout,
      permitForeignAddresses: this.config.permitForeignAddresses,
      onRefused: (message) => this.log("warning", message),
      native: this.config.useSendfile && nativeSocketsAvailable(),
      ...(host.uploads && { uploads: host.uploads }),
      ...(proxied && { relays: proxied.proxies }),
    });
    this.#replies = new ReplyQueue(conn, {
      sending: (wire) => this.log("debug", `-> ${wire.trimEnd().replaceAll("\r\n", "\\r\\n")}`),
      broken: (error) => {
        this.log("debug", `cannot send reply: ${errorText(error)}`);
        this.close();
      },
    });
    const reply = (code: number, text: string) => this.reply(code, text);
    const log = (level: LogLevel, message: string, fields?: LogFields) =>
      this.log(level, message, fields);
    this.#login = new Login({
      config: this.config,
      info: this,
      closing: this.#closing.signal,
      reply,
      log,
      emit: (event, username, password) =>
        event === "onLoginFailed"
          ? this.emit(event, username, password ?? "")
          : this.emit(event, username),
      reset: () => {
        this.data.close();
        this.state.transferType = "A";
        this.state.restartPosition = 0;
        this.state.renameFrom = null;
        this.state.cwd = "/";
      },
      offence: (event) => this.#offence(event),
      enter: (directory) => {
        this.state.cwd = directory;
      },
      close: () => this.close(),
    });
    const isClosed = () => this.#closed;
    const state = this.state;
    const login = this.#login;
    this.#transfers = new Transfers({
      config: this.config,
      buffers: host.buffers,
      data: this.data,
      get dtp() {
        return login.dtp;
      },
      get protP() {
        return state.protP;
      },
      get closed() {
        return isClosed();
      },
      reply,
      log,
      emit: (event, file, partial) =>
        event === "onIncompleteFileReceived"
          ? this.emit(event, file, partial)
          : this.emit(event, file),
    });
  }

  /** What the dispatcher sees of this session. */
  #dispatchHost(): DispatchHost {
    const isClosed = () => this.#closed;
    return {
      session: this,
      commands: this.commands,
      config: this.config,
      state: this.state,
      data: this.data,
      login: this.#login,
      transfers: this.#transfers,
      get closed() {
        return isClosed();
      },
      reply: (code, text) => this.reply(code, text),
      log: (level, message, fields) => this.log(level, message, fields),
      secureControl: () => this.secureControl(),
      offence: (event) => this.#offence(event),
      close: () => this.close(),
    };
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
  /**
   * Called with the real path of a file whose receiving did not finish, and the
   * real path of the bytes that arrived: a hidden partial upload (`uploadMode`
   * `"atomic-keep-partial"`, the default), the file itself (`"direct"`), or `null`
   * when they were removed (`"atomic"`, or past a quota). In the atomic modes
   * `file` is still the file as it was before the upload: never remove it here.
   */
  onIncompleteFileReceived(_file: string, _partial: string | null): void | Promise<void> {}

  /** Runs a callback, logging (never propagating) what it throws. */
  async emit<K extends EventName>(event: K, ...args: Parameters<FTPHandler[K]>): Promise<void> {
    try {
      await (this[event] as (...a: unknown[]) => void | Promise<void>)(...args);
    } catch (error) {
      this.log("error", `${event} callback failed: ${errorText(error)}`);
    }
  }

  // --- What the session is ------------------------------------------------------------

  /** The user name given by USER (logged in or not). */
  get username(): string {
    return this.#login.username;
  }

  /** Whether USER and PASS succeeded. */
  get authenticated(): boolean {
    return this.#login.authenticated;
  }

  /** The user's filesystem view, once logged in. */
  get fs(): FileSystem | null {
    return this.#login.fs;
  }

  /** The transfer in progress, if any. */
  get transfer(): ActiveTransfer | null {
    return this.#transfers.current;
  }

  /** The command table this session dispatches through. */
  get commands(): CommandTable {
    return this.config.commands;
  }

  get #closed(): boolean {
    return this.#closing.signal.aborted;
  }

  // --- Logging ----------------------------------------------------------------------

  /** The session part of a log line, from `config.logPrefix`. */
  get logPrefix(): string {
    return this.config.logPrefix
      .replaceAll("%(remote_ip)s", this.remoteIp)
      .replaceAll("%(remote_port)s", String(this.remotePort))
      .replaceAll("%(username)s", this.username);
  }

  /**
   * Writes a log line about this session: after {@linkcode logPrefix} in the text
   * format; with the fields `session`, `remote_ip`, `remote_port` and `username`,
   * then `fields`, in the JSON format.
   */
  log(level: LogLevel, message: string, fields?: LogFields): void {
    if (!this.logger.enabled(level)) return;
    this.logger.write({
      level,
      message,
      prefix: this.logPrefix,
      fields: {
        session: this.sessionId,
        remote_ip: this.remoteIp,
        remote_port: this.remotePort,
        username: this.username,
        ...fields,
      },
    });
  }

  /** Sends a reply; replies go out in the order asked for. A broken connection closes the session. */
  reply(code: number, text: string): Promise<void> {
    return this.#replies.send(code, text);
  }

  // --- The session's life -------------------------------------------------------------

  /** Serves the connection until the client quits or vanishes, or {@linkcode close} is called. */
  async handle(): Promise<void> {
    this.log("info", "FTP session opened (connect)", { event: "connect" });
    await this.emit("onConnect");
    try {
      if (this.config.tls?.implicit) await this.secureControl();
      await this.reply(220, this.config.banner);
      this.#armIdleTimer();
      const host = this.#dispatchHost();
      while (!this.#closed) {
        const line = await this.#lines.next();
        if (line === null) break;
        this.#armIdleTimer();
        if (line.kind === "line") await dispatch(host, line.text);
        else {
          const what = line.kind === "too-long" ? "too long" : "is not valid UTF-8";
          await this.reply(500, `Command line ${what}.`);
          await this.#offence("protocolError");
        }
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
    this.#replies.stop();
    clearTimeout(this.#idleTimer);
    this.#transfers.stop();
    this.data.close();
    this.#controlClosed = endThenClose(this.#replies.transport);
  }

  /**
   * Switches the control connection to TLS, once the 234 reply to AUTH has gone
   * out (or at once, for implicit FTPS). Whatever the client sent before the
   * handshake is dropped with the old reader, never run as a command
   * (CVE-2011-1575). Throws {@linkcode TlsHandshakeError} when the handshake fails.
   */
  async secureControl(): Promise<void> {
    const tls = this.config.tls;
    if (!tls) throw new FTPError(502, "AUTH not available: no certificate is configured.");
    await this.#replies.drained();
    const transport = await countHandshake(
      this.config.metrics,
      "control",
      upgradeToTls(this.conn, tls.context, this.config.dataConnectTimeout * 1000),
    );
    this.#replies.transport = transport;
    this.#lines = new LineReader(transport, this.config.maxLineLength);
    this.tlsControl = true;
    this.log("debug", "control connection secured with TLS");
  }

  async #shutdown(): Promise<void> {
    const transfer = this.#transfers.current;
    this.close();
    await this.#controlClosed;
    if (transfer) await transfer.done;
    // What the login was granted ends now (a session's file process, say); the log says
    // at once that the connection closed.
    const ending = this.#login.close();
    this.log("info", "FTP session closed (disconnect).", { event: "disconnect" });
    await ending;
    await this.emit("onDisconnect");
  }

  /**
   * Reports the client's `event` to the defender; once its address is banned, the
   * session is told so (421) and closed.
   */
  async #offence(event: DefenderEvent): Promise<void> {
    if (!this.#offences || !await this.#offences.report(event) || this.#closed) return;
    this.log("warning", `session closed: its address is banned (after ${event}).`);
    await this.reply(421, BANNED_REPLY);
    this.close();
  }

  /** (Re)starts the idle timer; never once closed (the timer would keep the process alive). */
  #armIdleTimer(): void {
    clearTimeout(this.#idleTimer);
    if (this.#closed) return;
    this.#idleTimer = setTimeout(() => this.#idle(), this.config.timeout * 1000);
  }

  async #idle(): Promise<void> {
    if (this.#closed) return;
    if (this.#transfers.current) {
      this.#armIdleTimer();
      return;
    }
    this.log("info", "Control connection timed out.", { event: "timeout" });
    await this.reply(421, "Control connection timed out.");
    this.close();
  }
}

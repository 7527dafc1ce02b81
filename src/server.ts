/**
 * {@linkcode FTPServer}: the listening socket, the accept loop and the connection
 * limits (pyftplib's `FTPServer`).
 *
 * @module
 */

import { ConnectionCounts } from "./connection_limits.ts";
import { BufferPool } from "./data/buffer_pool.ts";
import { BANNED_REPLY, Defender, type DefenderOptions } from "./defender/defender.ts";
import { Logger } from "./log.ts";
import type { ConnectionRefusal } from "./metrics.ts";
import { formatAddress, normalizeIp } from "./net.ts";
import { KernelResolver } from "./fs/resolver.ts";
import { nativeSocketsAvailable } from "./native/socket.ts";
import { UploadPumps } from "./native/upload_pumps.ts";
import {
  type FTPHandlerOptions,
  type HandlerConfig,
  localDisk,
  resolveHandlerOptions,
} from "./options.ts";
import { FTPHandler, type Proxied, type SessionHost } from "./session/handler.ts";
import { ProxyHeaderReader, type ProxyProtocolOptions } from "./proxy_protocol.ts";
import { formatReply } from "./session/replies.ts";
import { writeAll } from "./transport.ts";
import { passiveSlice } from "./workers/passive_slice.ts";
import { type ProcessRole, processRole, workerLogger } from "./workers/processes.ts";
import { WorkersUnavailable } from "./workers/role.ts";
import type { SupervisedServer, Supervisor } from "./workers/supervisor.ts";

/** A session class: {@linkcode FTPHandler} or a subclass of it. */
export type FTPHandlerClass = new (
  conn: Deno.Conn,
  host: SessionHost,
  proxied?: Proxied,
) => FTPHandler;

/** Options of {@linkcode FTPServer}: where to listen, the limits, and every session option. */
export interface FTPServerOptions extends FTPHandlerOptions {
  /** The address to listen on (default `"0.0.0.0"`, every IPv4 interface). */
  hostname?: string;
  /** The port to listen on (default 21; 0 picks a free one). */
  port?: number;
  /** A listener to serve instead of opening one. */
  listener?: Deno.TcpListener;
  /** Most simultaneous connections (default 512; 0 is no limit). */
  maxCons?: number;
  /** Most simultaneous connections from one IP address (default 0, no limit). */
  maxConsPerIp?: number;
  /** The session class (default {@linkcode FTPHandler}). */
  handler?: FTPHandlerClass;
  /** Where log lines go (default: info and above to stderr). */
  logger?: Logger;
  /** Log the whole configuration at start-up at info level, not only at debug (the CLI's `-V`). */
  verbose?: boolean;
  /**
   * Processes that serve clients (default 1; 0 or `"auto"`: one per core). With
   * more than one, this process supervises that many workers, each a copy of this
   * program, sharing the port (Linux's `SO_REUSEPORT`); the program must make the
   * same servers in the same order in every process (see `isWorker`). Elsewhere
   * than on Linux, one process serves, with a warning.
   */
  workers?: number | "auto";
  /**
   * Behind a load balancer: every connection must come from one of these trusted
   * proxies and start with a PROXY protocol header (v1 or v2), whose client
   * address the session then uses (logs, limits, the passive data check). A
   * connection from elsewhere, or without a valid header in time, is closed
   * without a greeting and logged. Default: no PROXY protocol.
   */
  proxyProtocol?: ProxyProtocolOptions;
  /**
   * Connections the kernel queues before they are accepted (default 4096; the
   * kernel caps it at `net.core.somaxconn`). Under a flood, a connection beyond a
   * full queue waits for the client's retry (seconds) before it hears even a 421.
   */
  backlog?: number;
  /**
   * Bans addresses that brute-force logins or abuse the protocol: a
   * {@linkcode Defender} (to share one, or query it), its options, or `false` for
   * none. Default: one with the default options (the loopback allow-listed).
   */
  defender?: Defender | DefenderOptions | false;
  /**
   * Threads that run spliced uploads beside the main thread, so that many uploads
   * at once use every core (default: one per core but one, at most 7; none with
   * `workers`, whose processes use the cores); 0 runs every upload on the main
   * thread. Or {@linkcode UploadPumps} of your own (to share them, or with other
   * options), which the server then leaves open. Started at the first upload.
   */
  uploadThreads?: number | UploadPumps;
}

/** Options of {@linkcode FTPServer.serve}. */
export interface ServeOptions {
  /** Close every session and stop serving on SIGINT or SIGTERM (default true; pyftplib's `handle_exit`). */
  handleExit?: boolean;
  /** Close every session and stop serving when this signal aborts. */
  signal?: AbortSignal;
}

const encoder = new TextEncoder();

/** The text of the 421 refusing a connection over each limit, or from a banned address. */
const REFUSALS: Record<ConnectionRefusal, string> = {
  max_cons: "Too many connections. Service temporarily unavailable.",
  max_cons_per_ip: "Too many connections from the same IP address.",
  banned: BANNED_REPLY,
};

/** Connections the kernel queues before they are accepted, unless told (`backlog`). */
export const DEFAULT_BACKLOG = 4096;
/** The 421 text for a client that comes while a worker stops. */
const STOPPING = "Server shutting down.";

/** How long to pause accepting after a failed accept (out of file descriptors, ...). */
const ACCEPT_RETRY_MS = 100;

/**
 * Listens for FTP clients and runs a session for each. The socket is bound when the
 * server is constructed, so `addr` is known at once; {@linkcode serve} runs until
 * {@linkcode close} or {@linkcode closeAll}.
 *
 * ```ts
 * import { DummyAuthorizer, FTPServer } from "../mod.ts";
 *
 * const authorizer = new DummyAuthorizer();
 * authorizer.addUser("user", "12345", ".", { perm: "elradfmwMT" });
 * await using server = new FTPServer({ port: 2121, authorizer });
 * await server.serve();
 * ```
 */
export class FTPServer implements SessionHost {
  /** The settings every session shares. */
  readonly config: HandlerConfig;
  /** Where log lines go. */
  readonly logger: Logger;
  /** The transfer buffers every session shares. */
  readonly buffers: BufferPool;
  /** The threads spliced uploads run on besides the main thread; `null` without native sockets. */
  readonly uploads: UploadPumps | null;
  /** Most simultaneous connections; 0 is no limit. */
  maxCons: number;
  /** Most simultaneous connections per IP address; 0 is no limit. */
  maxConsPerIp: number;
  /** What bans abusive addresses; `null` when off. */
  readonly defender: Defender | null;
  readonly #listener: Deno.TcpListener;
  readonly #handler: FTPHandlerClass;
  readonly #sessions = new Set<FTPHandler>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #counts = new ConnectionCounts();
  readonly #verbose: boolean;
  /** With workers: this process's part; `null` when it serves alone. */
  readonly #role: ProcessRole | null;
  /** With workers: this server's number among the program's servers. */
  #number = 0;
  readonly #proxy: ProxyHeaderReader | null;
  /** Connections whose PROXY header is being read: closed by {@linkcode closeAll}. */
  readonly #unintroduced = new Set<Deno.Conn>();
  #serving: Promise<void> | null = null;
  #closed = false;
  /** Whether {@linkcode FTPServer.uploads} is the server's own, to close. */
  readonly #ownsUploads: boolean;

  /**
   * Binds the listening socket; throws `Deno.errors.AddrInUse` and the like at
   * once, and a `ProxyHeaderError` for a trusted proxy that is no address.
   */
  constructor(options: FTPServerOptions) {
    const logger = options.logger ?? new Logger();
    const role = processRole(options.workers ?? 1, (message) => logger.warning(message));
    if (role && options.listener) {
      throw new TypeError("a server with workers opens its listener: give hostname and port");
    }
    const config = resolveHandlerOptions(options);
    if (role?.kind === "worker") {
      const { index, count } = role.role;
      this.config = { ...config, passivePorts: passiveSlice(config.passivePorts, index, count) };
      this.logger = workerLogger(logger, index);
    } else {
      // Throws before any worker starts when the range cannot be split among them.
      if (role) passiveSlice(config.passivePorts, 1, role.supervisor.count);
      this.config = config;
      this.logger = logger;
    }
    this.buffers = new BufferPool(this.config.dtp.bufferSize, this.config.dtp.bufferBudget);
    this.uploads = options.uploadThreads instanceof UploadPumps
      ? options.uploadThreads
      : this.config.useSendfile && nativeSocketsAvailable()
      ? new UploadPumps({
        threads: options.uploadThreads ?? (role ? 0 : undefined),
        onFailure: (message) => this.logger.warning(message),
      })
      : null;
    this.#ownsUploads = !(options.uploadThreads instanceof UploadPumps);
    this.maxCons = options.maxCons ?? 512;
    this.maxConsPerIp = options.maxConsPerIp ?? 0;
    this.#handler = options.handler ?? FTPHandler;
    this.#verbose = options.verbose ?? false;
    this.#proxy = options.proxyProtocol ? new ProxyHeaderReader(options.proxyProtocol) : null;
    this.defender = options.defender === false
      ? null
      : options.defender instanceof Defender
      ? options.defender
      : new Defender({ logger: this.logger, ...options.defender });
    this.#role = role;
    const hostname = options.hostname ?? "0.0.0.0";
    const tcpBacklog = options.backlog ?? DEFAULT_BACKLOG;
    if (role?.kind === "worker") {
      this.#number = role.server;
      const port = role.role.ports[role.server];
      if (port === undefined) {
        const made = role.server + 1;
        throw new WorkersUnavailable(
          `a worker made ${made} servers with workers, the supervisor fewer`,
        );
      }
      this.#listener = Deno.listen({ hostname, port, reusePort: true, tcpBacklog });
      role.link.listening(role.server);
      return;
    }
    this.#listener = options.listener ??
      Deno.listen({ hostname, port: options.port ?? 21, reusePort: role !== null, tcpBacklog });
    if (role) this.#number = role.supervisor.register(this.#supervised());
  }

  /** What the supervisor needs of this server. */
  #supervised(): SupervisedServer {
    return {
      port: this.addr.port,
      limits: this,
      logger: this.logger,
      // Connections are the workers' to accept, from now on.
      onListening: () => this.#closeListener(),
      onStarted: () => this.#logStartup(),
    };
  }

  /** The address the server listens on. */
  get addr(): Deno.NetAddr {
    return this.#listener.addr;
  }

  /** How many clients are connected. */
  get connections(): number {
    return this.#sessions.size;
  }

  /**
   * Accepts clients until the server is closed (pyftplib's `serve_forever`). With
   * `handleExit` (the default), SIGINT and SIGTERM close every session and end it.
   */
  serve(options: ServeOptions = {}): Promise<void> {
    const handleExit = options.handleExit ?? true;
    this.#serving ??= this.#role?.kind === "supervisor"
      ? this.#supervise(handleExit, options.signal)
      : this.#acceptLoop(handleExit, options.signal);
    return this.#serving;
  }

  /** The same as {@linkcode serve}, by pyftplib's name. */
  serveForever(options: ServeOptions = {}): Promise<void> {
    return this.serve(options);
  }

  /**
   * Stops accepting clients; connected ones are served to the end. With workers,
   * every worker stops accepting, and ends once its last session has.
   */
  close(): void {
    this.#closeListener();
    if (this.#role?.kind === "supervisor") void this.#role.supervisor.drain();
  }

  #closeListener(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#listener.close();
    } catch {
      // Already closed.
    }
    this.#endUploadThreadsIfDone();
  }

  /** Once the server is closed and its last session has ended, the upload threads end too. */
  #endUploadThreadsIfDone(): void {
    if (this.#ownsUploads && this.#closed && this.#tasks.size === 0) this.uploads?.close();
  }

  /** Stops accepting, disconnects every client, and resolves once every session has ended. */
  async closeAll(): Promise<void> {
    this.#closeListener();
    if (this.#role?.kind === "supervisor") await this.#role.supervisor.stop();
    for (const conn of this.#unintroduced) conn.close();
    for (const session of this.#sessions) session.close();
    await Promise.all([this.#serving, ...this.#tasks]);
  }

  /** Closes everything, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.closeAll();
  }

  #logStartup(): void {
    const { config, logger } = this;
    const ports = config.passivePorts;
    const { hostname, port } = this.addr;
    const address = formatAddress(hostname, port);
    if (this.#role?.kind === "worker") {
      const { index, count } = this.#role.role;
      const slice = ports ? `${ports[0]}->${ports[ports.length - 1]}` : "None";
      logger.info(`worker ${index} of ${count} serving ${address}, pid=${Deno.pid}`);
      logger.info(`passive ports of worker ${index}: ${slice}`);
      return;
    }
    logger.info(`>>> starting FTP server on ${address}, pid=${Deno.pid} <<<`);
    logger.info(
      this.#role?.kind === "supervisor"
        ? `concurrency model: multi-process, ${this.#role.supervisor.count} workers sharing the port`
        : "concurrency model: async",
    );
    if (config.abstractedFs === localDisk) {
      if (KernelResolver.available()) logger.info("jail: the kernel's (openat2 beneath each home)");
      else {
        logger.warning(
          "jail: paths checked before use, which a symlink swapped in a home can race " +
            "(the kernel's jail needs Linux 5.6+ and --allow-all)",
        );
      }
    }
    logger.info(`masquerade (NAT) address: ${config.masqueradeAddress ?? "None"}`);
    if (this.#proxy) {
      const proxies = this.#proxy.trusted.map((network) => network.text).join(", ");
      logger.info(`PROXY protocol: required, from ${proxies}`);
    }
    logger.info(`passive ports: ${ports ? `${ports[0]}->${ports[ports.length - 1]}` : "None"}`);
    if (config.tls) {
      const { implicit, controlRequired, dataRequired, requireSessionReuse } = config.tls;
      logger.info(
        `FTPS: ${implicit ? "implicit (TLS from the start)" : "explicit (AUTH TLS)"}; ` +
          `TLS required on control: ${controlRequired}, on data: ${dataRequired}; ` +
          `session reuse required: ${requireSessionReuse}`,
      );
    }
    this.#logDataPath();
    logger.info(`defender: ${this.defender?.describe() ?? "off"}`);
    const detail = this.#verbose ? "info" : "debug";
    logger.log(detail, `runtime: Deno ${Deno.version.deno}`);
    logger.log(detail, `authorizer: '${config.authorizer.constructor.name}'`);
    logger.log(detail, `handler: '${this.#handler.name}'`);
    logger.log(detail, `max connections: ${this.maxCons || "unlimited"}`);
    logger.log(detail, `max connections per ip: ${this.maxConsPerIp || "unlimited"}`);
    logger.log(detail, `timeout: ${config.timeout}`);
    logger.log(detail, `banner: '${config.banner}'`);
    logger.log(detail, `max login attempts: ${config.maxLoginAttempts}`);
  }

  /** The start-up line about how data connections carry files. */
  #logDataPath(): void {
    const { config, logger } = this;
    if (!config.useSendfile) logger.info("data path: streamed by the runtime (sendfile disabled)");
    else if (!nativeSocketsAvailable()) {
      logger.warning("data path: streamed by the runtime (sendfile needs Linux and --allow-ffi)");
    } else if (config.abstractedFs === localDisk && !KernelResolver.available()) {
      logger.warning(
        "data path: native sockets, files streamed (sendfile needs the kernel's jail: --allow-all)",
      );
    } else {
      logger.info(
        "data path: native sockets, sendfile(2) and splice(2) for plain TYPE I transfers of the disk",
      );
    }
  }

  /** Runs the workers (this server's and the program's others') until they stop. */
  async #supervise(handleExit: boolean, signal?: AbortSignal): Promise<void> {
    const { supervisor } = this.#role as { supervisor: Supervisor };
    try {
      await supervisor.serve({ handleExit, signal });
    } finally {
      this.#closeListener();
      this.logger.info(">>> shutting down FTP server <<<");
    }
  }

  async #acceptLoop(handleExit: boolean, signal?: AbortSignal): Promise<void> {
    // Exit signals are handled before the start is announced: whoever reads the
    // log and sends SIGTERM then finds them handled.
    using _exit = handleExit ? this.#closeOnExitSignals() : null;
    this.#logStartup();
    using _link = this.#role?.kind === "worker" ? this.#role.link.attach(this) : null;
    using _abort = signal ? this.#closeWhenAborted(signal) : null;
    while (!this.#closed) {
      let conn: Deno.TcpConn;
      try {
        conn = await this.#listener.accept();
      } catch (error) {
        if (this.#closed || error instanceof Deno.errors.BadResource) break;
        this.logger.error(`accept failed: ${(error as Error).message}`);
        await new Promise((resolve) => setTimeout(resolve, ACCEPT_RETRY_MS));
        continue;
      }
      if (this.config.tcpNoDelay) conn.setNoDelay(true);
      this.#track(this.#admit(conn));
    }
    // The listener may have failed rather than been closed: the server is closed either way.
    this.#closeListener();
    this.logger.info(">>> shutting down FTP server <<<");
  }

  /** Closes everything on SIGINT and SIGTERM, until disposed. */
  #closeOnExitSignals(): Disposable {
    // A worker leaves SIGINT (a terminal's Ctrl-C reaches every process) to its supervisor.
    const signals = Deno.build.os === "windows"
      ? ["SIGINT"] as const
      : this.#role?.kind === "worker"
      ? ["SIGTERM"] as const
      : ["SIGINT", "SIGTERM"] as const;
    const exit = () => {
      this.logger.info("received an exit signal: closing every session.");
      void this.closeAll();
    };
    for (const signal of signals) Deno.addSignalListener(signal, exit);
    return {
      [Symbol.dispose]: () => {
        for (const signal of signals) Deno.removeSignalListener(signal, exit);
      },
    };
  }

  /** Closes everything once `signal` aborts, until disposed. */
  #closeWhenAborted(signal: AbortSignal): Disposable {
    const abort = () => void this.closeAll();
    if (signal.aborted) abort();
    else signal.addEventListener("abort", abort, { once: true });
    return { [Symbol.dispose]: () => signal.removeEventListener("abort", abort) };
  }

  #track(task: Promise<void>): void {
    this.#tasks.add(task);
    task.finally(() => {
      this.#tasks.delete(task);
      this.#endUploadThreadsIfDone();
    });
  }

  async #admit(conn: Deno.Conn): Promise<void> {
    const { metrics } = this.config;
    const proxied = await this.#introduce(conn);
    if (proxied === null) return;
    const remote = proxied?.client ?? conn.remoteAddr as Deno.NetAddr;
    const ip = normalizeIp(remote.hostname);
    const port = remote.port;
    const link = this.#role?.kind === "worker" ? this.#role.link : null;
    const refusal = await this.defender?.isBanned(ip)
      ? "banned"
      : link
      ? await link.admit(this.#number, ip)
      : this.#counts.admit(ip, this);
    if (refusal === "stopping" || (!refusal && link && this.#closed)) {
      // The worker is stopping (closed while the supervisor was asked: closeAll has no session to close).
      if (!refusal) link!.release(this.#number, ip);
      await writeAll(conn, encoder.encode(formatReply(421, STOPPING))).catch(() => {});
      conn.close();
      return;
    }
    if (refusal) {
      const text = REFUSALS[refusal];
      metrics?.connectionRefused(refusal);
      if (refusal !== "banned") {
        void this.defender?.score(ip, refusal === "max_cons" ? "serverFull" : "perIpLimit");
      }
      this.logger.info(`${ip}:${port} refused: ${text}`, {
        event: "connection_refused",
        remote_ip: ip,
        remote_port: port,
        reason: refusal,
      });
      await writeAll(conn, encoder.encode(formatReply(421, text))).catch(() => {});
      conn.close();
      return;
    }
    const session = new this.#handler(conn, this, proxied);
    metrics?.sessionOpened();
    this.#sessions.add(session);
    try {
      await session.handle();
    } catch (error) {
      this.logger.error(`session ${ip} failed: ${(error as Error)?.stack ?? error}`);
      session.close();
    } finally {
      metrics?.sessionClosed();
      this.#sessions.delete(session);
      if (link) link.release(this.#number, ip);
      else this.#counts.release(ip);
    }
  }

  /**
   * Reads the PROXY header of `conn` when the server is behind proxies: the client
   * it names, or `null` once `conn` is closed for want of a valid one (logged);
   * `undefined` without the PROXY protocol.
   */
  async #introduce(conn: Deno.Conn): Promise<Proxied | null | undefined> {
    if (!this.#proxy) return undefined;
    this.#unintroduced.add(conn);
    try {
      return { client: await this.#proxy.read(conn), proxies: this.#proxy.trusted };
    } catch (error) {
      const { hostname, port } = conn.remoteAddr as Deno.NetAddr;
      const peer = `${normalizeIp(hostname)}:${port}`;
      if (!this.#closed) {
        this.logger.warning(`${peer} closed without a greeting: ${(error as Error).message}`);
      }
      try {
        conn.close();
      } catch {
        // Closed by the header's timeout.
      }
      return null;
    } finally {
      this.#unintroduced.delete(conn);
    }
  }
}

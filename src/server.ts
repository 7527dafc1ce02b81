/**
 * {@linkcode FTPServer}: the listening socket, the accept loop and the connection
 * limits (pyftplib's `FTPServer`).
 *
 * @module
 */

import { BufferPool } from "./data/buffer_pool.ts";
import { Logger } from "./log.ts";
import type { ConnectionRefusal } from "./metrics.ts";
import { formatAddress, normalizeIp } from "./net.ts";
import { KernelResolver } from "./fs/resolver.ts";
import { nativeSocketsAvailable } from "./native/socket.ts";
import {
  type FTPHandlerOptions,
  type HandlerConfig,
  localDisk,
  resolveHandlerOptions,
} from "./options.ts";
import { FTPHandler, type SessionHost } from "./session/handler.ts";
import { formatReply } from "./session/replies.ts";
import { writeAll } from "./transport.ts";

/** A session class: {@linkcode FTPHandler} or a subclass of it. */
export type FTPHandlerClass = new (conn: Deno.Conn, host: SessionHost) => FTPHandler;

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
}

/** Options of {@linkcode FTPServer.serve}. */
export interface ServeOptions {
  /** Close every session and stop serving on SIGINT or SIGTERM (default true; pyftplib's `handle_exit`). */
  handleExit?: boolean;
  /** Close every session and stop serving when this signal aborts. */
  signal?: AbortSignal;
}

const encoder = new TextEncoder();

/** The text of the 421 refusing a connection over each limit. */
const REFUSALS: Record<ConnectionRefusal, string> = {
  max_cons: "Too many connections. Service temporarily unavailable.",
  max_cons_per_ip: "Too many connections from the same IP address.",
};

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
  /** Most simultaneous connections; 0 is no limit. */
  maxCons: number;
  /** Most simultaneous connections per IP address; 0 is no limit. */
  maxConsPerIp: number;
  readonly #listener: Deno.TcpListener;
  readonly #handler: FTPHandlerClass;
  readonly #sessions = new Set<FTPHandler>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #perIp = new Map<string, number>();
  readonly #verbose: boolean;
  #serving: Promise<void> | null = null;
  #closed = false;

  /** Binds the listening socket; throws `Deno.errors.AddrInUse` and the like at once. */
  constructor(options: FTPServerOptions) {
    this.config = resolveHandlerOptions(options);
    this.logger = options.logger ?? new Logger();
    this.buffers = new BufferPool(this.config.dtp.bufferSize, this.config.dtp.bufferBudget);
    this.maxCons = options.maxCons ?? 512;
    this.maxConsPerIp = options.maxConsPerIp ?? 0;
    this.#handler = options.handler ?? FTPHandler;
    this.#verbose = options.verbose ?? false;
    this.#listener = options.listener ??
      Deno.listen({ hostname: options.hostname ?? "0.0.0.0", port: options.port ?? 21 });
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
    this.#serving ??= this.#acceptLoop(options.handleExit ?? true, options.signal);
    return this.#serving;
  }

  /** The same as {@linkcode serve}, by pyftplib's name. */
  serveForever(options: ServeOptions = {}): Promise<void> {
    return this.serve(options);
  }

  /** Stops accepting clients; connected ones are served to the end. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#listener.close();
    } catch {
      // Already closed.
    }
  }

  /** Stops accepting, disconnects every client, and resolves once every session has ended. */
  async closeAll(): Promise<void> {
    this.close();
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
    logger.info(`>>> starting FTP server on ${formatAddress(hostname, port)}, pid=${Deno.pid} <<<`);
    logger.info("concurrency model: async");
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

  async #acceptLoop(handleExit: boolean, signal?: AbortSignal): Promise<void> {
    this.#logStartup();
    using _exit = handleExit ? this.#closeOnExitSignals() : null;
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
    this.logger.info(">>> shutting down FTP server <<<");
  }

  /** Closes everything on SIGINT and SIGTERM, until disposed. */
  #closeOnExitSignals(): Disposable {
    const signals = Deno.build.os === "windows"
      ? ["SIGINT"] as const
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
    task.finally(() => this.#tasks.delete(task));
  }

  async #admit(conn: Deno.Conn): Promise<void> {
    const { metrics } = this.config;
    const ip = normalizeIp((conn.remoteAddr as Deno.NetAddr).hostname);
    const port = (conn.remoteAddr as Deno.NetAddr).port;
    const refusal = this.#refusal(ip);
    if (refusal) {
      const text = REFUSALS[refusal];
      metrics?.connectionRefused(refusal);
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
    const session = new this.#handler(conn, this);
    metrics?.sessionOpened();
    this.#sessions.add(session);
    this.#perIp.set(ip, (this.#perIp.get(ip) ?? 0) + 1);
    try {
      await session.handle();
    } catch (error) {
      this.logger.error(`session ${ip} failed: ${(error as Error)?.stack ?? error}`);
      session.close();
    } finally {
      metrics?.sessionClosed();
      this.#sessions.delete(session);
      const left = (this.#perIp.get(ip) ?? 1) - 1;
      if (left > 0) this.#perIp.set(ip, left);
      else this.#perIp.delete(ip);
    }
  }

  /** The limit a new connection from `ip` is over, if any. */
  #refusal(ip: string): ConnectionRefusal | null {
    if (this.maxCons > 0 && this.#sessions.size >= this.maxCons) return "max_cons";
    if (this.maxConsPerIp > 0 && (this.#perIp.get(ip) ?? 0) >= this.maxConsPerIp) {
      return "max_cons_per_ip";
    }
    return null;
  }
}

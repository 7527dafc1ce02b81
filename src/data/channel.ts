/**
 * {@linkcode DataChannel}: how a session's next data connection is made, passive
 * (PASV: the client connects to us) or active (PORT: we connect to the client).
 *
 * @module
 */

import { normalizeIp, sameAddress } from "../net.ts";

/** No port of the passive range could be bound. */
export class NoFreePassivePort extends Error {
  /** Always `"NoFreePassivePort"`. */
  override name = "NoFreePassivePort";
}

/** The data connection could not be made. */
export class DataConnectError extends Error {
  /** Always `"DataConnectError"`. */
  override name = "DataConnectError";
}

/** Options of a {@linkcode DataChannel}. */
export interface DataChannelOptions {
  /** Seconds to wait for the data connection to be made (default 30). */
  connectTimeout: number;
  /** Accept passive connections from any address, not only the client's (FXP). */
  permitForeignAddresses: boolean;
  /** Called with a sentence about each refused connection. */
  onRefused: (message: string) => void;
}

interface Passive {
  listener: Deno.TcpListener;
  accepted: Promise<Deno.TcpConn | null>;
  conn: Deno.TcpConn | null;
}

interface Active {
  hostname: string;
  port: number;
}

/** How many random ports of the passive range are tried before a full scan. */
const RANDOM_TRIES = 32;

/**
 * The ports to try for a passive listener, in an order that cannot be predicted:
 * a few random picks, then every port from a random starting point.
 */
function* passivePortCandidates(ports: readonly number[]): Iterable<number> {
  for (let i = 0; i < Math.min(RANDOM_TRIES, ports.length); i++) {
    yield ports[Math.floor(Math.random() * ports.length)];
  }
  const start = Math.floor(Math.random() * ports.length);
  for (let i = 0; i < ports.length; i++) yield ports[(start + i) % ports.length];
}

/** Binds a listener on `hostname`, on a port of `ports` or, without a range, one the kernel picks. */
function listenPassive(hostname: string, ports: readonly number[] | null): Deno.TcpListener {
  if (!ports || ports.length === 0) return Deno.listen({ hostname, port: 0 });
  for (const port of passivePortCandidates(ports)) {
    try {
      return Deno.listen({ hostname, port });
    } catch (error) {
      if (!(error instanceof Deno.errors.AddrInUse)) throw error;
    }
  }
  throw new NoFreePassivePort("every port of the passive range is in use");
}

/**
 * One session's pending data connection. At most one is pending at a time:
 * preparing a new one closes the old. {@linkcode DataChannel.connect} hands the
 * connection over and the channel is empty again (PASV is per transfer).
 */
export class DataChannel {
  readonly #clientIp: string;
  readonly #options: DataChannelOptions;
  #passive: Passive | null = null;
  #active: Active | null = null;
  #connecting: AbortController | null = null;

  /** The data channel of a session whose client is at `clientIp`. */
  constructor(clientIp: string, options: DataChannelOptions) {
    this.#clientIp = normalizeIp(clientIp);
    this.#options = options;
  }

  /** Whether PASV or PORT has prepared a connection. */
  get ready(): boolean {
    return this.#passive !== null || this.#active !== null;
  }

  /** Whether the client has already connected to the passive port. */
  get connected(): boolean {
    return this.#passive?.conn != null;
  }

  /** A sentence about the channel's state, for STAT. */
  describe(): string {
    if (this.#passive) {
      return this.#passive.conn
        ? "Passive data connection established."
        : "Passive data channel waiting for connection.";
    }
    if (this.#active) {
      return `Active data channel to ${this.#active.hostname}:${this.#active.port}.`;
    }
    return "Data connection closed.";
  }

  /**
   * Listens on `hostname` for the client's data connection and resolves to the port.
   * Throws {@linkcode NoFreePassivePort} when the range is exhausted.
   */
  async openPassive(hostname: string, ports: readonly number[] | null): Promise<number> {
    this.close();
    let listener: Deno.TcpListener;
    try {
      listener = listenPassive(hostname, ports);
    } catch (error) {
      if (!(error instanceof NoFreePassivePort)) throw error;
      // A listener closed a moment ago (by this PASV or another session's ABOR)
      // frees its port only once the runtime has run its pending accept down.
      await new Promise((resolve) => setTimeout(resolve, 0));
      listener = listenPassive(hostname, ports);
    }
    const passive: Passive = { listener, conn: null, accepted: Promise.resolve(null) };
    passive.accepted = this.#acceptFromClient(listener).then((conn) => {
      passive.conn = conn;
      return conn;
    }, () => null);
    this.#passive = passive;
    return (listener.addr as Deno.NetAddr).port;
  }

  async #acceptFromClient(listener: Deno.TcpListener): Promise<Deno.TcpConn> {
    try {
      while (true) {
        const conn = await listener.accept();
        const ip = normalizeIp((conn.remoteAddr as Deno.NetAddr).hostname);
        if (this.#options.permitForeignAddresses || sameAddress(ip, this.#clientIp)) return conn;
        this.#options.onRefused(`refused passive data connection from foreign address ${ip}`);
        conn.close();
      }
    } finally {
      closeQuietly(listener);
    }
  }

  /** Prepares an active connection to the client's `hostname`:`port`. */
  setActive(hostname: string, port: number): void {
    this.close();
    this.#active = { hostname, port };
  }

  /**
   * Makes (or takes) the data connection, which is then the caller's to close.
   * Throws {@linkcode DataConnectError} when nothing was prepared, the peer never
   * connects, the connect fails, or {@linkcode close} is called meanwhile.
   */
  async connect(): Promise<Deno.TcpConn> {
    const passive = this.#passive;
    const active = this.#active;
    const timeoutMs = this.#options.connectTimeout * 1000;
    if (passive) {
      const timer = setTimeout(() => closeQuietly(passive.listener), timeoutMs);
      const conn = await passive.accepted;
      clearTimeout(timer);
      if (this.#passive === passive) this.#passive = null;
      if (!conn) throw new DataConnectError("no data connection from the client");
      return conn;
    }
    if (active) {
      const controller = new AbortController();
      this.#connecting = controller;
      const timer = setTimeout(() => controller.abort(), timeoutMs);
      try {
        return await Deno.connect({ ...active, signal: controller.signal });
      } catch (error) {
        throw new DataConnectError(`cannot connect to ${active.hostname}:${active.port}`, {
          cause: error,
        });
      } finally {
        clearTimeout(timer);
        if (this.#active === active) this.#active = null;
        if (this.#connecting === controller) this.#connecting = null;
      }
    }
    throw new DataConnectError("no data channel prepared");
  }

  /** Drops what was prepared: closes a passive listener or connection not yet handed over, cancels a connect. */
  close(): void {
    const passive = this.#passive;
    this.#passive = null;
    this.#active = null;
    this.#connecting?.abort();
    this.#connecting = null;
    if (!passive) return;
    closeQuietly(passive.listener);
    passive.accepted.then((conn) => conn && closeQuietly(conn));
  }
}

function closeQuietly(closer: { close(): void }): void {
  try {
    closer.close();
  } catch {
    // Already closed.
  }
}

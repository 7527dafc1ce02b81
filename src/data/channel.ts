/**
 * {@linkcode DataChannel}: how a session's next data connection is made, passive
 * (PASV: the client connects to us) or active (PORT: we connect to the client),
 * with the runtime's sockets or, for the zero-copy path, native ones.
 *
 * @module
 */

import { NativeConn, NativeListener } from "../native/socket.ts";
import type { UploadPumps } from "../native/upload_pumps.ts";
import { normalizeIp, sameAddress } from "../net.ts";
import { inNetwork, type Network } from "../auth/networks.ts";

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
  /**
   * Make data connections with native sockets ({@linkcode NativeConn}, which can
   * send a file with `sendfile(2)`) rather than the runtime's (default false).
   * Only where `nativeSocketsAvailable()` says so: Linux, with FFI granted.
   */
  native?: boolean;
  /** With `native`: the threads its uploads may run on besides the main thread. */
  uploads?: UploadPumps;
  /**
   * Networks whose passive connections are taken as the client's: the proxies
   * that forward the passive ports to this server (the PROXY protocol's), since
   * data connections carry no header naming the client behind them.
   */
  relays?: readonly Network[];
}

/** A data connection: the runtime's TCP connection, or a native one. */
export type DataConnection = Deno.TcpConn | NativeConn;

type DataListener = Deno.TcpListener | NativeListener;

interface Passive {
  listener: DataListener;
  /** Settles once the client's connection is taken (or never will be: `null`). */
  accepted: Promise<DataConnection | null>;
  conn: DataConnection | null;
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

/**
 * Binds a listener on `hostname` with `listen`, on a port of `ports` or, without a
 * range, one the kernel picks.
 */
function listenPassive(
  listen: (address: { hostname: string; port: number }) => DataListener,
  hostname: string,
  ports: readonly number[] | null,
): DataListener {
  if (!ports || ports.length === 0) return listen({ hostname, port: 0 });
  for (const port of passivePortCandidates(ports)) {
    try {
      return listen({ hostname, port });
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

  /**
   * Whether the client has already connected to the passive port. A native
   * listener hears of a connection from the reactor, a worker thread's hop after
   * the kernel has it, so the kernel is asked here (a non-blocking `accept`).
   */
  get connected(): boolean {
    const passive = this.#passive;
    if (!passive) return false;
    const { listener } = passive;
    if (!passive.conn && listener instanceof NativeListener) {
      for (let conn; !passive.conn && (conn = acceptQueued(listener));) this.#admit(passive, conn);
      // The pending accept then fails, and the connection is handed to `connect`.
      if (passive.conn) closeQuietly(listener);
    }
    return passive.conn !== null;
  }

  /** A sentence about the channel's state, for STAT. */
  describe(): string {
    if (this.#passive) {
      return this.connected
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
    const listen = this.#options.native
      ? (address: { hostname: string; port: number }) =>
        NativeListener.listen({ ...address, uploads: this.#options.uploads })
      : (address: { hostname: string; port: number }) => Deno.listen(address);
    let listener: DataListener;
    try {
      listener = listenPassive(listen, hostname, ports);
    } catch (error) {
      if (!(error instanceof NoFreePassivePort)) throw error;
      // A listener of the runtime closed a moment ago (by this PASV or another
      // session's ABOR) frees its port only once its pending accept has run down.
      await new Promise((resolve) => setTimeout(resolve, 0));
      listener = listenPassive(listen, hostname, ports);
    }
    const passive: Passive = { listener, conn: null, accepted: Promise.resolve(null) };
    passive.accepted = this.#acceptFromClient(passive);
    this.#passive = passive;
    return (listener.addr as Deno.NetAddr).port;
  }

  /**
   * Accepts connections until the client's own comes (or the listener is closed:
   * a timeout, ABOR, a new PASV, or the connection taken by {@linkcode connected}),
   * then closes the listener.
   */
  async #acceptFromClient(passive: Passive): Promise<DataConnection | null> {
    try {
      while (!passive.conn) this.#admit(passive, await passive.listener.accept());
    } catch {
      // Closed, or the accept failed (out of descriptors): no connection, unless taken meanwhile.
    } finally {
      closeQuietly(passive.listener);
    }
    return passive.conn;
  }

  /**
   * Takes `conn` as the passive connection if it comes from the client (or foreign
   * addresses are permitted), else refuses it; a connection after the one taken is
   * closed.
   */
  #admit(passive: Passive, conn: DataConnection): void {
    if (passive.conn) return closeQuietly(conn);
    const ip = normalizeIp((conn.remoteAddr as Deno.NetAddr).hostname);
    const relayed = this.#options.relays?.some((network) => inNetwork(ip, network)) ?? false;
    if (this.#options.permitForeignAddresses || sameAddress(ip, this.#clientIp) || relayed) {
      passive.conn = conn;
      return;
    }
    this.#options.onRefused(`refused passive data connection from foreign address ${ip}`);
    conn.close();
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
  async connect(): Promise<DataConnection> {
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
        const target = { ...active, signal: controller.signal, uploads: this.#options.uploads };
        return await (this.#options.native ? NativeConn.connect(target) : Deno.connect(target));
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

/** A connection `listener` has queued, taken without waiting; `null` if none (or it fails: the pending accept will say). */
function acceptQueued(listener: NativeListener): NativeConn | null {
  try {
    return listener.acceptNow();
  } catch {
    return null;
  }
}

function closeQuietly(closer: { close(): void }): void {
  try {
    closer.close();
  } catch {
    // Already closed.
  }
}

/**
 * TCP sockets owned through FFI, for data connections: {@linkcode NativeListener}
 * (passive mode) and {@linkcode NativeConn} (either mode), whose descriptor can be
 * handed to `sendfile(2)`, which the runtime's own connections cannot do (they
 * expose no descriptor).
 *
 * Every socket is non-blocking and close-on-exec. Each call is made synchronously
 * on the main thread (so its errno is the call's own); one that would block
 * answers EAGAIN, and the socket then waits in the reactor (`reactor.ts`) until it
 * is ready, which costs no worker thread of its own. Only the copies between a
 * file and the socket that could wait on the disk run on a worker thread
 * (`page_cache.ts` tells which), and a socket is never closed under one; a whole
 * upload may run on an upload thread (`upload_pumps.ts`), on a copy of the
 * descriptor.
 * Addresses are IP literals (IPv4 or IPv6), as FTP's PASV, EPSV, PORT and EPRT
 * deal in; failures of the network are the runtime's own error classes
 * (`Deno.errors.ConnectionRefused`, `AddrInUse`, `ConnectionReset`,
 * `BrokenPipe`, ...), so callers treat both kinds of socket alike.
 *
 * A socket's descriptor is closed exactly once, by `close()` (idempotent) or by
 * the `using` that made it when making it failed; its waits are dropped from the
 * reactor before it is closed, so a later socket that reuses the number is never
 * woken for it.
 *
 * @module
 */

import { formatIPv6, ipBytes } from "../net.ts";
import {
  LocalFileError,
  type RunningUpload,
  type Transport,
  type UploadOptions,
  writeAll,
} from "../transport.ts";
import {
  accept4,
  AF,
  bind,
  connect,
  Descriptor,
  E,
  intOption,
  libc,
  listen,
  recv,
  send,
  sendfile,
  sendfileOffThread,
  setIntOption,
  SHUT,
  shutdown,
  SO,
  socket,
  socketName,
  SOL,
  SystemError,
  TCP,
} from "./libc.ts";
import { mayReadNow } from "./page_cache.ts";
import { forget, readable, writable } from "./reactor.ts";
import { socketCall, socketError } from "./socket_errors.ts";
import { receiveToEnd, SpliceReceiver } from "./splice_receiver.ts";
import type { UploadPumps } from "./upload_pumps.ts";

/** `sizeof(struct sockaddr_in6)`, the largest address made or accepted here. */
const SOCKADDR_SIZE = 28;
/** Connections a passive listener queues before it accepts (as the runtime's own listeners). */
const BACKLOG = 128;
/** Bytes read per chunk of {@linkcode NativeConn.readable}. */
const STREAM_CHUNK = 64 * 1024;

/**
 * Whether native sockets can be made in this process: Linux, FFI granted, and the
 * GNU C library (see `libc()`).
 */
export function nativeSocketsAvailable(): boolean {
  return libc() !== null;
}

// --- Addresses ---------------------------------------------------------------

/** The `sockaddr_in` or `sockaddr_in6` of an IP literal and port. */
function socketAddress(hostname: string, port: number): {
  family: number;
  bytes: Uint8Array<ArrayBuffer>;
} {
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new TypeError(`invalid port ${port}`);
  }
  const ip = ipBytes(hostname);
  if (ip === null) throw new TypeError(`not an IP address: ${hostname}`);
  const family = ip.length === 4 ? AF.INET : AF.INET6;
  // sockaddr_in: family, port, address at 4; sockaddr_in6: family, port, flow info
  // (0), address at 8, scope (0).
  const bytes = new Uint8Array(family === AF.INET ? 16 : SOCKADDR_SIZE);
  const view = new DataView(bytes.buffer);
  view.setUint16(0, family, true);
  view.setUint16(2, port, false);
  bytes.set(ip, family === AF.INET ? 4 : 8);
  return { family, bytes };
}

/** The address a `sockaddr` of `length` bytes holds. */
function netAddr(bytes: Uint8Array<ArrayBuffer>, length: number): Deno.NetAddr {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const family = length >= 2 ? view.getUint16(0, true) : -1;
  if (family === AF.INET && length >= 8) {
    return { transport: "tcp", hostname: bytes.subarray(4, 8).join("."), port: view.getUint16(2) };
  }
  if (family === AF.INET6 && length >= 24) {
    return {
      transport: "tcp",
      hostname: formatIPv6(bytes.subarray(8, 24)),
      port: view.getUint16(2),
    };
  }
  throw new TypeError(`not an IPv4 or IPv6 socket address (family ${family}, ${length} bytes)`);
}

/** The socket's own address (`"sock"`) or its peer's (`"peer"`). */
function addressOf(fd: number, which: "sock" | "peer"): Deno.NetAddr {
  const bytes = new Uint8Array(SOCKADDR_SIZE);
  return netAddr(bytes, socketName(fd, which, bytes));
}

// --- Errors ------------------------------------------------------------------

/** Whether `error` says the process (EMFILE) or the system (ENFILE) has no descriptor left. */
function outOfDescriptors(error: unknown): boolean {
  return error instanceof SystemError && (error.errno === E.MFILE || error.errno === E.NFILE);
}

/**
 * Errors a passive socket's `accept4` passes on from a connection that failed
 * before it was accepted (accept(2)): the next connection is waited for instead.
 */
const ACCEPT_RETRY = new Set<number>([
  E.INTR,
  E.CONNABORTED,
  E.PROTO,
  E.NETDOWN,
  E.NETUNREACH,
  E.HOSTUNREACH,
]);

// --- Sockets -----------------------------------------------------------------

/** A socket's descriptor: dropped from the reactor, then closed, once. */
class Socket implements Disposable {
  readonly #descriptor: Descriptor;
  /** Closed for its users, though the descriptor may wait for a call in flight. */
  #closed = false;

  constructor(descriptor: Descriptor) {
    this.#descriptor = descriptor;
  }

  /** The descriptor's number; `BadResource` once closed (the number may belong to another file by then). */
  get fd(): number {
    if (!this.open) throw new Deno.errors.BadResource("the socket is closed");
    return this.#descriptor.fd;
  }

  /** Whether it is still open. */
  get open(): boolean {
    return !this.#closed && this.#descriptor.open;
  }

  /**
   * Closes it for its users now (its waits reject with `BadResource`) and the
   * descriptor once `inFlight`, a worker thread's call on it, has settled, so that
   * the call never acts on a new socket that took its number.
   */
  closeAfter(inFlight: Promise<unknown>): void {
    if (!this.open) return;
    this.#closed = true;
    forget(this.#descriptor.fd);
    const close = () => this.#descriptor[Symbol.dispose]();
    inFlight.then(close, close);
  }

  [Symbol.dispose](): void {
    if (!this.open) return;
    this.#closed = true;
    forget(this.#descriptor.fd);
    this.#descriptor[Symbol.dispose]();
  }
}

/** Where to listen or connect: an IP literal and a port. */
export interface NativeAddress {
  /** An IPv4 or IPv6 address (no host names). */
  hostname: string;
  /** The port; 0 to listen on one the kernel picks. */
  port: number;
}

/** Where a connection's uploads may run besides this thread. */
export interface NativeSocketOptions {
  /** The upload threads; without them, uploads run on this thread. */
  uploads?: UploadPumps;
}

let adopt: (socket: Socket, remoteAddr: Deno.NetAddr, uploads: UploadPumps | null) => NativeConn;

/**
 * A listening socket made with `socket`, `bind` and `listen` (with
 * `SO_REUSEADDR`, as the runtime's own listeners). A port already taken fails with
 * `Deno.errors.AddrInUse`, so the passive range is scanned as with
 * `Deno.listen`.
 */
export class NativeListener implements Disposable {
  /** The address it listens on. */
  readonly addr: Deno.NetAddr;
  readonly #socket: Socket;
  readonly #uploads: UploadPumps | null;

  private constructor(socket: Socket, addr: Deno.NetAddr, uploads: UploadPumps | null) {
    this.#socket = socket;
    this.addr = addr;
    this.#uploads = uploads;
  }

  /** Listens on `hostname`:`port`; the connections it accepts run their uploads where `uploads` says. */
  static listen(options: NativeAddress & NativeSocketOptions): NativeListener {
    const { family, bytes } = socketAddress(options.hostname, options.port);
    using stack = new DisposableStack();
    const owned = stack.use(new Socket(socketCall(() => socket(family))));
    const fd = owned.fd;
    socketCall(() => {
      setIntOption(fd, SOL.SOCKET, SO.REUSEADDR, 1);
      bind(fd, bytes);
      listen(fd, BACKLOG);
    });
    const listener = new NativeListener(owned, addressOf(fd, "sock"), options.uploads ?? null);
    stack.move();
    return listener;
  }

  /**
   * The next connection; rejects with `BadResource` once the listener is closed,
   * and with the system's error when a connection cannot be taken (no descriptor
   * left: `EMFILE`).
   */
  async accept(): Promise<NativeConn> {
    for (let waited = false;; waited = true) {
      try {
        const conn = this.acceptNow();
        if (conn) return conn;
      } catch (error) {
        // accept4 takes a descriptor before it looks for a connection: out of
        // descriptors it fails even when none waits. Only once one is known to
        // wait is that this accept's failure.
        if (waited || !outOfDescriptors(error)) throw error;
      }
      await readable(this.#socket.fd);
    }
  }

  /**
   * A connection already queued, taken without waiting; `null` when there is none.
   * Throws as {@linkcode accept} rejects.
   */
  acceptNow(): NativeConn | null {
    const peer = new Uint8Array(SOCKADDR_SIZE);
    while (true) {
      const result = accept4(this.#socket.fd, peer);
      if (result >= 0) {
        using stack = new DisposableStack();
        const accepted = stack.use(new Socket(new Descriptor(result)));
        const conn = adopt(accepted, netAddr(peer, peer.byteLength), this.#uploads);
        stack.move();
        return conn;
      }
      if (result === -E.AGAIN) return null;
      if (!ACCEPT_RETRY.has(-result)) throw socketError("accept4", -result);
    }
  }

  /** Stops listening; a pending `accept` rejects. Closing again does nothing. */
  close(): void {
    this.#socket[Symbol.dispose]();
  }

  /** Closes it, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * A connected TCP socket of its own, a {@linkcode Transport}: `read` is `recv`,
 * `write` is `send`, and {@linkcode NativeConn.sendFile} is `sendfile(2)` from a
 * file's descriptor, the zero-copy path. It also offers the byte streams that
 * `upgradeToTls` runs TLS over.
 */
export class NativeConn implements Transport, Disposable {
  /** The peer's address. */
  readonly remoteAddr: Deno.NetAddr;
  /** This end's address. */
  readonly localAddr: Deno.NetAddr;
  readonly #socket: Socket;
  /** Spliced uploads run on this thread. */
  readonly #receiver: SpliceReceiver;
  /** Where uploads may run on other threads; `null` for this thread only. */
  readonly #uploads: UploadPumps | null;
  /** A `sendfile` running on a worker thread: the socket is closed after it. */
  #sending: Promise<unknown> | null = null;
  /** Stops the upload an upload thread runs (on copies of the descriptors), if one does. */
  #stopUpload: AbortController | null = null;
  /** The unsent bytes the kernel may queue ({@linkcode NativeConn.#limitUnsent}); 0 for its default. */
  #unsentLimit = 0;
  #readable: ReadableStream<Uint8Array<ArrayBuffer>> | undefined;
  #writable: WritableStream<Uint8Array> | undefined;

  static {
    adopt = (socket, remoteAddr, uploads) => new NativeConn(socket, remoteAddr, uploads);
  }

  private constructor(socket: Socket, remoteAddr: Deno.NetAddr, uploads: UploadPumps | null) {
    this.#socket = socket;
    this.remoteAddr = remoteAddr;
    this.localAddr = addressOf(socket.fd, "sock");
    this.#uploads = uploads;
    this.#receiver = new SpliceReceiver(() => this.#socket.fd);
  }

  /**
   * Connects to `hostname`:`port`; rejects with the system's error (as
   * `Deno.connect` does: `ConnectionRefused`, ...) or, when `signal` aborts first,
   * with its reason.
   */
  static async connect(
    options: NativeAddress & NativeSocketOptions & { signal?: AbortSignal },
  ): Promise<NativeConn> {
    options.signal?.throwIfAborted();
    const { family, bytes } = socketAddress(options.hostname, options.port);
    using stack = new DisposableStack();
    const owned = stack.use(new Socket(socketCall(() => socket(family))));
    const fd = owned.fd;
    const result = connect(fd, bytes);
    if (result === -E.INPROGRESS || result === -E.INTR) {
      await writable(fd, options.signal);
      const failure = socketCall(() => intOption(fd, SOL.SOCKET, SO.ERROR));
      if (failure !== 0) throw socketError("connect", failure);
    } else if (result < 0) {
      throw socketError("connect", -result);
    }
    const conn = new NativeConn(owned, addressOf(fd, "peer"), options.uploads ?? null);
    stack.move();
    return conn;
  }

  /** Reads up to `p.length` bytes into `p`; `null` once the peer has closed its side. */
  async read(p: Uint8Array): Promise<number | null> {
    while (true) {
      const fd = this.#socket.fd;
      if (p.byteLength === 0) return 0;
      const n = recv(fd, p);
      if (n > 0) return n;
      if (n === 0) return null;
      if (n === -E.AGAIN) await readable(fd);
      else if (n !== -E.INTR) throw socketError("recv", -n);
    }
  }

  /** Writes some of `p` (at least one byte, unless `p` is empty); resolves to how many. */
  async write(p: Uint8Array): Promise<number> {
    while (true) {
      const fd = this.#socket.fd;
      if (p.byteLength === 0) return 0;
      const n = send(fd, p);
      if (n >= 0) return n;
      if (n === -E.AGAIN) await writable(fd);
      else if (n !== -E.INTR) throw socketError("send", -n);
    }
  }

  /**
   * Sends up to `count` (> 0) bytes of the open file `file` from byte `offset`
   * with `sendfile(2)`, the bytes going from the page cache to the socket without
   * a copy through this process; resolves to how many, 0 at the end of the file.
   * Waits (in the reactor) while the socket holds about `count` bytes unsent
   * ({@linkcode NativeConn.#limitUnsent}). The call runs on this thread when the
   * bytes are in memory (`page_cache.ts`), else on a worker thread. A failure of
   * the connection rejects as `write` does; one of the file with a
   * `LocalFileError`.
   */
  async sendFile(file: number, offset: number, count: number): Promise<number> {
    if (count <= 0) throw new RangeError(`sendFile count ${count} is not positive`);
    this.#limitUnsent(count);
    while (true) {
      const fd = this.#socket.fd;
      const n = mayReadNow(file, offset, count)
        ? sendfile(fd, file, offset, count)
        : await this.#sendOffThread(fd, file, offset, count);
      if (n >= 0) return n;
      // Asked again: a close while the worker thread's call ran is BadResource here.
      if (n === -E.AGAIN) await writable(this.#socket.fd);
      else if (n !== -E.INTR) {
        const error = socketError("sendfile", -n);
        throw error instanceof SystemError ? new LocalFileError("reading", error) : error;
      }
    }
  }

  /**
   * Keeps about `bytes`, one step of the transfer, queued in the kernel but not
   * yet sent (`TCP_NOTSENT_LOWAT`, Linux 3.12+; elsewhere nothing changes): a send
   * stops queuing once `bytes` wait unsent, and the socket is writable again when
   * less than half of that is left. The bytes in flight, and so the window a
   * long, fast path needs, are not limited by it.
   *
   * Without it, the kernel queues up to the send buffer's 4 MiB per connection
   * and transmits the backlog as the peer's acknowledgements open its window,
   * that is in the peer's own time slice (on loopback, the client's); with it,
   * each step is transmitted at once, in this process's. The step is the
   * transfer's share of the buffer pool, 1 MiB alone and 64 KiB among 300, so a
   * lone download still waits for its socket only once a MiB. Measured here
   * with the client on the same two cores, 300 concurrent 10 MB downloads took
   * 0.9-1.2 s against 1.8-2.1.
   */
  #limitUnsent(bytes: number): void {
    if (bytes === this.#unsentLimit) return;
    this.#unsentLimit = bytes;
    try {
      setIntOption(this.#socket.fd, SOL.TCP, TCP.NOTSENT_LOWAT, bytes);
    } catch (error) {
      if (!(error instanceof SystemError && error.errno === E.NOPROTOOPT)) throw error;
    }
  }

  /** `sendfile` on a worker thread, the socket kept open until it returns. */
  async #sendOffThread(fd: number, file: number, offset: number, count: number): Promise<number> {
    const sending = sendfileOffThread(fd, file, offset, count);
    this.#sending = sending;
    try {
      return await sending;
    } finally {
      this.#sending = null;
    }
  }

  /**
   * Receives up to `count` (> 0) bytes into the open file `file` at byte `offset`
   * with `splice(2)`, socket to pipe to file, the bytes never copied through this
   * process ({@linkcode SpliceReceiver.receive}, whose waits and failures are
   * this one's); resolves to how many, 0 once the peer has closed its side.
   */
  receiveFile(file: number, offset: number, count: number, patience?: number): Promise<number> {
    return this.#receiver.receive(file, offset, count, patience);
  }

  /**
   * Receives into `file` from `offset` until the peer closes its side, as
   * {@linkcode receiveFile} does step after step: on an upload thread when the
   * connection was made with `uploads` and one is the least busy place
   * (`upload_pumps.ts`), else on this thread. Closing the connection ends it
   * either way: what came is written, and `done` rejects with `BadResource`.
   */
  receiveFileToEnd(file: number, offset: number, options: UploadOptions): RunningUpload {
    const fd = this.#socket.fd;
    const here = () => this.#receiveHere(file, offset, options);
    if (!this.#uploads) return here();
    const stop = new AbortController();
    const upload = this.#uploads.receive(fd, file, offset, options, here, stop.signal);
    if (upload.offThread) {
      this.#stopUpload = stop;
      const settled = () => {
        if (this.#stopUpload === stop) this.#stopUpload = null;
      };
      upload.done.then(settled, settled);
    }
    return upload;
  }

  /** An upload to its end on this thread. */
  #receiveHere(file: number, offset: number, options: UploadOptions): RunningUpload {
    let bytes = 0;
    let lastProgress = performance.now();
    const done = receiveToEnd(this.#receiver, file, offset, options, (total) => {
      bytes = total;
      lastProgress = performance.now();
    });
    return {
      get bytes() {
        return bytes;
      },
      get lastProgress() {
        return lastProgress;
      },
      offThread: false,
      done,
    };
  }

  /** Ends this side of the stream (`shutdown(SHUT_WR)`): the peer reads to its end, then sees it. */
  end(): Promise<void> {
    try {
      const result = shutdown(this.#socket.fd, SHUT.WR);
      // A peer that has already gone (reset) has nothing left to be told.
      if (result < 0 && result !== -E.NOTCONN) throw socketError("shutdown", -result);
    } catch (error) {
      return Promise.reject(error);
    }
    return Promise.resolve();
  }

  /** Turns Nagle's algorithm off (`true`) or on. */
  setNoDelay(noDelay = true): void {
    socketCall(() => setIntOption(this.#socket.fd, SOL.TCP, TCP.NODELAY, noDelay ? 1 : 0));
  }

  /** The bytes received, as a stream (cancelling it closes the connection). */
  get readable(): ReadableStream<Uint8Array<ArrayBuffer>> {
    return this.#readable ??= new ReadableStream<Uint8Array<ArrayBuffer>>({
      pull: async (controller) => {
        const chunk = new Uint8Array(STREAM_CHUNK);
        const n = await this.read(chunk);
        if (n === null) controller.close();
        else controller.enqueue(chunk.subarray(0, n));
      },
      cancel: () => this.close(),
    }, { highWaterMark: 0 });
  }

  /** A stream to send bytes with; closing it ends this side ({@linkcode end}), aborting it closes the connection. */
  get writable(): WritableStream<Uint8Array> {
    return this.#writable ??= new WritableStream<Uint8Array>({
      write: (chunk) => writeAll(this, chunk),
      close: () => this.end(),
      abort: () => this.close(),
    });
  }

  /** Closes both directions at once; pending reads and writes reject with `BadResource`. Closing again does nothing. */
  close(): void {
    if (this.#stopUpload && this.#socket.open) {
      // An upload thread reads the socket through a copy of the descriptor: stopped,
      // and woken by the shutdown, it writes what came and closes its copy.
      this.#stopUpload.abort();
      shutdown(this.#socket.fd, SHUT.RDWR);
    }
    if (this.#sending && this.#socket.open) {
      // A worker thread's sendfile still uses the descriptor: the peer is told
      // now, the descriptor closed once the call returns.
      shutdown(this.#socket.fd, SHUT.RDWR);
      this.#socket.closeAfter(this.#sending);
    } else {
      this.#socket[Symbol.dispose]();
    }
    this.#receiver.close();
  }

  /** Closes it, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}

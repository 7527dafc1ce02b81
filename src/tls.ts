/**
 * TLS for FTPS (RFC 4217): the server's certificate, and the server side of a TLS
 * handshake over a plain connection, for AUTH TLS, implicit FTPS and PROT P data
 * connections alike.
 *
 * The runtime's TLS server (`Deno.listenTls`) cannot take over a connection that is
 * already open, so the upgrade goes through `node:tls`, wrapped here as a
 * {@linkcode Transport} so that sessions and transfers never see the difference.
 *
 * @module
 */

import { createPrivateKey, X509Certificate } from "node:crypto";
import { Duplex } from "node:stream";
import tls from "node:tls";
import type { Transport } from "./transport.ts";
import { systemReason } from "./errors.ts";

/** A certificate or key that cannot be used; the message says why. */
export class TlsConfigError extends Error {
  /** Always `"TlsConfigError"`. */
  override name = "TlsConfigError";
}

/** A TLS handshake that failed or did not finish in time. */
export class TlsHandshakeError extends Error {
  /** Always `"TlsHandshakeError"`. */
  override name = "TlsHandshakeError";
}

/** The certificate and key, as PEM text. */
export interface CertificatePem {
  /** The certificate, then any intermediate certificates. */
  cert: string;
  /** The private key. */
  key: string;
}

/** Options of FTPS, pyftplib's `TLS_FTPHandler` attributes. */
export interface TLSOptions {
  /** The certificate file (PEM); it may hold the key too. */
  certfile?: string;
  /** The private key file (PEM), when not in `certfile`. */
  keyfile?: string;
  /** A certificate and key already in memory (a generated self-signed one, say). */
  pem?: CertificatePem;
  /** A ready-made secure context, used as it is instead of the files. */
  context?: tls.SecureContext;
  /** The lowest TLS version accepted (default `"TLSv1.2"`). */
  minVersion?: "TLSv1.2" | "TLSv1.3";
  /** Require AUTH before USER (default false). */
  controlRequired?: boolean;
  /** Require PROT P before PASV, EPSV, PORT and EPRT (default false). */
  dataRequired?: boolean;
  /**
   * Require every PROT P data connection to resume the TLS session of the control
   * connection, as vsftpd's `require_ssl_reuse` does (default false: Python's
   * ftplib never resumes).
   */
  requireSessionReuse?: boolean;
  /** Start TLS as soon as a client connects (implicit FTPS, port 990 style). */
  implicit?: boolean;
}

/** {@linkcode TLSOptions} ready to use. */
export interface TlsConfig {
  /** The certificate and key, as a context every TLS connection is made with. */
  context: tls.SecureContext;
  /** {@linkcode TLSOptions.controlRequired}. */
  controlRequired: boolean;
  /** {@linkcode TLSOptions.dataRequired}. */
  dataRequired: boolean;
  /** {@linkcode TLSOptions.requireSessionReuse}. */
  requireSessionReuse: boolean;
  /** {@linkcode TLSOptions.implicit}. */
  implicit: boolean;
}

const PRIVATE_KEY_PEM = /-----BEGIN ([A-Z ]*)PRIVATE KEY-----[\s\S]+?-----END \1PRIVATE KEY-----/;

function readPem(path: string, what: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch (error) {
    const reason = systemReason(error);
    throw new TlsConfigError(`cannot read the ${what} ${path}: ${reason}`);
  }
}

/**
 * Checks that `pem` holds a certificate and the private key that belongs to it;
 * throws {@linkcode TlsConfigError} saying what is wrong.
 */
export function checkCertificate(pem: CertificatePem): X509Certificate {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(pem.cert);
  } catch {
    throw new TlsConfigError("the certificate is not a PEM X.509 certificate");
  }
  const keyText = PRIVATE_KEY_PEM.exec(pem.key)?.[0];
  if (!keyText) throw new TlsConfigError("no PEM private key found (give it with keyfile)");
  let key;
  try {
    key = createPrivateKey(keyText);
  } catch {
    throw new TlsConfigError("the private key cannot be read (it may be encrypted or damaged)");
  }
  if (!certificate.checkPrivateKey(key)) {
    throw new TlsConfigError("the private key does not belong to the certificate");
  }
  return certificate;
}

/** Reads and checks the certificate and key of `options`, and builds the context. */
export function resolveTlsOptions(options: TLSOptions): TlsConfig {
  let context = options.context;
  if (!context) {
    let pem = options.pem;
    if (!pem) {
      if (!options.certfile) throw new TlsConfigError("FTPS needs a certificate (certfile)");
      const cert = readPem(options.certfile, "certificate");
      pem = { cert, key: options.keyfile ? readPem(options.keyfile, "key") : cert };
    }
    checkCertificate(pem);
    context = tls.createSecureContext({
      cert: pem.cert,
      key: PRIVATE_KEY_PEM.exec(pem.key)![0],
      minVersion: options.minVersion ?? "TLSv1.2",
    });
  }
  return {
    context,
    controlRequired: options.controlRequired ?? false,
    dataRequired: options.dataRequired ?? false,
    requireSessionReuse: options.requireSessionReuse ?? false,
    implicit: options.implicit ?? false,
  };
}

/**
 * What TLS is run over: a connection's byte streams and a way to close it. A
 * runtime connection (`Deno.Conn`) and a native socket (`NativeConn`) both are one.
 */
export interface TlsCarrier {
  /** The bytes received. */
  readonly readable: ReadableStream<Uint8Array>;
  /** Where the bytes to send go; closing it ends the stream. */
  readonly writable: WritableStream<Uint8Array>;
  /** Closes the connection at once. */
  close(): void;
}

/** How many decrypted bytes a TLS transport holds before it stops reading the connection. */
const HIGH_WATER = 1024 * 1024;
/** How long after the TCP stream ends the TLS socket may still deliver its last bytes. */
const WIRE_END_GRACE_MS = 20;

/**
 * A server-side TLS connection as a {@linkcode Transport}. Received bytes are
 * buffered up to {@linkcode HIGH_WATER}, then the encrypted stream under the TLS
 * socket is paused (pausing the TLS socket itself would lose its end event in this
 * runtime). At the end of the stream, {@linkcode TlsTransport.cleanEnd} tells
 * whether the peer sent close_notify: an upload without it was cut short.
 */
export class TlsTransport implements Transport {
  readonly #socket: tls.TLSSocket;
  readonly #wire: Duplex;
  readonly #conn: TlsCarrier;
  readonly #chunks: Uint8Array[] = [];
  #buffered = 0;
  #paused = false;
  #ended = false;
  #closeNotify = false;
  #wireEnded = false;
  #error: Error | null = null;
  #wake: (() => void) | null = null;
  #endTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #release: () => Promise<void>;

  /**
   * Wraps `socket`, the TLS side of `wire`, which carries the bytes of `conn`;
   * `release` sends what the wire held back, before the end of the stream.
   */
  constructor(
    socket: tls.TLSSocket,
    wire: Duplex,
    conn: TlsCarrier,
    release: () => Promise<void> = () => Promise.resolve(),
  ) {
    this.#socket = socket;
    this.#wire = wire;
    this.#conn = conn;
    this.#release = release;
    socket.on("data", (chunk: Uint8Array) => {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
      if (this.#buffered > HIGH_WATER && !this.#paused) {
        this.#paused = true;
        wire.pause();
      }
      this.#notify();
    });
    // The TLS socket ends after a close_notify, but also after a bare end of the TCP
    // stream: only an end that comes while the stream is still open was a close_notify.
    socket.on("end", () => {
      this.#closeNotify = !this.#wireEnded;
      this.#ended = true;
      this.#notify();
    });
    socket.on("close", () => {
      this.#ended = true;
      this.#notify();
    });
    socket.on("error", (error: Error) => {
      this.#error ??= error;
      this.#notify();
    });
    // A half-open TLS socket waits forever when the TCP stream ends without
    // close_notify; give it a moment to deliver what it decrypted, then end.
    wire.on("end", () => {
      this.#wireEnded = true;
      this.#endTimer = setTimeout(() => {
        this.#ended = true;
        this.#notify();
      }, WIRE_END_GRACE_MS);
    });
  }

  /** Whether the data connection resumed an earlier TLS session of this server. */
  get sessionReused(): boolean {
    return this.#socket.isSessionReused();
  }

  /** After the end of the stream: whether the peer closed TLS properly (close_notify). */
  get cleanEnd(): boolean {
    return this.#closeNotify;
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  /** Reads decrypted bytes into `p`; `null` at the end of the stream. */
  async read(p: Uint8Array): Promise<number | null> {
    while (this.#chunks.length === 0) {
      if (this.#error) throw this.#error;
      if (this.#ended) return null;
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
    let n = 0;
    while (n < p.length && this.#chunks.length > 0) {
      const chunk = this.#chunks[0];
      const take = Math.min(chunk.length, p.length - n);
      p.set(chunk.subarray(0, take), n);
      n += take;
      if (take === chunk.length) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(take);
    }
    this.#buffered -= n;
    if (this.#paused && this.#buffered <= HIGH_WATER / 2) {
      this.#paused = false;
      this.#wire.resume();
    }
    return n;
  }

  /** Encrypts and sends all of `p`; resolves once the bytes are handed to the connection. */
  write(p: Uint8Array): Promise<number> {
    if (this.#error) return Promise.reject(this.#error);
    return new Promise((resolve, reject) => {
      this.#socket.write(p, (error?: Error | null) => error ? reject(error) : resolve(p.length));
    });
  }

  /**
   * Sends close_notify after everything written, and resolves once it has reached
   * the connection (the wire stream has finished), or after `timeoutMs`.
   */
  async end(timeoutMs = 5000): Promise<void> {
    if (this.#error || this.#socket.destroyed) return;
    await this.#release().catch(() => {});
    let timer: ReturnType<typeof setTimeout> | undefined;
    await new Promise<void>((resolve) => {
      this.#wire.once("finish", resolve);
      this.#wire.once("close", resolve);
      timer = setTimeout(resolve, timeoutMs);
      this.#socket.end();
    });
    clearTimeout(timer);
  }

  /** Closes the TLS session and the connection under it at once. */
  close(): void {
    clearTimeout(this.#endTimer);
    this.#socket.destroy();
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
  }
}

/** A connection's writable side that can hold back what is written, from `hold()` until `release()`. */
interface HoldableWritable {
  /** What the TLS socket writes to. */
  writable: WritableStream<Uint8Array>;
  /** Keeps what is written from now on. */
  hold(): void;
  /** Sends what was kept, in order, and stops keeping. */
  release(): Promise<void>;
}

function holdableWritable(writable: WritableStream<Uint8Array>): HoldableWritable {
  const target = writable.getWriter();
  let held: Uint8Array[] | null = null;
  const release = async () => {
    // Writes that come meanwhile join the queue, so the order is kept.
    while (held && held.length > 0) await target.write(held.shift()!);
    held = null;
  };
  return {
    hold: () => held ??= [],
    release,
    writable: new WritableStream<Uint8Array>({
      async write(chunk) {
        if (held) held.push(chunk);
        else await target.write(chunk);
      },
      async close() {
        await release();
        await target.close();
      },
      abort: (reason) => target.abort(reason),
    }),
  };
}

/** Options of {@linkcode upgradeToTls}. */
export interface UpgradeOptions {
  /**
   * The connection carries an upload, which the client only writes to: under TLS
   * 1.3 nothing the server writes after the handshake (its session tickets) is
   * sent before the end of the transfer. A client that never reads such a
   * connection (curl, rclone) would close it with those bytes unread, and its
   * system would then reset the connection, losing the end of the upload.
   */
  upload?: boolean;
}

/**
 * Runs the server side of a TLS handshake over `conn` and resolves to the secured
 * transport; throws {@linkcode TlsHandshakeError} (and closes `conn`) when the
 * client sends something else, disconnects, or takes longer than `timeoutMs`.
 */
export function upgradeToTls(
  conn: TlsCarrier,
  context: tls.SecureContext,
  timeoutMs: number,
  options: UpgradeOptions = {},
): Promise<TlsTransport> {
  const wire = holdableWritable(conn.writable);
  // Half-open, so that the TLS socket neither ends nor dies by itself when the
  // client's close_notify arrives: ours is sent by end(), after the last byte.
  const duplex = Duplex.fromWeb(
    { readable: conn.readable, writable: wire.writable },
    { allowHalfOpen: true } as Parameters<typeof Duplex.fromWeb>[1],
  );
  const socket = new tls.TLSSocket(duplex, {
    isServer: true,
    secureContext: context,
    allowHalfOpen: true,
  } as tls.TLSSocketOptions);
  const transport = new TlsTransport(socket, duplex, conn, wire.release);
  return new Promise((resolve, reject) => {
    const fail = (reason: string) => {
      clearTimeout(timer);
      transport.close();
      reject(new TlsHandshakeError(reason));
    };
    const timer = setTimeout(() => fail("TLS handshake timed out"), timeoutMs);
    socket.once("secure", () => {
      clearTimeout(timer);
      // Under TLS 1.2 the server's last handshake flight is still to be written.
      if (options.upload && socket.getProtocol() === "TLSv1.3") wire.hold();
      socket.removeListener("error", onError);
      socket.removeListener("close", onClose);
      duplex.removeListener("end", onClose);
      resolve(transport);
    });
    const onError = (error: Error) => fail(`TLS handshake failed: ${error.message}`);
    const onClose = () => fail("connection closed during the TLS handshake");
    socket.once("error", onError);
    socket.once("close", onClose);
    duplex.once("end", onClose);
  });
}

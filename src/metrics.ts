/**
 * {@linkcode Metrics}: what a server counts for its operator (sessions, logins,
 * transfers, refusals), told by the server and its sessions as things happen, and
 * written in Prometheus's text format. Several servers (an implicit FTPS listener
 * beside the plain one) can share one.
 *
 * @module
 */

import { MetricFamily } from "./prometheus.ts";

/** How a login ended: logged in, wrong name or password, or refused (the account may not log in now). */
export type LoginResult = "ok" | "failed" | "refused";

/** Which way a file went: to the server (STOR, APPE, STOU) or from it (RETR). */
export type TransferDirection = "upload" | "download";

/** How a transfer ended: completed, failed (connection, timeout, file), or aborted (ABOR, session closed). */
export type TransferResult = "completed" | "failed" | "aborted";

/** The limit a connection refused with 421 was over. */
export type ConnectionRefusal = "max_cons" | "max_cons_per_ip";

/** The connection a TLS handshake secured. */
export type TlsChannel = "control" | "data";

const DIRECTIONS: TransferDirection[] = ["upload", "download"];
const TRANSFER_RESULTS: TransferResult[] = ["completed", "failed", "aborted"];

/** Awaits the TLS `handshake` on `channel`, counting how it ended in `metrics`, if any. */
export async function countHandshake<T>(
  metrics: Metrics | null,
  channel: TlsChannel,
  handshake: Promise<T>,
): Promise<T> {
  let ok = false;
  try {
    const secured = await handshake;
    ok = true;
    return secured;
  } finally {
    metrics?.tlsHandshake(channel, ok);
  }
}

/**
 * A server's counters, which it and its sessions feed: pass one as the
 * `metrics` option of one or more `FTPServer`s, then read it with
 * {@linkcode value}, or serve {@linkcode render}'s text to Prometheus
 * (`serveMetrics`). File transfers are counted when they end; listings are not.
 *
 * ```ts
 * import { DummyAuthorizer, FTPServer, Metrics } from "../mod.ts";
 *
 * const metrics = new Metrics();
 * const authorizer = new DummyAuthorizer();
 * authorizer.addAnonymous(Deno.cwd());
 * await using server = new FTPServer({ port: 0, authorizer, metrics });
 * console.log(metrics.value("tsftpd_sessions_open")); // 0
 * ```
 */
export class Metrics {
  readonly #sessionsOpen = new MetricFamily(
    "tsftpd_sessions_open",
    "FTP control connections open now.",
    "gauge",
  );
  readonly #sessions = new MetricFamily(
    "tsftpd_sessions_total",
    "FTP control connections accepted (not counting those refused with 421).",
    "counter",
  );
  readonly #logins = new MetricFamily(
    "tsftpd_logins_total",
    "Logins by result: ok, failed (wrong user or password), refused (the account may not log in now).",
    "counter",
    { result: ["ok", "failed", "refused"] },
  );
  readonly #transfers = new MetricFamily(
    "tsftpd_transfers_total",
    "File transfers ended, by direction and result.",
    "counter",
    { direction: DIRECTIONS, result: TRANSFER_RESULTS },
  );
  readonly #bytes = new MetricFamily(
    "tsftpd_transfer_bytes_total",
    "Bytes of the file transfers ended, by direction and result.",
    "counter",
    { direction: DIRECTIONS, result: TRANSFER_RESULTS },
  );
  readonly #refusedConnections = new MetricFamily(
    "tsftpd_connections_refused_total",
    "Connections refused with 421, by the limit they were over.",
    "counter",
    { reason: ["max_cons", "max_cons_per_ip"] },
  );
  readonly #refusedPaths = new MetricFamily(
    "tsftpd_paths_refused_total",
    "Commands refused because their path leads outside the user's home.",
    "counter",
  );
  readonly #tlsHandshakes = new MetricFamily(
    "tsftpd_tls_handshakes_total",
    "TLS handshakes, by connection and result.",
    "counter",
    { channel: ["control", "data"], result: ["ok", "failed"] },
  );
  readonly #families = [
    this.#sessionsOpen,
    this.#sessions,
    this.#logins,
    this.#transfers,
    this.#bytes,
    this.#refusedConnections,
    this.#refusedPaths,
    this.#tlsHandshakes,
  ];

  /** A control connection was accepted. */
  sessionOpened(): void {
    this.#sessions.add(1);
    this.#sessionsOpen.add(1);
  }

  /** A control connection ended. */
  sessionClosed(): void {
    this.#sessionsOpen.add(-1);
  }

  /** A PASS ended with `result`. */
  loginEnded(result: LoginResult): void {
    this.#logins.add(1, { result });
  }

  /** A file transfer ended with `result` after moving `bytes`. */
  transferEnded(direction: TransferDirection, result: TransferResult, bytes: number): void {
    this.#transfers.add(1, { direction, result });
    this.#bytes.add(bytes, { direction, result });
  }

  /** A connection was refused with 421 for being over `reason`. */
  connectionRefused(reason: ConnectionRefusal): void {
    this.#refusedConnections.add(1, { reason });
  }

  /** A command was refused for a path leading outside the home. */
  pathRefused(): void {
    this.#refusedPaths.add(1);
  }

  /** A TLS handshake on `channel` succeeded or failed. */
  tlsHandshake(channel: TlsChannel, ok: boolean): void {
    this.#tlsHandshakes.add(1, { channel, result: ok ? "ok" : "failed" });
  }

  /** The value of the sample of metric `name` with `labels`, if there is one. */
  value(name: string, labels: Readonly<Record<string, string>> = {}): number | undefined {
    return this.#families.find((family) => family.name === name)?.value(labels);
  }

  /** Every metric in Prometheus's text exposition format. */
  render(): string {
    return this.#families.map((family) => family.render()).join("");
  }
}

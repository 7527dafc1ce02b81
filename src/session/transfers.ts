/**
 * {@linkcode Transfers}: a session's data transfers, from the 150 reply to the log
 * line: the data connection (under TLS with PROT P), the job, the final reply and
 * the file callbacks.
 *
 * @module
 */

import type { ActiveTransfer, TransferJob, TransferOutcome } from "../commands/table.ts";
import type { BufferPool } from "../data/buffer_pool.ts";
import { type DataChannel, DataConnectError } from "../data/channel.ts";
import { type DTPOptions, TransferError } from "../data/dtp.ts";
import type { UploadEnd } from "../fs/uploads.ts";
import type { LogFields, LogLevel } from "../log.ts";
import { countHandshake, type TransferDirection, type TransferResult } from "../metrics.ts";
import { NativeConn } from "../native/socket.ts";
import type { HandlerConfig } from "../options.ts";
import { TlsHandshakeError, upgradeToTls } from "../tls.ts";
import type { Transport } from "../transport.ts";
import { fileFailureReply, LOCAL_ERROR_REPLY, type Reply } from "./error_reply.ts";

/** The callbacks a transfer ends with. */
export type FileEvent =
  | "onFileSent"
  | "onFileReceived"
  | "onIncompleteFileSent"
  | "onIncompleteFileReceived";

/** What {@linkcode Transfers} needs of its session. */
export interface TransferHost {
  /** The session's settings. */
  readonly config: HandlerConfig;
  /** The transfer buffers every session shares. */
  readonly buffers: BufferPool;
  /** The data channel PASV and PORT prepare. */
  readonly data: DataChannel;
  /** The logged-in user's transfer settings: the server's, with the user's rate limits. */
  readonly dtp: DTPOptions;
  /** Whether data connections use TLS (PROT P). */
  readonly protP: boolean;
  /** Whether the session has closed. */
  readonly closed: boolean;
  /** Sends a reply. */
  reply(code: number, text: string): Promise<void>;
  /** Writes a log line about the session. */
  log(level: LogLevel, message: string, fields?: LogFields): void;
  /**
   * Runs a file event callback with the file's real path and, for an upload that
   * did not complete, the real path of the bytes that arrived (`null`: removed).
   */
  emit(event: FileEvent, file: string, partial: string | null): Promise<void>;
}

/** How a transfer that failed with `failure` (`null`: none) ended, for its file. */
function transferEnd(failure: unknown): UploadEnd {
  if (failure === null) return "completed";
  return failure instanceof TransferError && failure.failure === "file"
    ? "storage-failed"
    : "interrupted";
}

/** How a transfer that failed with `failure` (`null`: none) ended. */
function transferResult(failure: unknown): TransferResult {
  if (failure === null) return "completed";
  return failure instanceof TransferError && failure.failure === "aborted" ? "aborted" : "failed";
}

/** Which way a job's file goes, as an operator says it. */
function directionOf(job: TransferJob): TransferDirection {
  return job.direction === "send" ? "download" : "upload";
}

/** At most one transfer at a time, run in the background while the session reads commands. */
export class Transfers {
  readonly #host: TransferHost;
  #current: ActiveTransfer | null = null;
  /** The transfer ABOR was given for, while it runs. */
  #aborted: ActiveTransfer | null = null;

  /** The transfers of the session `host`. */
  constructor(host: TransferHost) {
    this.#host = host;
  }

  /** The transfer in progress, if any. */
  get current(): ActiveTransfer | null {
    return this.#current;
  }

  /**
   * Starts a transfer in the background: waits for the data connection (up to
   * `dataConnectTimeout`), replies 125/150 once it is made (as vsftpd does: a
   * client that never connects hears 425 alone), upgrades it to TLS under PROT P,
   * runs the job, closes it, replies 226 (or 425/426/451/452/522) and logs it.
   */
  start(job: TransferJob): void {
    const transfer: ActiveTransfer = { job, dtp: null, done: Promise.resolve() };
    this.#current = transfer;
    transfer.done = this.#run(transfer).finally(() => {
      if (this.#current === transfer) this.#current = null;
      if (this.#aborted === transfer) this.#aborted = null;
    });
  }

  /**
   * Aborts the transfer in progress, or stops waiting for its data connection;
   * resolves once its final reply was sent.
   */
  async abort(): Promise<void> {
    const transfer = this.#current;
    if (!transfer) return;
    this.#aborted = transfer;
    transfer.dtp?.abort("aborted");
    this.#host.data.close();
    await transfer.done;
  }

  /** Stops the transfer in progress at once (the session is closing). */
  stop(): void {
    this.#current?.dtp?.abort("aborted");
  }

  async #run(transfer: ActiveTransfer): Promise<void> {
    const host = this.#host;
    const { job } = transfer;
    let failure: unknown = null;
    try {
      const alreadyOpen = host.data.connected;
      const { conn, carrier } = await this.#connect(job, alreadyOpen);
      transfer.dtp = new host.config.dtpHandler(conn, host.dtp, host.buffers);
      if (host.closed || this.#aborted === transfer) transfer.dtp.abort("aborted");
      try {
        await job.run(transfer.dtp);
      } finally {
        const what = job.path === undefined ? job.command : `${job.command} ${job.path}`;
        const zeroCopy = job.direction === "send" ? "sendfile" : "splice";
        const thread = transfer.dtp.offThread ? " on an upload thread" : "";
        const path = transfer.dtp.zeroCopy ? `${zeroCopy}${thread}` : "stream";
        host.log("debug", `${what} data path: ${path} (${carrier})`);
      }
    } catch (error) {
      // ABOR while waiting for the data connection: the transfer was aborted, not refused.
      const abortedWaiting = this.#aborted === transfer && error instanceof DataConnectError;
      failure = abortedWaiting ? new TransferError("aborted", error) : error;
    }
    let outcome: TransferOutcome | void = undefined;
    try {
      outcome = await job.close?.(transferEnd(failure));
    } catch (error) {
      // The file could not be released (an upload could not be put in place): not complete.
      failure ??= new TransferError("file", error);
    }
    const result = transferResult(failure);
    // Counted before the final reply, so that a scrape after it sees the transfer.
    if (job.path !== undefined) {
      host.config.metrics?.transferEnded(directionOf(job), result, transfer.dtp?.bytes ?? 0);
    }
    await host.reply(...this.#finalReply(failure));
    await this.#finish(transfer, result, outcome?.partial ?? null);
  }

  /**
   * The data connection, once made, after the preliminary reply (125 when it was
   * `alreadyOpen`), under TLS with PROT P (resuming the control session, if
   * required), and what carries it, for the log: `native socket`, `runtime
   * socket`, with `, TLS` under PROT P.
   */
  async #connect(
    job: TransferJob,
    alreadyOpen: boolean,
  ): Promise<{ conn: Transport; carrier: string }> {
    const { config, data, protP } = this.#host;
    const conn = await data.connect();
    if (alreadyOpen) {
      await this.#host.reply(
        125,
        job.preliminary ?? "Data connection already open. Transfer starting.",
      );
    } else {
      await this.#host.reply(
        150,
        job.preliminary ?? "File status okay. About to open data connection.",
      );
    }
    const socket = conn instanceof NativeConn ? "native socket" : "runtime socket";
    // Without it the TLS close_notify after the last bytes waits out the client's delayed ACK.
    if (config.tcpNoDelay) conn.setNoDelay(true);
    const tls = config.tls;
    if (!protP || !tls) return { conn, carrier: socket };
    const transport = await countHandshake(
      config.metrics,
      "data",
      upgradeToTls(conn, tls.context, config.dataConnectTimeout * 1000, {
        upload: job.direction === "receive",
      }),
    );
    if (tls.requireSessionReuse && !transport.sessionReused) {
      transport.close();
      throw new TlsHandshakeError(
        "the data connection did not resume the control connection's TLS session",
      );
    }
    return { conn: transport, carrier: `${socket}, TLS` };
  }

  #finalReply(failure: unknown): Reply {
    if (failure === null) return [226, "Transfer complete."];
    if (failure instanceof DataConnectError) {
      const cause = failure.cause instanceof Error ? ` (${failure.cause.message})` : "";
      this.#host.log("info", `data connection failed: ${failure.message}${cause}.`);
      return [425, "Can't open data connection."];
    }
    if (failure instanceof TlsHandshakeError) {
      this.#host.log("warning", `data connection refused: ${failure.message}`);
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
        case "file": {
          const reply = fileFailureReply(failure.cause);
          if (reply) return reply;
          failure = failure.cause;
        }
      }
    }
    const detail = failure instanceof Error ? failure.stack : String(failure);
    this.#host.log("error", `transfer failed unexpectedly: ${detail}`);
    return LOCAL_ERROR_REPLY;
  }

  /**
   * A file transfer's end, after its final reply (listings have none): its log
   * line and its callback; `partial` is where a failed upload's bytes are, if anywhere.
   */
  async #finish(
    transfer: ActiveTransfer,
    result: TransferResult,
    partial: string | null,
  ): Promise<void> {
    const { job, dtp } = transfer;
    if (job.path === undefined) return;
    const bytes = dtp?.bytes ?? 0;
    const seconds = (dtp?.seconds ?? 0).toFixed(3);
    const completed = result === "completed";
    const direction = directionOf(job);
    this.#host.log(
      completed ? "info" : "warning",
      `${job.command} ${job.path} completed=${completed ? 1 : 0} bytes=${bytes} seconds=${seconds}`,
      {
        event: "transfer",
        command: job.command,
        path: job.path,
        direction,
        bytes,
        seconds: Number(seconds),
        completed,
        result,
      },
    );
    if (partial !== null && partial !== job.path) {
      this.#host.log("info", `partial upload of ${job.path} kept as ${partial}`, {
        event: "partial",
        path: job.path,
        partial,
      });
    }
    const event = job.direction === "send"
      ? (completed ? "onFileSent" : "onIncompleteFileSent")
      : (completed ? "onFileReceived" : "onIncompleteFileReceived");
    await this.#host.emit(event, job.path, partial);
  }
}

/**
 * {@linkcode MessageChannel}: the supervisor's and a worker's messages to each
 * other, one JSON object a line over a unix socket.
 *
 * @module
 */

import type { BanStore } from "../defender/ban_store.ts";
import type { ConnectionRefusal } from "../metrics.ts";
import { writeAll } from "../transport.ts";

/** What a worker tells its supervisor. */
export type WorkerMessage =
  /** The first message: which worker is on the line. */
  | { type: "hello"; worker: number; pid: number }
  /** Server number `server` of the program listens in this worker. */
  | { type: "listening"; server: number }
  /** May a client from `ip` be served by server `server`? Answered by an `admit` with the same `id`. */
  | { type: "admit"; id: number; server: number; ip: string }
  /** A connection admitted earlier has ended. */
  | { type: "release"; server: number; ip: string }
  /** A call of the defender's store, which the supervisor holds; answered by a `bans` with the same `id`. */
  | { type: "bans"; id: number; call: BanCall };

/** One call of a {@linkcode BanStore}'s methods, with its arguments. */
export type BanCall = {
  [Method in keyof BanStore]: { method: Method; args: Parameters<BanStore[Method]> };
}[keyof BanStore];

/** What the supervisor tells a worker. */
export type SupervisorMessage =
  /** The answer to the `admit` numbered `id`: the limit the client is over, or `null` to serve. */
  | { type: "admit"; id: number; refusal: ConnectionRefusal | null }
  /** The answer to the `bans` call numbered `id`: its result, or why it failed. */
  | { type: "bans"; id: number; result?: unknown; error?: string }
  /** Close every session and end. */
  | { type: "stop" }
  /** Stop accepting clients, and end once the last session has. */
  | { type: "drain" };

const encoder = new TextEncoder();

/** One end of a connection between the supervisor and a worker. */
export class MessageChannel<In, Out> {
  readonly #conn: Deno.Conn;
  #sending: Promise<void> = Promise.resolve();

  /** The channel over `conn`, which it then owns. */
  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /** Sends `message` after those sent before it; a broken connection is the reader's to notice. */
  send(message: Out): void {
    const line = encoder.encode(JSON.stringify(message) + "\n");
    this.#sending = this.#sending.then(() => writeAll(this.#conn, line)).catch(() => {});
  }

  /** The messages that come, until the other end closes (or this one does). */
  async *[Symbol.asyncIterator](): AsyncGenerator<In> {
    let pending = "";
    const decoder = new TextDecoder();
    const buffer = new Uint8Array(16 * 1024);
    while (true) {
      let read: number | null;
      try {
        read = await this.#conn.read(buffer);
      } catch {
        return;
      }
      if (read === null) return;
      pending += decoder.decode(buffer.subarray(0, read), { stream: true });
      let end;
      while ((end = pending.indexOf("\n")) >= 0) {
        yield JSON.parse(pending.slice(0, end)) as In;
        pending = pending.slice(end + 1);
      }
    }
  }

  /** Closes the connection. */
  close(): void {
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
  }
}

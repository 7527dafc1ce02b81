/**
 * Replies: their wire format, and the queue that sends a session's replies in order.
 *
 * @module
 */

import { type Transport, writeAll } from "../transport.ts";

const encoder = new TextEncoder();

/**
 * Formats a reply: `code text`, or a multi-line `code-` ... `code ` reply when text
 * has newlines. A CR (in a path name) is sent as CR NUL, as RFC 2640 asks.
 */
export function formatReply(code: number, text: string): string {
  const lines = text.replaceAll("\r", "\r\0").split("\n");
  if (lines.length === 1) return `${code} ${lines[0]}\r\n`;
  const last = lines.pop();
  const [first, ...middle] = lines;
  return `${code}-${first}\r\n` + middle.map((line) => ` ${line}\r\n`).join("") +
    `${code} ${last}\r\n`;
}

/** What a {@linkcode ReplyQueue} reports to its session. */
export interface ReplyQueueEvents {
  /** Called with each reply line before it is sent, for the debug log. */
  sending(wire: string): void;
  /** Called once a reply could not be sent: the connection is gone. */
  broken(error: unknown): void;
}

/**
 * Sends replies over a control connection one after another, in the order asked
 * for, whatever awaits between them. The transport may change (AUTH TLS) between
 * replies.
 */
export class ReplyQueue {
  /** The connection replies go out on. */
  transport: Transport;
  readonly #events: ReplyQueueEvents;
  #tail: Promise<void> = Promise.resolve();
  #stopped = false;

  /** A queue writing to `transport`. */
  constructor(transport: Transport, events: ReplyQueueEvents) {
    this.transport = transport;
    this.#events = events;
  }

  /** Queues a reply; resolves once it was sent (or dropped, once the queue stopped). */
  send(code: number, text: string): Promise<void> {
    const wire = formatReply(code, text);
    this.#tail = this.#tail.then(async () => {
      if (this.#stopped) return;
      this.#events.sending(wire);
      try {
        await writeAll(this.transport, encoder.encode(wire));
      } catch (error) {
        this.#events.broken(error);
      }
    });
    return this.#tail;
  }

  /** Resolves once every reply queued so far was sent. */
  drained(): Promise<void> {
    return this.#tail;
  }

  /** Drops every reply not sent yet, and every later one. */
  stop(): void {
    this.#stopped = true;
  }
}

/**
 * {@linkcode LineReader}: command lines off a control connection, however the bytes
 * were split or batched into packets.
 *
 * @module
 */

import type { Reader } from "./transport.ts";

const LF = 0x0a;
const CR = 0x0d;
const IAC = 0xff;
/** Telnet negotiation verbs (WILL, WONT, DO, DONT) that carry one option byte. */
const IAC_WITH_OPTION_MIN = 0xfb;

/** One line read: its text, or why it could not be read. */
export type ControlLine =
  | { kind: "line"; text: string }
  | { kind: "too-long" }
  | { kind: "not-utf8" };

/** Removes Telnet IAC sequences (such as the IP and DM that precede ABOR); IAC IAC is a literal 0xFF. */
export function stripTelnet(bytes: Uint8Array): Uint8Array {
  if (!bytes.includes(IAC)) return bytes;
  const out = new Uint8Array(bytes.length);
  let o = 0;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] !== IAC) {
      out[o++] = bytes[i];
      continue;
    }
    const verb = bytes[i + 1];
    if (verb === IAC) out[o++] = IAC;
    i += verb !== undefined && verb >= IAC_WITH_OPTION_MIN && verb < IAC ? 2 : 1;
  }
  return out.subarray(0, o);
}

/**
 * Splits the bytes of a control connection into lines ending in LF (a CR before it
 * is dropped). A line longer than `maxLength` bytes is discarded as it arrives, so
 * memory never grows with it, and reported once as `too-long`; a line that is not
 * UTF-8 is reported as `not-utf8`.
 */
export class LineReader {
  readonly #reader: Reader;
  readonly #maxLength: number;
  readonly #chunk: Uint8Array;
  readonly #decoder = new TextDecoder("utf-8", { fatal: true });
  #pending: Uint8Array = new Uint8Array(0);
  #discarding = false;

  constructor(reader: Reader, maxLength = 2048) {
    this.#reader = reader;
    this.#maxLength = maxLength;
    this.#chunk = new Uint8Array(Math.max(4096, maxLength));
  }

  /** Drops every byte received but not yet returned as a line. */
  discardBuffered(): void {
    this.#pending = new Uint8Array(0);
    this.#discarding = false;
  }

  /** The next line, or `null` once the peer has closed the connection. */
  async next(): Promise<ControlLine | null> {
    while (true) {
      const lf = this.#pending.indexOf(LF);
      if (lf >= 0) {
        const raw = this.#pending.subarray(0, lf);
        this.#pending = this.#pending.subarray(lf + 1);
        if (this.#discarding) {
          this.#discarding = false;
          return { kind: "too-long" };
        }
        if (raw.length > this.#maxLength) return { kind: "too-long" };
        return this.#decode(raw);
      }
      if (this.#pending.length > this.#maxLength) {
        this.#discarding = true;
        this.#pending = new Uint8Array(0);
      }
      const n = await this.#reader.read(this.#chunk);
      if (n === null) return null;
      this.#append(this.#chunk.subarray(0, n));
    }
  }

  #append(bytes: Uint8Array): void {
    if (this.#pending.length === 0) {
      this.#pending = bytes.slice();
      return;
    }
    const joined = new Uint8Array(this.#pending.length + bytes.length);
    joined.set(this.#pending);
    joined.set(bytes, this.#pending.length);
    this.#pending = joined;
  }

  #decode(raw: Uint8Array): ControlLine {
    let bytes = stripTelnet(raw);
    if (bytes.length > 0 && bytes[bytes.length - 1] === CR) bytes = bytes.subarray(0, -1);
    try {
      return { kind: "line", text: this.#decoder.decode(bytes) };
    } catch {
      return { kind: "not-utf8" };
    }
  }
}

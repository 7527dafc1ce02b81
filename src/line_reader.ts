/**
 * {@linkcode LineReader}: command lines off a control connection, however the bytes
 * were split or batched into packets.
 *
 * @module
 */

import type { Reader } from "./transport.ts";

const LF = 0x0a;
const CR = 0x0d;
const NUL = 0x00;
const IAC = 0xff;
/** Telnet negotiation verbs (WILL, WONT, DO, DONT) that carry one option byte. */
const IAC_WITH_OPTION_MIN = 0xfb;
/** Bytes asked for per read: command lines are short, and idle sessions are many. */
const READ_SIZE = 256;
const EMPTY = new Uint8Array(0);
/** Shared by every reader: decoding a whole line at a time keeps no state between calls. */
const UTF8 = new TextDecoder("utf-8", { fatal: true });

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

/** Turns each CR NUL into CR (RFC 2640's way of sending a CR inside a path name). */
function withoutCrNul(bytes: Uint8Array): Uint8Array {
  let cr = bytes.indexOf(CR);
  if (cr < 0) return bytes;
  const out: number[] = [];
  let start = 0;
  while (cr >= 0) {
    out.push(...bytes.subarray(start, cr + 1));
    start = bytes[cr + 1] === NUL ? cr + 2 : cr + 1;
    cr = bytes.indexOf(CR, start);
  }
  out.push(...bytes.subarray(start));
  return Uint8Array.from(out);
}

/**
 * Splits the bytes of a control connection into lines. A line ends at CRLF, at a
 * bare LF, or at a CR not followed by LF or NUL (CR NUL is a literal CR, RFC 2640).
 * A CR that ends the bytes received so far ends the line at once, and an LF that
 * arrives next is skipped: Python's `ftplib` sends `ABOR\r\n` as urgent data, and
 * the kernel drops its last byte, the LF, from the stream.
 *
 * A line longer than `maxLength` bytes is discarded as it arrives, so memory never
 * grows with it, and reported once as `too-long`; a line that is not UTF-8 is
 * reported as `not-utf8`.
 */
export class LineReader {
  readonly #reader: Reader;
  readonly #maxLength: number;
  readonly #chunk: Uint8Array;
  #pending: Uint8Array = EMPTY;
  #discarding = false;
  #skipLf = false;

  constructor(reader: Reader, maxLength = 2048) {
    this.#reader = reader;
    this.#maxLength = maxLength;
    this.#chunk = new Uint8Array(READ_SIZE);
  }

  /** How many bytes are held, received but not yet returned as a line: never much more than `maxLength`. */
  get buffered(): number {
    return this.#pending.length;
  }

  /** The next line, or `null` once the peer has closed the connection. */
  async next(): Promise<ControlLine | null> {
    while (true) {
      if (this.#skipLf && this.#pending.length > 0) {
        if (this.#pending[0] === LF) this.#pending = this.#pending.subarray(1);
        this.#skipLf = false;
      }
      const end = this.#lineEnd();
      if (end) {
        const raw = this.#pending.subarray(0, end.at);
        // An idle session keeps nothing of the bytes it has already returned.
        this.#pending = end.next === this.#pending.length
          ? EMPTY
          : this.#pending.subarray(end.next);
        this.#skipLf = end.skipLf;
        if (this.#discarding) {
          this.#discarding = false;
          return { kind: "too-long" };
        }
        if (raw.length > this.#maxLength) return { kind: "too-long" };
        return this.#decode(raw);
      }
      if (this.#pending.length > this.#maxLength) {
        this.#discarding = true;
        this.#pending = EMPTY;
      }
      const n = await this.#reader.read(this.#chunk);
      if (n === null) return null;
      this.#append(this.#chunk.subarray(0, n));
    }
  }

  /** Where the first line of the pending bytes ends, and where the next one starts. */
  #lineEnd(): { at: number; next: number; skipLf: boolean } | null {
    const bytes = this.#pending;
    const lf = bytes.indexOf(LF);
    let cr = bytes.indexOf(CR);
    while (cr >= 0 && (lf < 0 || cr < lf)) {
      const after = bytes[cr + 1];
      if (after === undefined) return { at: cr, next: cr + 1, skipLf: true };
      if (after === LF) return { at: cr, next: cr + 2, skipLf: false };
      if (after !== NUL) return { at: cr, next: cr + 1, skipLf: false };
      cr = bytes.indexOf(CR, cr + 2);
    }
    return lf >= 0 ? { at: lf, next: lf + 1, skipLf: false } : null;
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
    const bytes = withoutCrNul(stripTelnet(raw));
    try {
      return { kind: "line", text: UTF8.decode(bytes) };
    } catch {
      return { kind: "not-utf8" };
    }
  }
}

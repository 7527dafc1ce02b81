/**
 * The framed protocol between a privilege-separated session's filesystem
 * (`PrivsepFS`, in the server) and its process (`privsep_child.ts`, running as
 * the user), over the child's stdin and stdout.
 *
 * A frame is `u32 length | u8 kind | u32 id | u32 jsonLength | json | bytes`
 * (big-endian; `length` counts what follows it). The server sends
 * {@linkcode KIND.CALL} frames, `[operation, ...arguments]` in JSON and, for a
 * write, the bytes; the child answers each, by its `id`, with one
 * {@linkcode KIND.OK} (the result in JSON, and a read's bytes) or
 * {@linkcode KIND.FAIL} ({@linkcode WireError}). Nothing is sent unasked: reads
 * and listings are pulled a chunk at a time, so the child never runs ahead of
 * the client (backpressure), and a frame's size is bounded on both sides.
 *
 * @module
 */

import type { DirEntry, FileStat } from "./filesystem.ts";

/** Frame kinds. */
export const KIND = { CALL: 1, OK: 2, FAIL: 3 } as const;

/** The most bytes a read or a write moves in one frame. */
export const MAX_CHUNK = 1024 * 1024;
/** The most bytes a frame may have after its length: a chunk, or a batch of entries, and its JSON. */
const MAX_FRAME = MAX_CHUNK + 1024 * 1024;
const HEADER = 13;
const EMPTY = new Uint8Array(0);

/** One frame, decoded. */
export interface Frame {
  /** One of {@linkcode KIND}. */
  readonly kind: number;
  /** The call it is, or answers. */
  readonly id: number;
  /** Its JSON part, parsed. */
  readonly value: unknown;
  /** Its bytes (a chunk of a file), possibly empty. */
  readonly bytes: Uint8Array;
}

/** A frame that breaks the protocol: the other side is broken, or not what it should be. */
export class ProtocolError extends Error {
  /** Always `"ProtocolError"`. */
  override name = "ProtocolError";
}

/** A failure as it crosses the pipe: an FTP reply (`code`), or a bug (`code` absent). */
export interface WireError {
  /** The reply code of a refusal. */
  readonly code?: number;
  /** The refusal's text, or the bug's message. */
  readonly message: string;
}

/** A {@linkcode FileStat} as it crosses the pipe: its dates in milliseconds. */
export type WireStat = Omit<FileStat, "mtime" | "atime"> & {
  mtime: number | null;
  atime: number | null;
};

/** A {@linkcode DirEntry} as it crosses the pipe. */
export interface WireEntry {
  /** The base name. */
  name: string;
  /** Its stat; `null` when it could not be read. */
  stat: WireStat | null;
  /** A symlink's target. */
  linkTarget?: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The bytes of one frame. */
export function encodeFrame(
  kind: number,
  id: number,
  value: unknown,
  bytes: Uint8Array = EMPTY,
): Uint8Array<ArrayBuffer> {
  const json = encoder.encode(JSON.stringify(value ?? null));
  const length = HEADER - 4 + json.byteLength + bytes.byteLength;
  if (length > MAX_FRAME) throw new RangeError(`a frame of ${length} bytes is too large`);
  const frame = new Uint8Array(4 + length);
  const view = new DataView(frame.buffer);
  view.setUint32(0, length);
  view.setUint8(4, kind);
  view.setUint32(5, id);
  view.setUint32(9, json.byteLength);
  frame.set(json, HEADER);
  frame.set(bytes, HEADER + json.byteLength);
  return frame;
}

/** Reads whole frames from a byte stream. */
export class FrameReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  #buffer = new Uint8Array(64 * 1024);
  #start = 0;
  #end = 0;

  /** Frames of `stream`, which the reader locks. */
  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.getReader();
  }

  /** The next frame; `null` at the end of the stream; throws {@linkcode ProtocolError} on a bad one. */
  async next(): Promise<Frame | null> {
    while (true) {
      const frame = this.#take();
      if (frame) return frame;
      const { value, done } = await this.#reader.read();
      if (done) {
        if (this.#end > this.#start) throw new ProtocolError("the stream ended inside a frame");
        return null;
      }
      this.#append(value);
    }
  }

  /** Stops reading (a pending {@linkcode next} ends). */
  async cancel(): Promise<void> {
    await this.#reader.cancel().catch(() => {});
  }

  #take(): Frame | null {
    const available = this.#end - this.#start;
    if (available < 4) return null;
    const view = new DataView(this.#buffer.buffer, this.#start);
    const length = view.getUint32(0);
    if (length < HEADER - 4 || length > MAX_FRAME) {
      throw new ProtocolError(`bad frame length ${length}`);
    }
    if (available < 4 + length) {
      this.#reserve(4 + length);
      return null;
    }
    const jsonLength = view.getUint32(9);
    if (jsonLength > length - (HEADER - 4)) throw new ProtocolError("bad JSON length");
    const jsonStart = this.#start + HEADER;
    const bytesStart = jsonStart + jsonLength;
    const frameEnd = this.#start + 4 + length;
    let value: unknown;
    try {
      value = JSON.parse(decoder.decode(this.#buffer.subarray(jsonStart, bytesStart)));
    } catch {
      throw new ProtocolError("a frame's JSON does not parse");
    }
    const frame = {
      kind: view.getUint8(4),
      id: view.getUint32(5),
      value,
      bytes: this.#buffer.slice(bytesStart, frameEnd),
    };
    this.#start = frameEnd;
    if (this.#start === this.#end) this.#start = this.#end = 0;
    return frame;
  }

  /** Room for a frame of `size` bytes from the start of the unread bytes. */
  #reserve(size: number): void {
    if (this.#start + size <= this.#buffer.byteLength) return;
    if (size <= this.#buffer.byteLength) {
      this.#buffer.copyWithin(0, this.#start, this.#end);
    } else {
      const buffer = new Uint8Array(Math.max(size, this.#buffer.byteLength * 2));
      buffer.set(this.#buffer.subarray(this.#start, this.#end));
      this.#buffer = buffer;
    }
    this.#end -= this.#start;
    this.#start = 0;
  }

  #append(chunk: Uint8Array): void {
    this.#reserve(this.#end - this.#start + chunk.byteLength);
    this.#buffer.set(chunk, this.#end);
    this.#end += chunk.byteLength;
  }
}

/** A stat, ready for the pipe. */
export function toWireStat(stat: FileStat): WireStat {
  return { ...stat, mtime: stat.mtime?.getTime() ?? null, atime: stat.atime?.getTime() ?? null };
}

/** A directory entry, ready for the pipe. */
export function toWireEntry(entry: DirEntry): WireEntry {
  return { ...entry, stat: entry.stat && toWireStat(entry.stat) };
}

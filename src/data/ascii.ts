/**
 * TYPE A line-ending conversion, chunk by chunk, for streams of any size.
 *
 * @module
 */

const CR = 0x0d;
const LF = 0x0a;

/** A stateful chunk converter: each call returns the converted bytes of one chunk. */
export type ChunkConverter = (chunk: Uint8Array) => Uint8Array;

/**
 * Local to network form, for sending: every LF not already preceded by CR becomes
 * CRLF. A file stored with CRLF endings is sent unchanged.
 */
export function toNetworkAscii(): ChunkConverter {
  let previous = 0;
  return (chunk) => {
    let bare = 0;
    for (let i = 0; i < chunk.length; i++) {
      if (chunk[i] === LF && (i > 0 ? chunk[i - 1] : previous) !== CR) bare++;
    }
    const last = chunk.length > 0 ? chunk[chunk.length - 1] : previous;
    if (bare === 0) {
      previous = last;
      return chunk;
    }
    const out = new Uint8Array(chunk.length + bare);
    let o = 0;
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i];
      if (byte === LF && (i > 0 ? chunk[i - 1] : previous) !== CR) out[o++] = CR;
      out[o++] = byte;
    }
    previous = last;
    return out;
  };
}

/**
 * Network to local form, for receiving: CRLF becomes LF; a CR not followed by LF is
 * kept. A CR at the end of a chunk is held back until the next chunk shows what
 * follows it; `flush` returns it at the end of the stream.
 */
export function toLocalAscii(): ChunkConverter & { flush(): Uint8Array } {
  let heldCr = false;
  const convert = (chunk: Uint8Array) => {
    const out = new Uint8Array(chunk.length + 1);
    let o = 0;
    let i = 0;
    if (heldCr) {
      heldCr = false;
      if (chunk.length === 0 || chunk[0] !== LF) out[o++] = CR;
    }
    for (; i < chunk.length; i++) {
      const byte = chunk[i];
      if (byte === CR) {
        if (i === chunk.length - 1) {
          heldCr = true;
          continue;
        }
        if (chunk[i + 1] === LF) continue;
      }
      out[o++] = byte;
    }
    return out.subarray(0, o);
  };
  return Object.assign(convert, {
    flush(): Uint8Array {
      const tail = heldCr ? new Uint8Array([CR]) : new Uint8Array(0);
      heldCr = false;
      return tail;
    },
  });
}

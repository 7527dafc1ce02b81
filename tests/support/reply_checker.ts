/**
 * Reads a control connection's replies as a strict client would, for the abuse
 * tests: every line ends with CRLF and is UTF-8, every reply starts `NNN ` or
 * `NNN-` with a code from 100 to 599, a multi-line reply ends with a line starting
 * with its code and a space, and no line carries a CR or LF of its own (a CR inside
 * a name travels as CR NUL, RFC 2640).
 *
 * @module
 */

/** A reply that breaks the rules, with the line that breaks them. */
export class MalformedReply extends Error {
  override name = "MalformedReply";
}

const decoder = new TextDecoder("utf-8", { fatal: true });

/** One reply read: its code and its lines. */
export interface CheckedReply {
  code: number;
  lines: string[];
}

/**
 * Reads replies off `conn` to the end of the connection, calling `onReply` for
 * each; throws {@linkcode MalformedReply} at the first bad line.
 */
export async function readReplies(
  conn: Deno.Conn,
  onReply: (reply: CheckedReply) => void,
): Promise<void> {
  const chunk = new Uint8Array(64 * 1024);
  let pending = new Uint8Array(0);
  let open: CheckedReply | null = null;
  while (true) {
    let start = 0;
    for (let lf = pending.indexOf(0x0a); lf >= 0; lf = pending.indexOf(0x0a, start)) {
      const line = checkLine(pending.subarray(start, lf + 1));
      start = lf + 1;
      if (open) {
        open.lines.push(line);
        if (!line.startsWith(`${open.code} `)) continue;
      } else {
        const match = /^([1-5]\d\d)([ -])/.exec(line);
        if (!match) throw new MalformedReply(`not a reply line: ${JSON.stringify(line)}`);
        open = { code: Number(match[1]), lines: [line] };
        if (match[2] === "-") continue;
      }
      const reply: CheckedReply = open;
      open = null;
      onReply(reply);
    }
    pending = pending.slice(start);
    const n = await conn.read(chunk);
    if (n === null) break;
    const joined = new Uint8Array(pending.length + n);
    joined.set(pending);
    joined.set(chunk.subarray(0, n), pending.length);
    pending = joined;
  }
  if (pending.length > 0 || open) {
    throw new MalformedReply(`connection closed inside a reply: ${JSON.stringify(open?.lines)}`);
  }
}

/** The text of one line (its CRLF removed), or a {@linkcode MalformedReply}. */
function checkLine(bytes: Uint8Array): string {
  let line: string;
  try {
    line = decoder.decode(bytes);
  } catch {
    throw new MalformedReply(`a reply line is not UTF-8: ${bytes}`);
  }
  if (!line.endsWith("\r\n")) throw new MalformedReply(`a bare LF ends ${JSON.stringify(line)}`);
  const body = line.slice(0, -2);
  if (/\r(?!\0)|\n/.test(body)) {
    throw new MalformedReply(`a CR or LF inside ${JSON.stringify(line)}`);
  }
  return body;
}

/**
 * Run as a process of its own by `tests/flood_test.ts`, with the descriptor limit
 * raised: opens `count` connections to 127.0.0.1:`port` at once, reads each one's
 * first reply line (giving up on one after `patience` seconds), then closes them
 * all. Prints, as JSON, how many got each reply code (`"none"` for a connection
 * that heard nothing in time, `"refused"` for one that could not connect) and the
 * longest wait in milliseconds.
 *
 * @module
 */

const [port, count, patience] = Deno.args.map(Number);
const decoder = new TextDecoder();

/** Connects and reads the first line: its reply code, how long it took, and the connection. */
async function greeting(): Promise<{ code: string; ms: number; conn: Deno.Conn | null }> {
  const start = performance.now();
  let conn: Deno.Conn;
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
  } catch {
    return { code: "refused", ms: performance.now() - start, conn: null };
  }
  // A connection that hears nothing in time is closed, which ends its read.
  const timer = setTimeout(() => conn.close(), patience * 1000);
  let text = "";
  try {
    const buffer = new Uint8Array(512);
    while (!text.includes("\n")) {
      const n = await conn.read(buffer);
      if (n === null) break;
      text += decoder.decode(buffer.subarray(0, n));
    }
  } catch {
    // Closed by the timer.
  } finally {
    clearTimeout(timer);
  }
  const code = /^\d{3} /.test(text) ? text.slice(0, 3) : "none";
  return { code, ms: performance.now() - start, conn };
}

const results = await Promise.all(Array.from({ length: count }, greeting));
const codes: Record<string, number> = {};
for (const { code, conn } of results) {
  codes[code] = (codes[code] ?? 0) + 1;
  try {
    conn?.close();
  } catch {
    // Closed by the timer.
  }
}
const longestMs = Math.round(Math.max(...results.map(({ ms }) => ms)));
console.log(JSON.stringify({ codes, longestMs }));

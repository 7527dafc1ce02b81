/**
 * A connection flood: thousands of clients at once against `maxCons` 100. Each
 * must hear its 220 or its 421 while the flood lasts, none left waiting on a
 * full listen queue for the kernel's SYN retries. The clients run in a process
 * of their own whose descriptor limit is raised to the hard limit.
 *
 * @module
 */

import { assertEquals } from "./support/assert.ts";
import { withServer } from "./support/server.ts";

/** The most clients: the 3,000. */
const CLIENTS = 3000;
/**
 * Seconds a client waits for its first line. A connection the kernel dropped from
 * a full queue hears nothing before the client's SYN is retried (1 s, then 3 s,
 * 7 s, 15 s after the first): 20 s or more for hundreds of them before the backlog
 * was raised.
 */
const PATIENCE = 10;

/**
 * How many times the kernel has dropped a connection because a listen queue was
 * full (`ListenOverflows` of `/proc/net/netstat`; counted for every listener of the
 * machine's network namespace).
 */
async function listenOverflows(): Promise<number> {
  const lines = (await Deno.readTextFile("/proc/net/netstat")).split("\n");
  const names = lines.find((line) => line.startsWith("TcpExt:"))!.split(" ");
  const values = lines.findLast((line) => line.startsWith("TcpExt:"))!.split(" ");
  return Number(values[names.indexOf("ListenOverflows")]);
}

/** The hard limit on descriptors of a child process (what `ulimit -n` may be raised to). */
async function hardDescriptorLimit(): Promise<number> {
  const { stdout } = await new Deno.Command("sh", { args: ["-c", "ulimit -Hn"] }).output();
  const text = new TextDecoder().decode(stdout).trim();
  return text === "unlimited" ? Infinity : Number(text);
}

Deno.test("under a flood of connections every client hears 220 or 421 promptly", async () => {
  const clients = Math.min(CLIENTS, (await hardDescriptorLimit()) - 100);
  await withServer({ maxCons: 100 }, async ({ port, logs }) => {
    const script = new URL("./support/flood.ts", import.meta.url).pathname;
    const overflowsBefore = await listenOverflows();
    const run = `ulimit -n "$(ulimit -Hn)" && exec "$0" run --allow-net "$@"`;
    const { code, stdout, stderr } = await new Deno.Command("sh", {
      args: ["-c", run, Deno.execPath(), script, String(port), String(clients), String(PATIENCE)],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder();
    assertEquals(code, 0, text.decode(stderr));
    const { codes, longestMs } = JSON.parse(text.decode(stdout));
    const waited = `the longest wait was ${longestMs} ms`;
    assertEquals(codes, { "220": 100, "421": clients - 100 }, waited);
    // None was dropped from a full queue, to wait for the client's retry.
    assertEquals((await listenOverflows()) - overflowsBefore, 0, waited);
    const refusals = logs.filter((line) => line.includes("refused: Too many connections."));
    assertEquals(refusals.length, clients - 100);
  });
});

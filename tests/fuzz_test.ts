/**
 * The fuzzer: every command of the command table, with hostile arguments, before
 * and after login, in plain and TLS sessions, pipelined, against a server in a
 * process of its own. Fails on a crash or an unhandled rejection in the server, a
 * malformed reply, a stack trace or error in its log, a session that stops
 * answering, or a descriptor the server kept.
 *
 * `TSFTPD_FUZZ_SEED=N` replays a run; the seed is in every failure's message.
 */

import { FtpClient } from "../bench/ftp_client.ts";
import { protoCmds } from "../mod.ts";
import { type AbuseServer, PASSWORD, USER, withAbuseServer } from "./support/abuse.ts";
import { assert, assertEquals } from "./support/assert.ts";
import { testCerts } from "./support/certs.ts";
import { countLines, hostileLines, Prng } from "./support/hostile.ts";
import { type CheckedReply, readReplies } from "./support/reply_checker.ts";

const SEED = Number(Deno.env.get("TSFTPD_FUZZ_SEED") ?? 20261214);
/** Commands whose real use ends the session or starts a handshake: they get inert arguments. */
const INERT = new Set(["QUIT", "AUTH"]);
const VERBS = [...protoCmds.keys()];
const encoder = new TextEncoder();

/** One fuzzed session: how it starts and how many hostile lines it gets. */
interface Plan {
  tls: boolean;
  login: boolean;
  lines: number;
}

/** What a session's replies were. */
interface Outcome {
  lines: number;
  codes: number[];
}

/**
 * Opens the data connection a 227 or 229 reply announces, as a client would, ends
 * its side at once and reads what the server sends: transfers after PASV run
 * instead of waiting for the connection.
 */
function dataConnection(reply: CheckedReply, opened: Set<Deno.Conn>): Promise<void> | null {
  const text = reply.lines[0];
  const pasv = reply.code === 227 && /\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)/.exec(text);
  const epsv = reply.code === 229 && /\(\|\|\|(\d+)\|\)/.exec(text);
  const port = pasv ? Number(pasv[5]) * 256 + Number(pasv[6]) : epsv ? Number(epsv[1]) : 0;
  if (!port) return null;
  return (async () => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port }).catch(() => null);
    if (!conn) return;
    opened.add(conn);
    try {
      await conn.closeWrite();
      const buffer = new Uint8Array(64 * 1024);
      while (await conn.read(buffer) !== null);
    } catch {
      // Reset by the server: a refused or aborted transfer.
    } finally {
      // The session's end may have closed it already.
      if (opened.delete(conn)) conn.close();
    }
  })();
}

/** Connects, sets the session up as `plan` says, sends its hostile lines pipelined, then NOOP and QUIT. */
async function fuzzSession(port: number, plan: Plan, rng: Prng, ca: string): Promise<Outcome> {
  const client = await FtpClient.connect(port, { caCerts: [ca] });
  try {
    assertEquals(client.greeting.code, 220);
    if (plan.tls) await client.startTls();
    if (plan.login) await client.login(USER, PASSWORD);
    if (plan.tls && rng.chance(0.5)) await client.protectData();
    const relogin = encoder.encode(`USER ${USER}\r\nPASS ${PASSWORD}\r\n`);
    const batch = hostileLines(rng, VERBS, plan.lines, INERT)
      .flatMap((line) => plan.login && rng.chance(0.04) ? [line, relogin] : [line]);
    batch.push(encoder.encode("NOOP\r\nQUIT\r\n"));
    const codes: number[] = [];
    const opened = new Set<Deno.Conn>();
    const transfers: Promise<void>[] = [];
    const last: string[] = [];
    const reading = readReplies(client.conn, (reply) => {
      codes.push(reply.code);
      last.push(reply.lines[0]);
      if (last.length > 5) last.shift();
      const data = dataConnection(reply, opened);
      if (data) transfers.push(data);
    }).catch((error) => {
      throw new Error(`after ${codes.length} replies (the last: ${last.join(" | ")}): ${error}`);
    });
    let lines = 0;
    for (const line of batch) {
      lines += countLines(line);
      await client.sendRaw(line);
    }
    await reading;
    // Taken out of the set as they are closed, or their own end would close them again.
    for (const conn of opened) {
      opened.delete(conn);
      conn.close();
    }
    await Promise.all(transfers);
    assertEquals(codes.slice(-2), [200, 221], "the session answers NOOP and QUIT at its end");
    return { lines, codes };
  } finally {
    client.close();
  }
}

/** AUTH TLS, then bytes that are no TLS handshake: the server drops the session, and only it. */
async function garbageAfterAuth(port: number, rng: Prng): Promise<number> {
  const client = await FtpClient.connect(port);
  try {
    await client.expect("AUTH TLS", 234);
    const lines = hostileLines(rng, VERBS, 1 + rng.int(20), INERT);
    try {
      for (const line of lines) await client.sendRaw(line);
      await client.conn.closeWrite();
    } catch (error) {
      // The server may drop the session before the last line is written.
      if (
        !(error instanceof Deno.errors.BrokenPipe || error instanceof Deno.errors.ConnectionReset)
      ) {
        throw error;
      }
    }
    assert(await client.closedByServer(), "the session ends");
    return lines.reduce((n, line) => n + countLines(line), 0);
  } finally {
    client.close();
  }
}

/** Runs `plans` `width` at a time, each session with a generator of its own (seeded from `rng`). */
async function runPlans(
  server: AbuseServer,
  plans: Plan[],
  rng: Prng,
  ca: string,
  width: number,
): Promise<{ lines: number; codes: Map<number, number> }> {
  const seeds = plans.map(() => rng.int(2 ** 32));
  const codes = new Map<number, number>();
  let lines = 0;
  let next = 0;
  const worker = async () => {
    while (next < plans.length) {
      const i = next++;
      const outcome = await fuzzSession(server.port, plans[i], new Prng(seeds[i]), ca)
        .catch((error) => {
          throw new Error(`session ${i} (${JSON.stringify(plans[i])}), seed ${SEED}: ${error}`, {
            cause: error,
          });
        });
      lines += outcome.lines;
      for (const code of outcome.codes) codes.set(code, (codes.get(code) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: width }, worker));
  return { lines, codes };
}

Deno.test("fuzz: 100,000 hostile lines over every command leave the server serving, with no leak", async () => {
  const certs = await testCerts();
  const files = { small: new Uint8Array(1000).fill(97) };
  const spec = {
    files,
    tls: { certfile: certs.cert, keyfile: certs.key },
    dataConnectTimeout: 2,
  };
  await withAbuseServer(spec, async (server) => {
    await Deno.mkdir(`${server.home}/dir/inner`, { recursive: true });
    const rng = new Prng(SEED);
    // A few sessions of each kind first, so that what the server opens once (the
    // reactor of native sockets, TLS) is open before the descriptors are counted.
    const kinds = [
      { tls: false, login: true },
      { tls: false, login: false },
      { tls: true, login: true },
    ];
    const ca = await Deno.readTextFile(certs.ca);
    await runPlans(
      server,
      [...kinds, ...kinds].map((kind) => ({ ...kind, lines: 2500 })),
      rng,
      ca,
      3,
    );
    const before = await server.idle();

    const plans: Plan[] = [
      ...Array.from({ length: 32 }, () => ({ tls: false, login: true, lines: 2500 })),
      ...Array.from({ length: 8 }, () => ({ tls: false, login: false, lines: 1500 })),
      ...Array.from({ length: 8 }, () => ({ tls: true, login: true, lines: 1500 })),
    ];
    const { lines, codes } = await runPlans(server, plans, rng, ca, 4);
    let garbage = 0;
    for (let i = 0; i < 20; i++) garbage += await garbageAfterAuth(server.port, rng);

    const after = await server.idle();
    const summary = { seed: SEED, lines, garbage, codes: Object.fromEntries(codes), before, after };
    console.log(JSON.stringify(summary));
    assert(lines >= 100_000, `${lines} lines`);
    assertEquals(after.fds, before.fds, `descriptors, seed ${SEED}: ${JSON.stringify(summary)}`);
    const client = await FtpClient.connect(server.port);
    try {
      await client.login(USER, PASSWORD);
      await client.expect("NOOP", 200);
    } finally {
      client.close();
    }
  });
});

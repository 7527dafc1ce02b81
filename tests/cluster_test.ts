/**
 * The whole of "beyond one machine", with the real components on loopback:
 * PostgreSQL (accounts and sessions), two tsftpd nodes (CLI processes on
 * 127.0.0.2 and 127.0.0.3, each with its own passive range and masquerade
 * address), HAProxy in front (`send-proxy-v2` on the control port, each passive
 * range forwarded to its node, health checks on, connecting to the nodes from
 * 127.0.0.4 so that the nodes must take the client's address from the header).
 * Skipped, saying why, without root, PostgreSQL or HAProxy.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { assert, assertBytesEqual, assertEquals } from "./support/assert.ts";
import { runCli, RunningCli } from "./support/cli.ts";
import { FtpClient } from "./support/ftp_client.ts";
import { postgresMissing, TestPostgres } from "./support/postgres.ts";

const MAIN = fileURLToPath(new URL("../main.ts", import.meta.url));
const PROXY_SOURCE = "127.0.0.4";

function haproxyMissing(): string | null {
  try {
    new Deno.Command("haproxy", { args: ["-v"], stdout: "null", stderr: "null" }).outputSync();
    return null;
  } catch {
    return "HAProxy is not installed (Debian package haproxy)";
  }
}

const missing = postgresMissing() ?? haproxyMissing();
if (missing) console.warn(`cluster_test skipped: ${missing}`);

/**
 * A passive range of 30 ports for each node (20 sessions of a node may ask at
 * once), below the ephemeral ports, apart for each run.
 */
const BASE = 20000 + (Deno.pid % 180) * 64;
const RANGES = { a: [BASE, BASE + 29], b: [BASE + 30, BASE + 59] } as const;

/** A free port on 127.0.0.1 (free when asked). */
function freePort(): number {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  return listener.addr.port;
}

/** Starts a node: the CLI on `address`, accounts from `url`, behind the proxy. */
async function startNode(name: "a" | "b", address: string, url: string): Promise<RunningCli> {
  const [from, to] = RANGES[name];
  const node = new RunningCli(
    new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        MAIN,
        ...["-i", address, "-p", "0", "--db", url],
        ...["--proxy-protocol", "--trusted-proxy", PROXY_SOURCE],
        ...["-r", `${from}-${to}`, "-n", "127.0.0.1", "--banner", `node ${name}`],
        ...["--auth-failed-timeout", "0"],
        // The clients are on the loopback, which the defender allows unless told otherwise.
        ...["--defender-allow", "192.0.2.1", "--defender-threshold", "6"],
        ...["--defender-ban-time", "3"],
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn(),
  );
  const started = new RegExp(
    `>>> starting FTP server on ${address.replaceAll(".", "\\.")}:(\\d+),`,
  );
  await node.waitForLog(started);
  await node.waitForLog("passive ports:");
  node.port = Number(started.exec(node.log)![1]);
  return node;
}

/** The HAProxy configuration of the test ("Beyond one machine" in the README: the same, with real addresses). */
function haproxyConfig(port: number, a: RunningCli, b: RunningCli): string {
  const passive = (name: "a" | "b", address: string) => {
    const [from, to] = RANGES[name];
    return `
frontend passive_${name}
    bind 127.0.0.1:${from}-${to}
    default_backend passive_${name}

backend passive_${name}
    # No port: the connection goes to the port the client asked for.
    server ${name} ${address} source ${PROXY_SOURCE}
`;
  };
  return `global
    maxconn 2000

defaults
    mode tcp
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    retries 2
    option redispatch

frontend ftp
    bind 127.0.0.1:${port}
    default_backend ftp_nodes

backend ftp_nodes
    balance roundrobin
    option tcp-check
    tcp-check expect rstring ^220
    tcp-check send QUIT\\r\\n
    default-server source ${PROXY_SOURCE} send-proxy-v2 check check-send-proxy inter 300ms fall 1 rise 1
    server a 127.0.0.2:${a.port}
    server b 127.0.0.3:${b.port}
${passive("a", "127.0.0.2")}${passive("b", "127.0.0.3")}`;
}

/** HAProxy in the foreground, its output collected. */
class Haproxy implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  readonly #done: Promise<Deno.CommandOutput>;

  constructor(configFile: string) {
    this.child = new Deno.Command("haproxy", {
      args: ["-db", "-f", configFile],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#done = this.child.output();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.child.kill("SIGTERM");
    } catch {
      // Already ended.
    }
    await this.#done;
  }
}

const encoder = new TextEncoder();

/** Connects through the proxy; resolves to the client and the node that greeted it. */
async function connect(port: number): Promise<{ client: FtpClient; node: string }> {
  const client = await FtpClient.connect(port);
  assertEquals(client.greeting.code, 220, client.greeting.text);
  return { client, node: client.greeting.text };
}

/** Logs in through the proxy; resolves to the reply to PASS, the client (closed unless 230) and the node. */
async function login(port: number, user: string, password: string) {
  const { client, node } = await connect(port);
  assertEquals((await client.command(`USER ${user}`)).code, 331);
  const reply = await client.command(`PASS ${password}`);
  if (reply.code !== 230) client.close();
  // Binary: random bytes in TYPE A would gain a CR before each LF.
  else assertEquals((await client.command("TYPE I")).code, 200);
  return { client, node, reply };
}

/** Resolves once `check` holds, polling; throws `what` after 15 s. */
async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

Deno.test({
  name:
    "cluster: two nodes behind HAProxy, accounts in PostgreSQL, a node killed, the database stopped",
  ignore: missing !== null,
  async fn(t) {
    await using db = await TestPostgres.start();
    const url = db.url;
    const shared = await Deno.realPath(await Deno.makeTempDir({ prefix: "tsftpd-cluster-" }));
    await using _shared = { [Symbol.asyncDispose]: () => Deno.remove(shared, { recursive: true }) };
    assertEquals((await runCli(["db", "init", "--db", url])).code, 0);
    const added = await runCli(
      ["user", "add", "alice", "--home", shared, "--perm", "elradfmw", "--db", url],
      { stdin: "alice-pw\n" },
    );
    assertEquals(added.code, 0, added.stderr);

    const a = await startNode("a", "127.0.0.2", url);
    await using _a = { [Symbol.asyncDispose]: () => a.stop("SIGKILL").then(() => {}) };
    const b = await startNode("b", "127.0.0.3", url);
    await using _b = { [Symbol.asyncDispose]: () => b.stop("SIGTERM").then(() => {}) };
    const port = freePort();
    const configFile = await Deno.makeTempFile({ suffix: ".cfg" });
    await using _config = { [Symbol.asyncDispose]: () => Deno.remove(configFile) };
    await Deno.writeTextFile(configFile, haproxyConfig(port, a, b));
    await using _haproxy = new Haproxy(configFile);
    // Both nodes up: round robin alternates, so a few greetings show both.
    await until("both nodes greet through the proxy", async () => {
      const seen = new Set<string>();
      for (let i = 0; i < 4; i++) {
        const greeted = await connect(port).catch(() => null);
        if (!greeted) return false;
        seen.add(greeted.node);
        greeted.client.close();
      }
      return seen.size === 2;
    });

    await t.step(
      "40 sessions spread over both nodes, uploads and downloads byte-exact",
      async () => {
        const files = Array.from({ length: 40 }, (_, i) => {
          const bytes = new Uint8Array(48 * 1024 + i);
          crypto.getRandomValues(bytes);
          return bytes;
        });
        const sessions = await Promise.all(files.map(() => login(port, "alice", "alice-pw")));
        for (const session of sessions) assertEquals(session.reply.code, 230, session.reply.text);
        const perNode = new Map<string, number>();
        for (const { node } of sessions) perNode.set(node, (perNode.get(node) ?? 0) + 1);
        assertEquals([...perNode.keys()].sort(), ["node a", "node b"]);
        await Promise.all(sessions.map(({ client }, i) => client.store(`f${i}.bin`, files[i])));
        // Each session reads what another wrote, as often through the other node.
        await Promise.all(sessions.map(async ({ client }, i) => {
          const other = (i + 1) % files.length;
          assertBytesEqual(await client.retr(`f${other}.bin`), files[other], `f${other}.bin`);
        }));
        for (const { client } of sessions) {
          assertEquals((await client.command("QUIT")).code, 221);
          client.close();
        }
        for (const [i, bytes] of files.entries()) {
          assertBytesEqual(await Deno.readFile(`${shared}/f${i}.bin`), bytes, `f${i}.bin on disk`);
        }
        // The nodes saw the client's address from the header; the proxy's own address only
        // in its health checks (a LOCAL header), which never log in.
        for (const node of [a, b]) {
          assert(/127\.0\.0\.1:\d+-\[alice\] USER 'alice' logged in/.test(node.log), node.log);
          assert(!/127\.0\.0\.4:\d+-\[alice\]/.test(node.log), "a session named by the proxy");
          assert(/127\.0\.0\.4:\d+-\[\] FTP session opened/.test(node.log), "no health check");
          assert(!/refused passive data connection/.test(node.log), node.log);
        }
      },
    );

    await t.step(
      "an account added while the nodes run logs in at once through either node",
      async () => {
        const bob = await runCli(["user", "add", "bob", "--home", shared, "--db", url], {
          stdin: "bob-pw\n",
        });
        assertEquals(bob.code, 0, bob.stderr);
        const both = await Promise.all([0, 1, 2, 3].map(() => login(port, "bob", "bob-pw")));
        for (const { reply } of both) assertEquals(reply.code, 230);
        assertEquals(new Set(both.map(({ node }) => node)).size, 2);
        for (const { client } of both) client.close();
        assertEquals((await runCli(["user", "remove", "bob", "--db", url])).code, 0);
        const gone = await Promise.all([0, 1].map(() => login(port, "bob", "bob-pw")));
        for (const { reply } of gone) assertEquals(reply.code, 530);
      },
    );

    await t.step(
      "an address banned through one node is refused by both, until the ban ends",
      async () => {
        const { client } = await connect(port);
        for (let attempt = 0; attempt < 3; attempt++) {
          await client.command("USER alice");
          const reply = await client.command("PASS wrong");
          if (reply.code !== 530) break;
        }
        client.close();
        const banned = (cli: RunningCli) => /127\.0\.0\.1:\d+ refused: Banned/.test(cli.log);
        await until("the ban is in the database", async () => {
          const probe = await FtpClient.connect(port);
          probe.close();
          return probe.greeting.code === 421;
        });
        await until("both nodes refused a banned client", async () => {
          const probe = await FtpClient.connect(port);
          probe.close();
          return banned(a) && banned(b);
        });
        await until("the ban ends", async () => {
          const probe = await FtpClient.connect(port);
          probe.close();
          return probe.greeting.code === 220;
        });
      },
    );

    await t.step(
      "a node killed: its sessions fail cleanly, new sessions go to the other",
      async () => {
        const sessions = await Promise.all(
          [0, 1, 2, 3].map(() => login(port, "alice", "alice-pw")),
        );
        const onA = sessions.filter(({ node }) => node === "node a");
        const onB = sessions.filter(({ node }) => node === "node b");
        assert(onA.length > 0 && onB.length > 0);
        await a.stop("SIGKILL");
        for (const { client } of onA) {
          // The proxy closes the client's side once the node's side is gone: no hang.
          const ended = await client.command("NOOP").then(() => false, () => true);
          assert(ended || await client.closedByServer(), "a session of the killed node ended");
          client.close();
        }
        for (const { client } of onB) {
          assertEquals((await client.command("NOOP")).code, 200);
          assertBytesEqual(await client.retr("f0.bin"), await Deno.readFile(`${shared}/f0.bin`));
        }
        const next = await Promise.all(
          [0, 1, 2, 3, 4, 5].map(() => login(port, "alice", "alice-pw")),
        );
        for (const { reply, node } of next) {
          assertEquals(reply.code, 230);
          assertEquals(node, "node b");
        }
        for (const { client } of [...next, ...onB]) client.close();
      },
    );

    await t.step(
      "the database stopped: logins 421, running sessions go on; started: logins work",
      async () => {
        const running = await login(port, "alice", "alice-pw");
        assertEquals(running.reply.code, 230);
        await db.stop();
        try {
          const refused = await login(port, "alice", "alice-pw");
          assertEquals(refused.reply.code, 421);
          await b.waitForLog(
            /USER 'alice' not logged in: accounts database postgres:\/\/\S+ unavailable/,
          );
          await running.client.store(
            "while-down.bin",
            encoder.encode("written while the database was down"),
          );
          assertEquals(
            new TextDecoder().decode(await running.client.retr("while-down.bin")),
            "written while the database was down",
          );
        } finally {
          await db.startAgain();
        }
        await until("logins work again", async () => {
          const back = await login(port, "alice", "alice-pw");
          back.client.close();
          return back.reply.code === 230;
        });
        running.client.close();
        assert(!/ {4}at /.test(b.log), `a stack trace was logged:\n${b.log}`);
      },
    );
  },
});

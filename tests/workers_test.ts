/**
 * `tsftpd --workers 2` for real on loopback: sessions spread over both workers,
 * each hands out passive ports of its own slice, `--max-cons` holds across them,
 * a killed worker is started again, and SIGTERM ends every process with status 0.
 */

import * as tls from "node:tls";
import { fileURLToPath } from "node:url";
import { assert, assertEquals, assertMatch } from "./support/assert.ts";
import { runCli, RunningCli, withCli } from "./support/cli.ts";
import { FtpClient } from "./support/ftp_client.ts";

const MAIN = fileURLToPath(new URL("../main.ts", import.meta.url));
const RANGE = { from: 47310, to: 47329 };

/** The workers a log names: number -> pid, from their start-up lines. */
function workerPids(log: string): Map<number, number> {
  const pids = new Map<number, number>();
  for (
    const [, index, pid] of log.matchAll(
      /\[worker (\d+)\] worker \d+ of \d+ serving .*, pid=(\d+)$/gm,
    )
  ) {
    pids.set(Number(index), Number(pid));
  }
  return pids;
}

/** The worker whose log line says it opened the session of the client at local port `port`. */
function workerOf(log: string, port: number): number | null {
  const match = new RegExp(`\\[worker (\\d+)\\] 127\\.0\\.0\\.1:${port}-\\[\\] FTP session opened`)
    .exec(log);
  return match ? Number(match[1]) : null;
}

/**
 * Logs sessions in (as `user`, with `password`) until both workers have served
 * one, each listing `listing` (NLST); the workers reached, after 40 sessions at most.
 */
async function listOnBothWorkers(
  running: RunningCli,
  listing: string,
  user?: string,
  password?: string,
): Promise<Set<number>> {
  const reached = new Set<number>();
  for (let i = 0; i < 40 && reached.size < 2; i++) {
    const client = await FtpClient.login(running.port, user, password);
    const localPort = (client.conn.localAddr as Deno.NetAddr).port;
    assertEquals((await client.list("NLST")).trim(), listing);
    await client.expect("QUIT", 221);
    client.close();
    await running.waitForLog(`127.0.0.1:${localPort}-[] FTP session closed`);
    reached.add(workerOf(running.log, localPort)!);
  }
  return reached;
}

/** Whether process `pid` still runs (a zombie has ended). */
function exists(pid: number): boolean {
  try {
    // "PID (name) STATE ...": the state follows the last parenthesis.
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

async function waitUntil(condition: () => boolean, what: string, log: () => string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${log()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function withDir<T>(body: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "tsftpd-workers-test-" });
  try {
    await Deno.writeTextFile(`${dir}/hello.txt`, "hello\n");
    return await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("--workers 2: sessions land on both workers, each with passive ports of its own slice", async () => {
  await withDir(async (dir) => {
    const args = ["--workers", "2", "-r", `${RANGE.from}-${RANGE.to}`];
    const log = await withCli(args, dir, async (running) => {
      assertMatch(running.log, /concurrency model: multi-process, 2 workers sharing the port$/m);
      assertMatch(running.log, new RegExp(`passive ports: ${RANGE.from}->${RANGE.to}$`, "m"));
      const slices = new Map<number, [number, number]>();
      for (
        const [, index, from, to] of running.log.matchAll(
          /passive ports of worker (\d+): (\d+)->(\d+)$/gm,
        )
      ) slices.set(Number(index), [Number(from), Number(to)]);
      assertEquals(slices.size, 2, running.log);
      const [first, second] = [slices.get(1)!, slices.get(2)!];
      assert(first[1] < second[0], `slices overlap: ${first} and ${second}`);
      assertEquals([first[0], second[1]], [RANGE.from, RANGE.to], "the slices cover the range");

      const served = new Map<number, number[]>([[1, []], [2, []]]);
      for (let i = 0; i < 40 && served.get(1)!.length * served.get(2)!.length === 0; i++) {
        const client = await FtpClient.login(running.port, "anonymous", "guest@");
        try {
          const localPort = (client.conn.localAddr as Deno.NetAddr).port;
          const { port } = await client.pasvAddress();
          await client.expect("QUIT", 221);
          await running.waitForLog(`127.0.0.1:${localPort}-[] FTP session opened`);
          served.get(workerOf(running.log, localPort)!)!.push(port);
        } finally {
          client.close();
        }
      }
      for (const [worker, ports] of served) {
        assert(ports.length > 0, `no session landed on worker ${worker}:\n${running.log}`);
        const [from, to] = slices.get(worker)!;
        for (const port of ports) {
          assert(
            from <= port && port <= to,
            `worker ${worker} offered ${port}, not in ${from}-${to}`,
          );
        }
      }
    });
    assert(!log.includes("[E "), log);
  });
});

Deno.test("--workers 2 --max-cons 3: five clients at once, two get 421, across the workers", async () => {
  await withDir(async (dir) => {
    await withCli(["--workers", "2", "--max-cons", "3"], dir, async (running) => {
      const clients: FtpClient[] = [];
      try {
        for (let i = 0; i < 5; i++) clients.push(await FtpClient.connect(running.port));
        const codes = clients.map((client) => client.greeting.code);
        assertEquals(codes.filter((code) => code === 220).length, 3, String(codes));
        assertEquals(codes.filter((code) => code === 421).length, 2, String(codes));
        for (const client of clients.filter((c) => c.greeting.code === 421)) {
          assertEquals(
            client.greeting.text,
            "Too many connections. Service temporarily unavailable.",
          );
          assert(await client.closedByServer(), "a refused client is disconnected");
        }
        // The admitted ones leave: their places are free again, whichever worker held them.
        for (const client of clients.filter((c) => c.greeting.code === 220)) {
          await client.expect("QUIT", 221);
          assert(await client.closedByServer());
        }
        await running.waitForLog(/(FTP session closed \(disconnect\)\.[^]*){3}/);
        for (const client of clients) client.close();
        clients.length = 0;
        for (let i = 0; i < 3; i++) clients.push(await FtpClient.connect(running.port));
        assertEquals(clients.map((client) => client.greeting.code), [220, 220, 220], running.log);
      } finally {
        for (const client of clients) client.close();
      }
    });
  });
});

Deno.test("--workers 2: an address banned by one worker is refused by both (the supervisor's ban store)", async () => {
  // The loopback is allowed unless told otherwise; two failed logins (2 points each) ban.
  const flags = ["--defender-allow", "192.0.2.1", "--defender-threshold", "4"];
  await withDir(async (dir) => {
    await withCli(
      ["--workers", "2", "-u", "user", "-P", "12345", "--auth-failed-timeout", "0", ...flags],
      dir,
      async (running) => {
        {
          using client = await FtpClient.connect(running.port);
          await client.expect("USER user", 331);
          await client.expect("PASS wrong", 530);
          await client.expect("USER user", 331);
          // The second failure reaches the threshold: the session itself is told and closed.
          await client.expect("PASS wrong", 421);
        }
        await running.waitForLog(/banned 127\.0\.0\.1/);
        // Each connection lands on one worker or the other: every one of them is refused.
        const refusedBy = new Set<string>();
        for (let probe = 0; probe < 40 && refusedBy.size < 2; probe++) {
          using client = await FtpClient.connect(running.port);
          assertEquals(client.greeting.code, 421, client.greeting.text);
          const port = (client.conn.localAddr as Deno.NetAddr).port;
          await running.waitForLog(`127.0.0.1:${port} refused: Banned`);
          const line = new RegExp(`\\[worker (\\d)\\] 127\\.0\\.0\\.1:${port} refused: Banned`)
            .exec(running.log);
          if (line) refusedBy.add(line[1]);
        }
        assertEquals([...refusedBy].sort(), ["1", "2"], running.log);
      },
    );
  });
});

Deno.test("--workers 2: a worker killed with SIGKILL is started again and serves", async () => {
  await withDir(async (dir) => {
    const log = await withCli(["--workers", "2"], dir, async (running) => {
      const killed = workerPids(running.log).get(1)!;
      Deno.kill(killed, "SIGKILL");
      const from = running.log.length;
      await running.waitForLog(
        `[worker 1] worker 1 of 2 serving 127.0.0.1:${running.port}`,
        from,
      );
      await running.waitForLog(/worker 1 \(pid \d+\) serving again/, from);
      assertMatch(
        running.log,
        new RegExp(
          `worker 1 \\(pid ${killed}\\) was killed by SIGKILL; starting it again in \\d+ ms`,
        ),
      );
      const restarted = workerPids(running.log.slice(from)).get(1)!;
      assert(restarted !== killed && exists(restarted), running.log);
      // Both workers serve: new sessions reach the new worker too.
      let onRestarted = 0;
      for (let i = 0; i < 40 && onRestarted === 0; i++) {
        const client = await FtpClient.login(running.port, "anonymous", "guest@");
        const localPort = (client.conn.localAddr as Deno.NetAddr).port;
        await client.expect("TYPE I", 200);
        assertEquals(new TextDecoder().decode(await client.retr("hello.txt")), "hello\n");
        await client.expect("QUIT", 221);
        client.close();
        await running.waitForLog(`127.0.0.1:${localPort}-[] FTP session opened`);
        if (workerOf(running.log.slice(from), localPort) === 1) onRestarted++;
      }
      assertEquals(onRestarted, 1, `no session reached the restarted worker:\n${running.log}`);
    });
    assertMatch(log, /stopping 2 workers/);
  });
});

Deno.test("--workers 2: SIGTERM closes the sessions and ends every process with status 0", async () => {
  await withDir(async (dir) => {
    let pids = new Map<number, number>();
    let client: FtpClient | undefined;
    try {
      const log = await withCli(["--workers", "2"], dir, async (running) => {
        pids = workerPids(running.log);
        assertEquals(pids.size, 2, running.log);
        client = await FtpClient.login(running.port, "anonymous", "guest@");
      });
      assert(await client!.closedByServer(), "the session was closed");
      assertMatch(log, /FTP session closed \(disconnect\)\./);
      for (const pid of pids.values()) assert(!exists(pid), `worker ${pid} outlived the server`);
    } finally {
      client?.close();
    }
  });
});

Deno.test("--workers 2: workers end when their supervisor is killed", async () => {
  await withDir(async (dir) => {
    const running = new RunningCli(
      new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-all", MAIN, "-i", "127.0.0.1", "-p", "0", "--workers", "2"],
        cwd: dir,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn(),
    );
    let pids: number[] = [];
    try {
      await running.waitForLog(/>>> starting FTP server/);
      pids = [...workerPids(running.log).values()];
      assertEquals(pids.length, 2, running.log);
      running.child.kill("SIGKILL");
      await running.child.status;
      await waitUntil(() => !pids.some(exists), "the orphaned workers to end", () => running.log);
    } finally {
      // The workers share the log's pipe: it ends with the last of them.
      for (const pid of pids.filter(exists)) Deno.kill(pid, "SIGKILL");
      await running.stop("SIGKILL");
    }
  });
});

/** The SHA-256 fingerprint of the certificate an implicit FTPS listener on `port` presents. */
function presentedFingerprint(port: number): Promise<{ fingerprint: string; localPort: number }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: "127.0.0.1", port, rejectUnauthorized: false }, () => {
      const fingerprint = socket.getPeerCertificate().fingerprint256;
      const localPort = socket.localPort!;
      socket.once("data", () => {
        socket.end();
        resolve({ fingerprint, localPort });
      });
    });
    socket.once("error", reject);
  });
}

Deno.test("--workers 2 with --implicit-port and --self-signed: both listeners on every worker, one certificate", async () => {
  await withDir(async (dir) => {
    const args = ["--workers", "2", "--tls", "--self-signed", "--implicit-port", "0"];
    await withCli(args, dir, async (running) => {
      const fingerprints = [...running.log.matchAll(/its SHA-256 fingerprint is ([0-9A-F:]+)$/gm)]
        .map((match) => match[1]);
      assertEquals(fingerprints.length, 3, `the supervisor's and each worker's:\n${running.log}`);
      assertEquals(new Set(fingerprints).size, 1, "one certificate for all");
      const starts = [...running.log.matchAll(/>>> starting FTP server on 127\.0\.0\.1:(\d+)/g)];
      const implicitPort = Number(starts[1][1]);
      const workersOf = (port: number) =>
        new Set(
          [...running.log.matchAll(
            new RegExp(`\\[worker (\\d+)\\] worker \\d of 2 serving 127\\.0\\.0\\.1:${port},`, "g"),
          )]
            .map((match) => match[1]),
        );
      assertEquals(workersOf(running.port), new Set(["1", "2"]), running.log);
      assertEquals(workersOf(implicitPort), new Set(["1", "2"]), running.log);
      const reached = new Set<number>();
      for (let i = 0; i < 40 && reached.size < 2; i++) {
        const { fingerprint, localPort } = await presentedFingerprint(implicitPort);
        assertEquals(fingerprint, fingerprints[0]);
        await running.waitForLog(`127.0.0.1:${localPort}-[] FTP session opened`);
        reached.add(workerOf(running.log, localPort)!);
      }
      assertEquals(reached, new Set([1, 2]), "implicit FTPS sessions on both workers");
    });
  });
});

Deno.test("examples/multiprocess.ts: a library script run again as each worker", async () => {
  await withDir(async (dir) => {
    const script = fileURLToPath(new URL("../examples/multiprocess.ts", import.meta.url));
    const running = new RunningCli(
      new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-all", script, dir, "0", "2"],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn(),
    );
    try {
      await running.waitForLog(/>>> starting FTP server on 0\.0\.0\.0:(\d+)/);
      running.port = Number(/>>> starting FTP server on 0\.0\.0\.0:(\d+)/.exec(running.log)![1]);
      assertEquals(workerPids(running.log).size, 2, running.log);
      assertEquals(await listOnBothWorkers(running, "hello.txt"), new Set([1, 2]), running.log);
    } finally {
      const status = await running.stop("SIGTERM");
      assertEquals(status.code, 0, running.log);
    }
    assertEquals(running.stdout, `sharing ${dir} on port ${running.port}\n`, "printed once");
  });
});

Deno.test("a worker that ends before the server is up stops everything, with status 1", async () => {
  await withDir(async (dir) => {
    const script = `${dir}/server.ts`;
    const mod = new URL("../mod.ts", import.meta.url).href;
    await Deno.writeTextFile(
      script,
      `import { DummyAuthorizer, FTPServer, isWorker } from "${mod}";
if (isWorker() && Deno.env.get("TSFTPD_WORKER")!.includes('"index":2')) throw new Error("no start");
const server = new FTPServer({ hostname: "127.0.0.1", port: 0, authorizer: new DummyAuthorizer(), workers: 2 });
await server.serve();
`,
    );
    // A script outside this repository: --unstable-net is the command line's, passed on.
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", "--unstable-net", script],
      stdin: "null",
    }).output();
    const log = new TextDecoder().decode(output.stderr);
    assertEquals(output.code, 1, log);
    assertMatch(log, /worker 2 \(pid \d+\) exited with status 1 before the server was up/);
    assertMatch(log, /stopping 2 workers/);
    assert(!log.includes(">>> starting FTP server"), "never said to be up");
  });
});

Deno.test("--workers 2 with a one-port range: refused before any worker starts, status 1", async () => {
  const { code, stdout, stderr } = await runCli(
    ["-i", "127.0.0.1", "-p", "0", "--workers", "2", "-r", "47330-47330"],
  );
  assertEquals([code, stdout], [1, ""]);
  assertEquals(
    stderr,
    "tsftpd: cannot start workers: 1 passive ports cannot be shared among 2 workers: " +
      "give each worker at least one\n",
  );
});

Deno.test("--workers 2: SIGINT to every process (a terminal's Ctrl-C) is the supervisor's to act on", async () => {
  await withDir(async (dir) => {
    const log = await withCli(["--workers", "2"], dir, async (running) => {
      const pids = workerPids(running.log);
      for (const pid of pids.values()) Deno.kill(pid, "SIGINT");
      // The workers go on serving, untouched.
      assertEquals(
        await listOnBothWorkers(running, "hello.txt", "anonymous", "guest@"),
        new Set([1, 2]),
      );
      assertEquals(workerPids(running.log), pids, "the same workers");
      running.child.kill("SIGINT");
      await running.waitForLog("received an exit signal: stopping every worker.");
      // It exits by itself (a SIGTERM sent during its last steps would end it with 143).
      assertEquals((await running.child.status).code, 0, running.log);
    });
    assert(!log.includes("starting it again"), log);
  });
});

Deno.test("--workers 2 --users: SIGHUP to the supervisor re-reads the file in every worker", async () => {
  await withDir(async (dir) => {
    for (const name of ["a", "b"]) {
      await Deno.mkdir(`${dir}/${name}`);
      await Deno.writeTextFile(`${dir}/${name}/${name}.txt`, "");
    }
    const file = `${dir}/users.toml`;
    const anonymousIn = (home: string) => `[[user]]\nname = "anonymous"\nhome = "${home}"\n`;
    await Deno.writeTextFile(file, anonymousIn("a"));
    await withCli(["--workers", "2", "--users", file], dir, async (running) => {
      await Deno.writeTextFile(file, anonymousIn("b"));
      const from = running.log.length;
      running.child.kill("SIGHUP");
      // The supervisor's own copy, and each worker's.
      await running.waitForLog(/(users file reloaded: [^]*){3}/, from);
      assertEquals(
        await listOnBothWorkers(running, "b.txt", "anonymous", "guest@"),
        new Set([1, 2]),
      );
    });
  });
});

Deno.test("library, 2 workers: close() stops accepting everywhere and serves open sessions to their end", async () => {
  await withDir(async (dir) => {
    const script = `${dir}/server.ts`;
    const mod = new URL("../mod.ts", import.meta.url).href;
    await Deno.writeTextFile(
      script,
      `import { DummyAuthorizer, FTPServer } from "${mod}";
const authorizer = new DummyAuthorizer();
authorizer.addAnonymous(${JSON.stringify(dir)});
const server = new FTPServer({ hostname: "127.0.0.1", port: 0, authorizer, workers: 2 });
Deno.addSignalListener("SIGUSR1", () => server.close());
await server.serve();
`,
    );
    const running = new RunningCli(
      new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-all", "--unstable-net", script],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn(),
    );
    let client: FtpClient | undefined;
    try {
      await running.waitForLog(/>>> starting FTP server on 127\.0\.0\.1:(\d+)/);
      running.port = Number(/starting FTP server on 127\.0\.0\.1:(\d+)/.exec(running.log)![1]);
      client = await FtpClient.login(running.port, "anonymous", "guest@");
      running.child.kill("SIGUSR1");
      await running.waitForLog(/draining 2 workers/);
      await running.waitForLog(/(\[worker \d\] >>> shutting down FTP server <<<[^]*){2}/);
      const refused = await Deno.connect({ hostname: "127.0.0.1", port: running.port }).then(
        (conn) => (conn.close(), false),
        (error) => error instanceof Deno.errors.ConnectionRefused,
      );
      assert(refused, "no worker accepts any more");
      const names = (await client.list("NLST")).trim().split("\r\n").sort();
      assertEquals(names, ["hello.txt", "server.ts"], "the open session goes on");
      await client.expect("QUIT", 221);
      assertEquals((await running.child.status).code, 0, running.log);
      assert(!running.log.includes("starting it again"), running.log);
    } finally {
      client?.close();
      await running.stop("SIGKILL");
    }
  });
});

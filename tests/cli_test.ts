/**
 * The `tsftpd` command line, run for real as a child process: its flags, its error
 * messages and exit statuses, and the server it starts.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { assert, assertEquals, assertMatch, assertStringIncludes } from "./support/assert.ts";
import { testCerts } from "./support/certs.ts";
import { FtpClient, readAll } from "./support/ftp_client.ts";
import { withTempDir } from "./support/temp_dir.ts";

const MAIN = fileURLToPath(new URL("../main.ts", import.meta.url));
/** What `deno task start` grants: FFI and /proc/self/fd for the kernel's jail. */
const PERMISSIONS = ["--allow-all"];
/** How long a child may take to print its start-up line, or to exit. */
const START_TIMEOUT_MS = 20_000;
/** How long a test may talk to a running server before it is killed. */
const BODY_TIMEOUT_MS = 30_000;
const STARTUP_LINE =
  /^\[I \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\] >>> starting FTP server on 127\.0\.0\.1:(\d+), pid=(\d+) <<<$/m;
const HINT = "Try 'tsftpd --help' for more information.";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function cli(
  args: string[],
  cwd: string,
  signal?: AbortSignal,
  permissions = PERMISSIONS,
): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", ...permissions, MAIN, ...args],
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal,
  });
}

// --- One-shot runs -------------------------------------------------------------------

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI to its end (killed after {@linkcode START_TIMEOUT_MS}, which fails the test). */
async function runCli(args: string[], cwd = Deno.cwd()): Promise<Outcome> {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, START_TIMEOUT_MS);
  try {
    const output = await cli(args, cwd, controller.signal).output();
    const outcome = {
      code: output.code,
      stdout: decoder.decode(output.stdout),
      stderr: decoder.decode(output.stderr),
    };
    assert(
      !timedOut,
      `tsftpd ${
        args.join(" ")
      } did not exit within ${START_TIMEOUT_MS} ms; stderr:\n${outcome.stderr}`,
    );
    return outcome;
  } finally {
    clearTimeout(timer);
  }
}

/** Asserts a refusal: `code`, nothing on stdout, one `tsftpd: ` message matching `pattern`, no trace. */
function assertRefused(outcome: Outcome, code: number, pattern: RegExp): void {
  const context = `exit ${outcome.code}, stderr:\n${outcome.stderr}`;
  assertEquals(outcome.code, code, context);
  assertEquals(outcome.stdout, "", context);
  assert(!/^ {4}at /m.test(outcome.stderr), `a stack trace was printed: ${context}`);
  assert(!outcome.stderr.includes("error: Uncaught"), `an uncaught error: ${context}`);
  const lines = outcome.stderr.split("\n").filter((line) => line !== "");
  assert(lines.length > 0 && lines[0].startsWith("tsftpd: "), context);
  assertMatch(lines[0], pattern, context);
  assertEquals(
    lines.filter((line) => line.startsWith("tsftpd: ")).length,
    1,
    `one message; ${context}`,
  );
  if (code === 2) {
    // A usage error ends with the --help hint.
    assertEquals(lines.at(-1), HINT, context);
  } else {
    assertEquals(lines.length, 1, `a one-line message; ${context}`);
  }
}

// --- Running servers -----------------------------------------------------------------

/** A running `tsftpd`, its stderr collected as it comes. */
class RunningCli {
  readonly child: Deno.ChildProcess;
  port = 0;
  #stderr = "";
  #stdout = "";
  #ended = false;
  readonly #drained: Promise<void>;

  constructor(child: Deno.ChildProcess) {
    this.child = child;
    const stdout = (async () => {
      for await (const chunk of child.stdout) this.#stdout += decoder.decode(chunk);
    })();
    const stderr = (async () => {
      const streaming = new TextDecoder();
      for await (const chunk of child.stderr) {
        this.#stderr += streaming.decode(chunk, { stream: true });
      }
      this.#stderr += streaming.decode();
      this.#ended = true;
    })();
    this.#drained = Promise.all([stdout, stderr]).then(() => {});
  }

  /** Everything logged so far. */
  get log(): string {
    return this.#stderr;
  }

  /** Everything printed on stdout so far. */
  get stdout(): string {
    return this.#stdout;
  }

  /** Resolves once the log matches `pattern`; throws (with the log) if it does not in time. */
  async waitForLog(pattern: RegExp | string, timeoutMs = START_TIMEOUT_MS): Promise<void> {
    const matches = () =>
      typeof pattern === "string" ? this.#stderr.includes(pattern) : pattern.test(this.#stderr);
    const deadline = Date.now() + timeoutMs;
    while (!matches()) {
      if (this.#ended || Date.now() > deadline) {
        throw new Error(
          `${
            this.#ended ? "tsftpd exited" : "timed out"
          } before logging ${pattern}; stderr:\n${this.#stderr}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** Sends `signal` and waits for the exit (SIGKILL after {@linkcode START_TIMEOUT_MS}). */
  async stop(
    signal: Deno.Signal = "SIGTERM",
  ): Promise<{ status: Deno.CommandStatus; forced: boolean }> {
    try {
      this.child.kill(signal);
    } catch {
      // Already exited.
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), START_TIMEOUT_MS);
    });
    let status = await Promise.race([this.child.status, late]);
    clearTimeout(timer);
    const forced = status === null;
    if (status === null) {
      this.child.kill("SIGKILL");
      status = await this.child.status;
    }
    await this.#drained;
    return { status, forced };
  }
}

/** Starts the CLI with `args` in `cwd` and waits for its start-up line. */
async function startCli(
  args: string[],
  cwd: string,
  permissions = PERMISSIONS,
): Promise<RunningCli> {
  const running = new RunningCli(cli(args, cwd, undefined, permissions).spawn());
  try {
    await running.waitForLog(STARTUP_LINE);
    // The configuration lines follow the start-up line; "data path" is the last at info.
    await running.waitForLog(/^\[[IW] [^\]]+\] data path: .*$/m);
    const [, port, pid] = STARTUP_LINE.exec(running.log)!;
    assertEquals(Number(pid), running.child.pid, "the start-up line names the server's pid");
    running.port = Number(port);
    assert(running.port > 0, running.log);
  } catch (error) {
    await running.stop("SIGKILL");
    throw error;
  }
  return running;
}

/**
 * Runs `body` against a CLI started with `-i 127.0.0.1 -p 0` plus `args`, then stops it
 * with SIGTERM, asserts it exited 0, and returns the whole log.
 */
async function withCli(
  args: string[],
  cwd: string,
  body: (running: RunningCli) => Promise<void>,
): Promise<string> {
  const signal = "SIGTERM";
  const running = await startCli(["-i", "127.0.0.1", "-p", "0", ...args], cwd);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"late">((resolve) => {
    timer = setTimeout(() => resolve("late"), BODY_TIMEOUT_MS);
  });
  const work = body(running);
  const first = await Promise.race([
    work.then(() => "done" as const, () => "failed" as const),
    late,
  ]);
  clearTimeout(timer);
  if (first === "late") {
    // Killing the server ends the clients' reads, so `work` settles.
    await running.stop("SIGKILL");
    await work.catch(() => {});
    throw new Error(`the test did not finish in ${BODY_TIMEOUT_MS} ms; stderr:\n${running.log}`);
  }
  const { status, forced } = await running.stop(signal);
  await work; // Rethrows the body's failure.
  const context = `stderr:\n${running.log}`;
  assert(!forced, `tsftpd did not exit after ${signal}; ${context}`);
  assertEquals(status.code, 0, `exit status after ${signal}; ${context}`);
  assertStringIncludes(running.log, ">>> shutting down FTP server <<<", context);
  assert(!/^ {4}at /m.test(running.log), `a stack trace was logged; ${context}`);
  assertEquals(running.stdout, "", "the server prints nothing on stdout");
  return running.log;
}

/** Runs `body` with a connected control connection, closed afterwards. */
async function withClient<T>(port: number, body: (client: FtpClient) => Promise<T>): Promise<T> {
  const client = await FtpClient.connect(port);
  try {
    return await body(client);
  } finally {
    client.close();
  }
}

/** Logs in with USER/PASS and returns the PASS reply. */
async function login(client: FtpClient, user: string, password: string) {
  assertEquals(client.greeting.code, 220, client.greeting.text);
  const userReply = await client.command(`USER ${user}`);
  assertEquals(userReply.code, 331, userReply.text);
  return await client.command(`PASS ${password}`);
}

/** Finds `count` consecutive ports that are free on 127.0.0.1 right now. */
function freePortRange(count: number): { from: number; to: number } {
  for (let attempt = 0; attempt < 50; attempt++) {
    const first = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const from = first.addr.port;
    const held: Deno.Listener[] = [first];
    try {
      if (from + count - 1 > 65535) continue;
      let ok = true;
      for (let port = from + 1; port < from + count && ok; port++) {
        try {
          held.push(Deno.listen({ hostname: "127.0.0.1", port }));
        } catch {
          ok = false;
        }
      }
      if (ok) return { from, to: from + count - 1 };
    } finally {
      for (const listener of held) listener.close();
    }
  }
  throw new Error(`no ${count} consecutive free ports found`);
}

// --- Help and version ----------------------------------------------------------------

Deno.test("--help and -h print the usage on stdout and exit 0", async () => {
  for (const flag of ["--help", "-h"]) {
    const { code, stdout, stderr } = await runCli([flag]);
    assertEquals(code, 0, stderr);
    assertEquals(stderr, "");
    assertMatch(stdout, /^Usage: tsftpd \[options\]/);
    for (
      const option of [
        "--interface",
        "--port",
        "--write",
        "--directory",
        "--nat-address",
        "--range",
        "--debug",
        "--verbose",
        "--username",
        "--password",
        "--timeout",
        "--banner",
        "--permit-foreign-addresses",
        "--permit-privileged-ports",
        "--use-localtime",
        "--disable-sendfile",
        "--max-cons",
        "--max-cons-per-ip",
        "--max-login-attempts",
        "--concurrency",
        "--workers",
      ]
    ) {
      assertStringIncludes(stdout, option, `${flag} documents ${option}`);
    }
  }
});

Deno.test("--version and -v print the version and exit 0", async () => {
  const config = JSON.parse(
    await Deno.readTextFile(fileURLToPath(new URL("../deno.json", import.meta.url))),
  );
  for (const flag of ["--version", "-v"]) {
    const { code, stdout, stderr } = await runCli([flag]);
    assertEquals(code, 0, stderr);
    assertEquals(stderr, "");
    assertMatch(stdout, /^tsftpd \d+\.\d+\.\d+\S*\n$/);
    assertEquals(stdout, `tsftpd ${config.version}\n`, "the version is the package's");
  }
});

Deno.test("privsep-child: the command a compiled binary serves a system user's files with answers over its stdio", async () => {
  const { encodeFrame, FrameReader, KIND } = await import("../src/fs/privsep_protocol.ts");
  await withTempDir(async (home) => {
    await Deno.writeTextFile(`${home}/f`, "12345");
    await Deno.writeTextFile(`${home}/g`, "kept");
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", ...PERMISSIONS, MAIN, "privsep-child", JSON.stringify({ home, jail: false })],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = child.stdin.getWriter();
    await writer.write(encodeFrame(KIND.CALL, 7, ["stat", `${home}/f`]));
    const frames = new FrameReader(child.stdout);
    const answer = await frames.next();
    // A rename told not to replace (STOU's) keeps the target.
    await writer.write(encodeFrame(KIND.CALL, 8, ["rename", `${home}/f`, `${home}/g`, false]));
    const refused = await frames.next();
    assertEquals([refused?.kind, refused?.id], [KIND.FAIL, 8]);
    assertEquals(await Deno.readTextFile(`${home}/g`), "kept");
    // fsyncUploads reaches the disk through the child too.
    await writer.write(encodeFrame(KIND.CALL, 9, ["sync", `${home}/g`]));
    const synced = await frames.next();
    assertEquals([synced?.kind, synced?.id], [KIND.OK, 9]);
    await writer.close();
    assertEquals(await frames.next(), null, "it ends once its stdin does");
    const stderr = await new Response(child.stderr).text();
    assertEquals((await child.status).code, 0, stderr);
    assertEquals([answer?.kind, answer?.id], [KIND.OK, 7]);
    assertEquals((answer?.value as { size: number }).size, 5);
  });
});

// --- Refusals ------------------------------------------------------------------------

/** Flags that would start a server on a throw-away port if the flag under test were accepted. */
const SAFE = ["-i", "127.0.0.1", "-p", "0"];

Deno.test("usage errors exit 2 with one message and no stack trace", async (t) => {
  const cases: [string, string[], RegExp][] = [
    ["an unknown long flag", ["--bogus", ...SAFE], /--bogus/],
    ["an unknown short flag", ["-x", ...SAFE], /-x/],
    ["a port that is not a number", ["-i", "127.0.0.1", "-p", "notanumber"], /--port.*notanumber/],
    ["a port above 65535", ["-i", "127.0.0.1", "-p", "70000"], /--port.*70000/],
    ["-u without -P", ["-u", "alice", ...SAFE], /-P|--password/],
    ["-P without -u", ["-P", "secret", ...SAFE], /-u|--username/],
    ["a range without a dash", ["-r", "9000", ...SAFE], /--range.*9000/],
    ["a range that runs backwards", ["-r", "9000-8000", ...SAFE], /--range.*9000.*8000/],
    ["a range past 65535", ["-r", "65000-70000", ...SAFE], /--range.*70000/],
    [
      "--concurrency async with --workers",
      ["--concurrency", "async", "--workers", "2", ...SAFE],
      /--concurrency async .*excludes --workers/,
    ],
    ["--workers bogus", ["--workers", "bogus", ...SAFE], /--workers.*bogus/],
    ["--concurrency bogus", ["--concurrency", "bogus", ...SAFE], /--concurrency.*bogus/],
    ["a NAT address that is not an IP", ["-n", "not-an-ip", ...SAFE], /--nat-address.*not-an-ip/],
    ["--max-cons -1", ["--max-cons", "-1", ...SAFE], /--max-cons/],
    ["--max-cons=-1", ["--max-cons=-1", ...SAFE], /--max-cons.*-1/],
    ["--max-cons-per-ip x", ["--max-cons-per-ip", "x", ...SAFE], /--max-cons-per-ip.*x/],
    ["--max-login-attempts 0", ["--max-login-attempts", "0", ...SAFE], /--max-login-attempts/],
    ["--timeout 0", ["--timeout", "0", ...SAFE], /--timeout/],
    ["a positional argument", [...SAFE, "extra"], /extra/],
    ["a flag missing its value", [...SAFE, "-d"], /-d|--directory/],
    ["--tls without a certificate", ["--tls", ...SAFE], /--certfile.*--self-signed/],
    ["--certfile without --tls", ["--certfile", "x.pem", ...SAFE], /--certfile needs --tls/],
    [
      "--certfile and --self-signed",
      ["--tls", "--certfile", "x", "--self-signed", ...SAFE],
      /exclude/,
    ],
    [
      "--keyfile without --certfile",
      ["--tls", "--self-signed", "--keyfile", "k", ...SAFE],
      /--keyfile/,
    ],
  ];
  for (const [name, args, pattern] of cases) {
    await t.step(name, async () => {
      assertRefused(await runCli(args), 2, pattern);
    });
  }
});

Deno.test("a directory that cannot be shared exits 1 with one message", async (t) => {
  await withTempDir(async (dir) => {
    await t.step("a missing directory", async () => {
      const outcome = await runCli(["-d", "/no/such/dir", ...SAFE]);
      assertRefused(outcome, 1, /^tsftpd: cannot share \/no\/such\/dir: .*no such file/i);
    });
    await t.step("a regular file", async () => {
      const file = `${dir}/plain.txt`;
      await Deno.writeTextFile(file, "not a directory");
      const outcome = await runCli(["-d", file, ...SAFE]);
      assertRefused(outcome, 1, /cannot share .*plain\.txt: not a directory/);
    });
  });
});

Deno.test("an address that is not local exits 1 with one message", async () => {
  // 192.0.2.0/24 is TEST-NET-1, never assigned to a local interface.
  const outcome = await runCli(["-i", "192.0.2.1", "-p", "0"]);
  assertRefused(outcome, 1, /^tsftpd: cannot listen on 192\.0\.2\.1:0: no such local address$/);
});

Deno.test("a port already in use exits 1 with one message", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const port = listener.addr.port;
    const outcome = await runCli(["-i", "127.0.0.1", "-p", String(port)]);
    assertRefused(
      outcome,
      1,
      new RegExp(`^tsftpd: cannot listen on 127\\.0\\.0\\.1:${port}: address already in use$`),
    );
  } finally {
    listener.close();
  }
});

// --- Running servers -----------------------------------------------------------------

Deno.test("without FFI the server says once, at start-up, that its jail is the weaker one and that the runtime streams", async () => {
  await withTempDir(async (dir) => {
    const limited = ["--allow-net", "--allow-read", "--allow-write", "--allow-env"];
    const running = await startCli(["-i", "127.0.0.1", "-p", "0"], dir, limited);
    try {
      const warnings = running.log.split("\n").filter((line) => line.startsWith("[W"));
      assertEquals(warnings.length, 2, running.log);
      assertMatch(
        warnings[0],
        /jail: paths checked before use, .*needs Linux 5\.6\+ and --allow-all/,
      );
      assertMatch(
        warnings[1],
        /data path: streamed by the runtime \(sendfile needs Linux and --allow-ffi\)$/,
      );
    } finally {
      await running.stop("SIGKILL");
    }
  });
});

Deno.test("default run: anonymous, read-only, sharing the current directory", async () => {
  await withTempDir(async (dir) => {
    const content = encoder.encode("hello from the shared directory\n");
    await Deno.writeFile(`${dir}/hello.txt`, content);
    const log = await withCli([], dir, async ({ port, log }) => {
      assertMatch(log, /^\[I [^\]]+\] concurrency model: async$/m);
      assertMatch(log, /^\[I [^\]]+\] jail: the kernel's \(openat2 beneath each home\)$/m);
      assertMatch(log, /^\[I [^\]]+\] masquerade \(NAT\) address: None$/m);
      assertMatch(log, /^\[I [^\]]+\] passive ports: None$/m);
      assertMatch(
        log,
        /^\[I [^\]]+\] data path: native sockets, sendfile\(2\) and splice\(2\) for plain TYPE I transfers of the disk$/m,
      );
      await withClient(port, async (client) => {
        assertEquals(client.greeting.code, 220);
        const pass = await login(client, "anonymous", "x");
        assertEquals(pass.code, 230, pass.text);
        assertStringIncludes(await client.list(), "hello.txt");
        assertEquals((await client.command("TYPE I")).code, 200);
        assertEquals(await client.retr("hello.txt"), content);

        const data = await client.pasv();
        try {
          const stor = await client.command("STOR upload.txt");
          assertEquals(stor.code, 550, `STOR: ${stor.code} ${stor.text}`);
        } finally {
          data.close();
        }
        const mkd = await client.command("MKD newdir");
        assertEquals(mkd.code, 550, `MKD: ${mkd.code} ${mkd.text}`);
        assertEquals((await client.command("QUIT")).code, 221);
      });
    });
    const names = [];
    for await (const entry of Deno.readDir(dir)) names.push(entry.name);
    assertEquals(names, ["hello.txt"], "nothing was written");
    assert(!log.includes("write permissions"), "no write warning without -w");
    assert(!/^\[D /m.test(log), "no debug lines without -D");
    assert(!log.includes("max login attempts"), "no configuration detail without -V");
  });
});

Deno.test("-w grants anonymous write access, with a warning", async () => {
  await withTempDir(async (dir) => {
    const content = encoder.encode("uploaded by anonymous");
    await withCli(["-w"], dir, async ({ port, log }) => {
      assertMatch(log, /^\[W [^\]]+\] .*write permissions assigned to anonymous user/m);
      await withClient(port, async (client) => {
        assertEquals((await login(client, "anonymous", "x")).code, 230);
        assertEquals((await client.command("TYPE I")).code, 200);
        const [start, end] = await client.store("upload.txt", content);
        assert(start.code === 125 || start.code === 150, `${start.code} ${start.text}`);
        assertEquals(end.code, 226, end.text);
        assertEquals((await client.command("MKD newdir")).code, 257);
      });
    });
    assertEquals(await Deno.readFile(`${dir}/upload.txt`), content);
    assert((await Deno.stat(`${dir}/newdir`)).isDirectory);
  });
});

Deno.test("-d shares the given directory, not the current one", async () => {
  await withTempDir(async (cwd) => {
    await withTempDir(async (shared) => {
      await Deno.writeTextFile(`${cwd}/in-cwd.txt`, "cwd");
      await Deno.writeTextFile(`${shared}/in-shared.txt`, "shared");
      await withCli(["-d", shared], cwd, async ({ port }) => {
        await withClient(port, async (client) => {
          assertEquals((await login(client, "anonymous", "x")).code, 230);
          const listing = await client.list();
          assertStringIncludes(listing, "in-shared.txt");
          assert(!listing.includes("in-cwd.txt"), listing);
          assertEquals(decoder.decode(await client.retr("in-shared.txt")), "shared");
        });
      });
    });
  });
});

Deno.test("-u and -P: that user logs in, anonymous and a wrong password do not", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/file.txt`, "alice's");
    const log = await withCli(["-u", "alice", "-P", "secret"], dir, async ({ port }) => {
      // Failed logins are answered after a delay, so the two are tried side by side.
      await Promise.all([
        withClient(port, async (client) => {
          const reply = await login(client, "anonymous", "x");
          assertEquals(reply.code, 530, `anonymous: ${reply.code} ${reply.text}`);
        }),
        withClient(port, async (client) => {
          const reply = await login(client, "alice", "wrong");
          assertEquals(reply.code, 530, `wrong password: ${reply.code} ${reply.text}`);
        }),
      ]);
      await withClient(port, async (client) => {
        const reply = await login(client, "alice", "secret");
        assertEquals(reply.code, 230, reply.text);
        assertEquals(decoder.decode(await client.retr("file.txt")), "alice's");
      });
    });
    assert(!log.includes("write permissions"), "no anonymous-write warning when -u is given");
  });
});

Deno.test("-r: PASV picks a port in the range", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/file.txt`, "x");
    const { from, to } = freePortRange(3);
    await withCli(["-r", `${from}-${to}`], dir, async ({ port, log }) => {
      assertMatch(log, new RegExp(`^\\[I [^\\]]+\\] passive ports: ${from}->${to}$`, "m"));
      await withClient(port, async (client) => {
        assertEquals((await login(client, "anonymous", "x")).code, 230);
        const announced = await client.pasvAddress();
        assertEquals(announced.hostname, "127.0.0.1");
        assert(
          announced.port >= from && announced.port <= to,
          `PASV port ${announced.port} is outside ${from}-${to}`,
        );
        // The announced port really is listening: a transfer goes through it.
        const data = await Deno.connect({ hostname: "127.0.0.1", port: announced.port });
        const start = await client.command("RETR file.txt");
        assert(start.code === 125 || start.code === 150, `${start.code} ${start.text}`);
        assertEquals(decoder.decode(await readAll(data)), "x");
        assertEquals((await client.reply()).code, 226);
      });
    });
  });
});

Deno.test("-n: PASV announces the NAT address", async () => {
  await withTempDir(async (dir) => {
    await withCli(["-n", "10.1.2.3"], dir, async ({ port, log }) => {
      assertMatch(log, /^\[I [^\]]+\] masquerade \(NAT\) address: 10\.1\.2\.3$/m);
      await withClient(port, async (client) => {
        assertEquals((await login(client, "anonymous", "x")).code, 230);
        const reply = await client.command("PASV");
        assertEquals(reply.code, 227, reply.text);
        assertMatch(reply.text, /\(10,1,2,3,\d+,\d+\)/);
      });
    });
  });
});

Deno.test("-D logs commands and replies, with the password masked", async () => {
  await withTempDir(async (dir) => {
    const password = "pa55-w0rd-never-logged";
    const log = await withCli(["-D"], dir, async (running) => {
      await running.waitForLog("max login attempts");
      assertMatch(running.log, /^\[D [^\]]+\] max login attempts: 3$/m, "configuration at debug");
      await withClient(running.port, async (client) => {
        assertEquals((await login(client, "anonymous", password)).code, 230);
      });
      await running.waitForLog(/-> 230 /);
    });
    assertMatch(log, /^\[D [^\]]+\] 127\.0\.0\.1:\d+.* <- USER anonymous$/m);
    assertMatch(log, /^\[D [^\]]+\] 127\.0\.0\.1:\d+.* -> 331 /m);
    assertMatch(log, /^\[D [^\]]+\] 127\.0\.0\.1:\d+.* <- PASS \*\*\*\*\*\*$/m);
    assertMatch(log, /^\[D [^\]]+\] 127\.0\.0\.1:\d+.* -> 230 /m);
    assert(!log.includes(password), "the password never reaches the log");
  });
});

Deno.test("--disable-sendfile: the runtime's sockets stream downloads, as the start-up line says", async () => {
  await withTempDir(async (dir) => {
    const content = encoder.encode("x".repeat(100_000));
    await Deno.writeFile(`${dir}/f`, content);
    for (
      const [flags, startup, path] of [
        [
          [],
          "native sockets, sendfile\\(2\\) and splice\\(2\\) for plain TYPE I transfers of the disk",
          "sendfile \\(native socket\\)",
        ],
        [
          ["--disable-sendfile"],
          "streamed by the runtime \\(sendfile disabled\\)",
          "stream \\(runtime socket\\)",
        ],
      ] as const
    ) {
      const log = await withCli(["-D", ...flags], dir, async ({ port }) => {
        await withClient(port, async (client) => {
          assertEquals((await login(client, "anonymous", "x")).code, 230);
          assertEquals((await client.command("TYPE I")).code, 200);
          assertEquals(await client.retr("f"), content);
        });
      });
      assertMatch(log, new RegExp(`^\\[I [^\\]]+\\] data path: ${startup}$`, "m"), flags.join());
      assertMatch(log, new RegExp(`RETR \\S+/f data path: ${path}$`, "m"), flags.join());
    }
  });
});

Deno.test("--banner sets the greeting; --max-cons-per-ip refuses a second connection", async () => {
  await withTempDir(async (dir) => {
    await withCli(["--banner", "hello there", "--max-cons-per-ip", "1"], dir, async ({ port }) => {
      await withClient(port, async (first) => {
        assertEquals(first.greeting.code, 220);
        assertEquals(first.greeting.text, "hello there");
        await withClient(port, async (second) => {
          assertEquals(second.greeting.code, 421, second.greeting.text);
          assert(await second.closedByServer(), "the refused client is disconnected");
        });
        // The first is still served.
        assertEquals((await first.command("NOOP")).code, 200);
      });
    });
  });
});

Deno.test("--timeout: an idle client gets 421 and is disconnected", async () => {
  await withTempDir(async (dir) => {
    await withCli(["--timeout", "1"], dir, async ({ port }) => {
      await withClient(port, async (client) => {
        assertEquals(client.greeting.code, 220);
        const reply = await client.reply();
        assertEquals(reply.code, 421, reply.text);
        assert(await client.closedByServer(), "the idle client is disconnected");
      });
    });
  });
});

Deno.test("-V logs the configuration at info level", async () => {
  await withTempDir(async (dir) => {
    await withCli(["-V", "--max-cons", "7", "--timeout", "42"], dir, async (running) => {
      await running.waitForLog("max login attempts");
      const log = running.log;
      assertMatch(log, /^\[I [^\]]+\] max login attempts: 3$/m);
      assertMatch(log, /^\[I [^\]]+\] max connections: 7$/m);
      assertMatch(log, /^\[I [^\]]+\] timeout: 42$/m);
      assert(!/^\[D /m.test(log), "-V alone logs nothing at debug");
    });
  });
});

Deno.test("SIGINT and SIGTERM close the connected sessions and exit 0", async (t) => {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    await t.step(signal, async () => {
      await withTempDir(async (dir) => {
        const running = await startCli(["-i", "127.0.0.1", "-p", "0"], dir);
        let stopped: { status: Deno.CommandStatus; forced: boolean } | null = null;
        try {
          const client = await FtpClient.connect(running.port);
          try {
            assertEquals((await login(client, "anonymous", "x")).code, 230);
            stopped = await running.stop(signal);
            assert(await client.closedByServer(), "the session is closed");
          } finally {
            client.close();
          }
        } finally {
          stopped ??= await running.stop("SIGKILL");
        }
        const context = `stderr:\n${running.log}`;
        assert(!stopped.forced, `tsftpd did not exit after ${signal}; ${context}`);
        assertEquals(stopped.status.code, 0, context);
        assertStringIncludes(running.log, "FTP session closed (disconnect).", context);
        assertStringIncludes(running.log, ">>> shutting down FTP server <<<", context);
      });
    });
  }
});

Deno.test("a certificate that cannot be used exits 1 with one message", async (t) => {
  const certs = await testCerts();
  const cases: [string, string[], RegExp][] = [
    ["a missing certificate file", ["--certfile", "/no/such.pem"], /cannot read the certificate/],
    [
      "a key that does not match",
      ["--certfile", certs.cert, "--keyfile", certs.otherKey],
      /does not belong/,
    ],
    [
      "a key file given as the certificate",
      ["--certfile", certs.key],
      /not a PEM X\.509 certificate/,
    ],
  ];
  for (const [name, args, pattern] of cases) {
    await t.step(name, async () => {
      assertRefused(await runCli(["--tls", ...args, ...SAFE]), 1, pattern);
    });
  }
});

Deno.test("--tls --self-signed logs the fingerprint; --implicit-port adds an implicit FTPS listener", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/f.txt`, "tls share");
    await withCli(["--tls", "--self-signed", "--implicit-port", "0"], dir, async (running) => {
      assertMatch(running.log, /SHA-256 fingerprint is ([0-9A-F]{2}:){31}[0-9A-F]{2}$/m);
      await running.waitForLog(/FTPS: implicit/);
      const ports = [...running.log.matchAll(/starting FTP server on 127\.0\.0\.1:(\d+),/g)].map((
        m,
      ) => m[1]);
      assertEquals(ports.length, 2, running.log);
      for (
        const url of [`ftp://127.0.0.1:${ports[0]}/f.txt`, `ftps://127.0.0.1:${ports[1]}/f.txt`]
      ) {
        const { code, stdout } = await new Deno.Command("curl", {
          args: ["--silent", "--max-time", "20", "--insecure", "--ssl-reqd", url],
          stdout: "piped",
          stderr: "null",
        }).output();
        assertEquals(code, 0, url);
        assertEquals(decoder.decode(stdout), "tls share");
      }
    });
  });
});

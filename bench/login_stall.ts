/**
 * Whether a burst of logins stalls the other sessions: starts `tsftpd --users` (a
 * child process) with an argon2id account, keeps one session logged in sending
 * NOOP every few milliseconds, then logs N clients in at once, and prints the
 * idle session's NOOP round trips before and during the burst, and how long the
 * logins took.
 *
 * ```sh
 * deno run -A bench/login_stall.ts -n 300
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { hashPassword } from "../mod.ts";
import { FtpClient } from "./ftp_client.ts";

const USAGE = `Usage: deno run -A bench/login_stall.ts [options]

  -n, --logins N        clients logging in at once (default: 300)
  -i, --interval MS     milliseconds between the idle session's NOOPs (default: 10)
      --baseline MS     how long to measure NOOPs before the burst (default: 1000)
      --json FILE       also write the results as JSON
  -h, --help            show this help
`;

const MAIN = fileURLToPath(new URL("../main.ts", import.meta.url));
const PASSWORD = "login-stall benchmark";

/** Round-trip statistics, in milliseconds. */
interface Stats {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

function stats(samples: number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  const round = (n: number) => Math.round(n * 100) / 100;
  return { count: sorted.length, p50: round(at(0.5)), p99: round(at(0.99)), max: round(at(1)) };
}

/** Starts `tsftpd --users file` on a free loopback port; resolves once it listens. */
async function startServer(file: string): Promise<{ child: Deno.ChildProcess; port: number }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", MAIN, "--users", file, "-i", "127.0.0.1", "-p", "0"].concat(
      ["--max-cons", "0"],
    ),
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let log = "";
  while (!/passive ports: /.test(log)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`tsftpd did not start:\n${log}`);
    log += value;
  }
  // Keep draining the log so the server never blocks on a full pipe.
  (async () => {
    while (!(await reader.read()).done);
  })();
  const port = Number(/starting FTP server on 127\.0\.0\.1:(\d+)/.exec(log)?.[1]);
  return { child, port };
}

/** Logs in on a new connection; throws unless 230. */
async function login(port: number): Promise<FtpClient> {
  const client = await FtpClient.connect(port);
  await client.command("USER bench");
  const reply = await client.command(`PASS ${PASSWORD}`);
  if (reply.code !== 230) throw new Error(`login: ${reply.code} ${reply.text}`);
  return client;
}

async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      logins: { type: "string", short: "n", default: "300" },
      interval: { type: "string", short: "i", default: "10" },
      baseline: { type: "string", default: "1000" },
      json: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const logins = Number(values.logins);
  const interval = Number(values.interval);
  const dir = await Deno.makeTempDir({ prefix: "tsftpd-login-stall-" });
  const file = `${dir}/users.toml`;
  await Deno.writeTextFile(
    file,
    `[[user]]\nname = "bench"\npassword = "${await hashPassword(PASSWORD)}"\nhome = "${dir}"\n`,
  );
  const { child, port } = await startServer(file);
  const clients: FtpClient[] = [];
  try {
    const idle = await login(port);
    clients.push(idle);
    let phase: number[] = [];
    let running = true;
    const pinger = (async () => {
      while (running) {
        const started = performance.now();
        await idle.command("NOOP");
        phase.push(performance.now() - started);
        await new Promise((resolve) => setTimeout(resolve, interval));
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, Number(values.baseline)));
    const before = phase;
    phase = [];
    const burstStart = performance.now();
    const loginTimes: number[] = [];
    await Promise.all(Array.from({ length: logins }, async () => {
      const started = performance.now();
      clients.push(await login(port));
      loginTimes.push(performance.now() - started);
    }));
    const burstSeconds = (performance.now() - burstStart) / 1000;
    running = false;
    await pinger;
    const result = {
      logins,
      hash: "argon2id m=19456,t=2,p=1",
      processors: navigator.hardwareConcurrency,
      noopBefore: stats(before),
      noopDuringLogins: stats(phase),
      loginSeconds: Math.round(burstSeconds * 100) / 100,
      loginsPerSecond: Math.round(logins / burstSeconds),
      loginLatency: stats(loginTimes),
    };
    console.log(
      `NOOP round trip of an idle session, ms (p50 / p99 / max):\n` +
        `  before:             ${result.noopBefore.p50} / ${result.noopBefore.p99} / ${result.noopBefore.max}` +
        ` (${result.noopBefore.count} NOOPs)\n` +
        `  during ${logins} logins: ${result.noopDuringLogins.p50} / ${result.noopDuringLogins.p99} / ` +
        `${result.noopDuringLogins.max} (${result.noopDuringLogins.count} NOOPs)\n` +
        `${logins} argon2id logins at once: ${result.loginSeconds} s ` +
        `(${result.loginsPerSecond}/s; each waited ${result.loginLatency.p50} ms median, ` +
        `${result.loginLatency.max} ms at most) on ${result.processors} processors`,
    );
    if (values.json) await Deno.writeTextFile(values.json, JSON.stringify(result, null, 2) + "\n");
    return 0;
  } finally {
    for (const client of clients) client.close();
    child.kill("SIGTERM");
    await child.status;
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));

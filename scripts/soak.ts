/**
 * A soak test: N clients run mixed FTP traffic (logins, listings, uploads,
 * downloads, aborted downloads, TLS sessions) against a server for a given time,
 * and the run is reported as errors by kind, throughput, and the server's memory
 * and descriptors over time, in `bench/results/soak-NAME.{md,json,svg}`.
 *
 * ```sh
 * deno run -A scripts/soak.ts --duration 10m --clients 50                # starts its own tsftpd
 * deno run -A scripts/soak.ts --host 10.0.0.5 --port 21 --user u --pass p --pid 1234 --ca ca.pem
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { drain, FtpClient, send, UnexpectedReply } from "../bench/ftp_client.ts";
import { generateSelfSigned } from "../src/self_signed.ts";
import { type Sample, soakMarkdown, type SoakResults, soakSvg } from "./soak_report.ts";

/** What a soak run is told. */
export interface SoakOptions {
  /** The server; `null`: start a tsftpd of this checkout for the run. */
  host: string | null;
  port: number;
  user: string;
  password: string;
  /** The server's process, for its memory and descriptors (`/proc/PID`); set when the soak starts it. */
  pid: number | null;
  /** A CA certificate (PEM file) to verify the server's TLS certificate with; TLS sessions need it. */
  ca: string | null;
  durationMs: number;
  clients: number;
  /** The share of sessions that use TLS, 0 to 1 (default 0.2 with a certificate to trust, else 0). */
  tlsShare: number | null;
  /** Milliseconds between samples. */
  intervalMs: number;
  /** The name of the results: `soak-NAME.*`. */
  name: string;
  /** Where the results go (default `bench/results`). */
  outDir: string;
}

/** A bad command line. */
export class SoakArgsError extends Error {
  override name = "SoakArgsError";
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `90`, `90s`, `10m`, `1h`, `500ms` as milliseconds (a bare number is seconds). */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!match || Number(match[1]) <= 0) {
    throw new SoakArgsError(`bad duration "${text}" (examples: 30s, 10m, 1h)`);
  }
  return Number(match[1]) * UNITS[match[2] ?? "s"];
}

function whole(name: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max) {
    throw new SoakArgsError(
      `--${name} must be a whole number from ${min} to ${max}, not "${text}"`,
    );
  }
  return n;
}

/** Reads the command line; throws {@linkcode SoakArgsError} for a bad one. */
export function parseSoakArgs(args: string[]): SoakOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      options: {
        host: { type: "string" },
        port: { type: "string" },
        user: { type: "string" },
        pass: { type: "string" },
        pid: { type: "string" },
        ca: { type: "string" },
        duration: { type: "string", default: "60s" },
        clients: { type: "string", default: "20" },
        tls: { type: "string" },
        interval: { type: "string" },
        name: { type: "string" },
        "out-dir": { type: "string" },
      },
    }));
  } catch (error) {
    throw new SoakArgsError((error as Error).message);
  }
  const host = values.host ?? null;
  if (!host && (values.port || values.user || values.pass || values.pid)) {
    throw new SoakArgsError(
      "--port, --user, --pass and --pid name a running server: give --host too",
    );
  }
  if (host && (!values.user || values.pass === undefined)) {
    throw new SoakArgsError("--host needs --user and --pass");
  }
  const durationMs = parseDuration(values.duration);
  const tlsShare = values.tls === undefined ? null : Number(values.tls);
  if (tlsShare !== null && !(tlsShare >= 0 && tlsShare <= 1)) {
    throw new SoakArgsError(`--tls is the share of TLS sessions, from 0 to 1, not "${values.tls}"`);
  }
  if (host && tlsShare && !values.ca) {
    throw new SoakArgsError("--tls needs --ca for a running server");
  }
  return {
    host,
    port: values.port ? whole("port", values.port, 1, 65535) : 21,
    user: values.user ?? "soak",
    password: values.pass ?? "",
    pid: values.pid ? whole("pid", values.pid, 1, 2 ** 31) : null,
    ca: values.ca ?? null,
    durationMs,
    clients: whole("clients", values.clients, 1, 10_000),
    tlsShare,
    // About 120 samples a run, but not more than one a second.
    intervalMs: values.interval ? parseDuration(values.interval) : Math.max(1000, durationMs / 120),
    name: values.name ?? new Date().toISOString().slice(0, 19).replaceAll(":", ""),
    outDir: values["out-dir"] ?? fileURLToPath(new URL("../bench/results", import.meta.url)),
  };
}

/** The server a run talks to. */
interface Target {
  host: string;
  port: number;
  user: string;
  password: string;
  pid: number | null;
  caCerts: string[] | undefined;
  tlsShare: number;
}

/** What the clients count, shared by all. */
class Counters {
  readonly ops: Record<string, number> = {};
  readonly errors: Record<string, number> = {};
  bytesUp = 0;
  bytesDown = 0;
  opsTotal = 0;
  errorsTotal = 0;

  done(kind: string): void {
    this.ops[kind] = (this.ops[kind] ?? 0) + 1;
    this.opsTotal++;
  }

  failed(error: unknown): void {
    const kind = error instanceof UnexpectedReply
      ? `reply ${error.reply.code}`
      : error instanceof Error
      ? error.name
      : String(error);
    this.errors[kind] = (this.errors[kind] ?? 0) + 1;
    this.errorsTotal++;
  }
}

/** The file every download reads; uploaded once at the start. */
const SEED_FILE = "soak-seed.bin";
const SEED_SIZE = 16 * 1024 * 1024;
const SESSION_TIMEOUT_MS = 120_000;

async function expectReply(client: FtpClient, what: string, ...codes: number[]): Promise<void> {
  const reply = await client.reply();
  if (!codes.includes(reply.code)) throw new UnexpectedReply(what, reply);
}

/** One session: connect (TLS or not), log in, a few operations, QUIT (or vanish). */
async function session(target: Target, id: number, counters: Counters, stopping: () => boolean) {
  const tls = Math.random() < target.tlsShare;
  const client = await FtpClient.connect(target.port, {
    hostname: target.host,
    caCerts: target.caCerts,
  });
  const timer = setTimeout(() => client.close(), SESSION_TIMEOUT_MS);
  try {
    if (tls) {
      await client.startTls();
      await client.protectData();
      counters.done("tls");
    }
    await client.login(target.user, target.password);
    counters.done("login");
    await client.expect("TYPE I", 200);
    const actions = 1 + Math.floor(Math.random() * 5);
    for (let i = 0; i < actions && !stopping(); i++) {
      const pick = Math.random();
      if (pick < 0.25) {
        counters.bytesDown += await client.transfer("LIST", (data) => drain(data));
        counters.done("list");
      } else if (pick < 0.5) {
        const size = 64 * 1024 * (1 + Math.floor(Math.random() * 16));
        const data = await client.pasv();
        await client.send(`STOR soak-c${id}-${i % 4}.bin`);
        await expectReply(client, "STOR", 125, 150).catch((error) => {
          data.close();
          throw error;
        });
        await send(data, new Uint8Array(size));
        await expectReply(client, "STOR (end)", 226);
        counters.bytesUp += size;
        counters.done("upload");
      } else if (pick < 0.8) {
        counters.bytesDown += await client.transfer(`RETR ${SEED_FILE}`, (data) => drain(data));
        counters.done("download");
      } else {
        const data = await client.pasv();
        await client.send(`RETR ${SEED_FILE}`);
        await expectReply(client, "RETR", 125, 150);
        counters.bytesDown += await data.read(new Uint8Array(64 * 1024)) ?? 0;
        await client.send("ABOR");
        // 426 then 226 while the transfer runs; 226 alone if it had just ended.
        const first = await client.reply();
        data.close();
        if (first.code === 426) await expectReply(client, "ABOR (end)", 226);
        else if (first.code !== 226) throw new UnexpectedReply("ABOR", first);
        counters.done("abort");
      }
    }
    if (Math.random() < 0.9) await client.expect("QUIT", 221);
  } finally {
    clearTimeout(timer);
    client.close();
  }
}

/** Uploads the file downloads read. */
async function uploadSeed(target: Target): Promise<void> {
  const client = await FtpClient.connect(target.port, { hostname: target.host });
  try {
    await client.login(target.user, target.password);
    await client.expect("TYPE I", 200);
    const data = await client.pasv();
    await client.send(`STOR ${SEED_FILE}`);
    await expectReply(client, "STOR", 125, 150);
    await send(data, new Uint8Array(1024 * 1024).fill(0x5a), SEED_SIZE / (1024 * 1024));
    await expectReply(client, "STOR (end)", 226);
  } finally {
    client.close();
  }
}

async function processState(
  pid: number | null,
): Promise<{ rss: number | null; fds: number | null }> {
  if (pid === null) return { rss: null, fds: null };
  try {
    const status = await Deno.readTextFile(`/proc/${pid}/status`);
    const rss = Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1] ?? NaN) * 1024;
    let fds = 0;
    for await (const _ of Deno.readDir(`/proc/${pid}/fd`)) fds++;
    return { rss, fds };
  } catch {
    return { rss: null, fds: null }; // the process is gone
  }
}

/** Runs the traffic for `durationMs` and samples it every `intervalMs`. */
export async function soak(
  target: Target,
  options: Pick<SoakOptions, "clients" | "durationMs" | "intervalMs">,
  progress: (line: string) => void = () => {},
): Promise<Omit<SoakResults, "date" | "command" | "commit" | "target">> {
  await uploadSeed(target);
  const counters = new Counters();
  const start = performance.now();
  const elapsed = () => (performance.now() - start) / 1000;
  const deadline = start + options.durationMs;
  const stopping = () => performance.now() >= deadline;
  const samples: Sample[] = [];
  let last = { ops: 0, up: 0, down: 0, errors: 0 };
  const sample = async () => {
    const state = await processState(target.pid);
    samples.push({
      t: elapsed(),
      ops: counters.opsTotal - last.ops,
      bytesUp: counters.bytesUp - last.up,
      bytesDown: counters.bytesDown - last.down,
      errors: counters.errorsTotal - last.errors,
      ...state,
    });
    last = {
      ops: counters.opsTotal,
      up: counters.bytesUp,
      down: counters.bytesDown,
      errors: counters.errorsTotal,
    };
    progress(
      `${elapsed().toFixed(0)} s: ${counters.opsTotal} ops, ${counters.errorsTotal} errors` +
        (state.rss === null
          ? ""
          : `, RSS ${(state.rss / 1048576).toFixed(1)} MiB, ${state.fds} fds`),
    );
  };
  await sample();
  const sampler = setInterval(sample, options.intervalMs);
  const client = async (id: number) => {
    while (!stopping()) {
      await session(target, id, counters, stopping).catch(async (error) => {
        counters.failed(error);
        await new Promise((resolve) => setTimeout(resolve, 100));
      });
    }
  };
  await Promise.all(Array.from({ length: options.clients }, (_, id) => client(id)));
  clearInterval(sampler);
  await sample();
  return {
    clients: options.clients,
    tlsShare: target.tlsShare,
    seconds: elapsed(),
    ops: counters.ops,
    bytesUp: counters.bytesUp,
    bytesDown: counters.bytesDown,
    errors: counters.errors,
    samples,
  };
}

const MAIN = fileURLToPath(new URL("../main.ts", import.meta.url));
const STARTUP = />>> starting FTP server on [^:]+:(\d+), pid=(\d+) <<</;

/** A tsftpd of this checkout on a loopback port, with a temporary share and a certificate. */
async function startServer(): Promise<{ target: Target; stop: () => Promise<void> }> {
  const dir = await Deno.makeTempDir({ prefix: "tsftpd-soak-" });
  const { cert, key } = await generateSelfSigned(["127.0.0.1"]);
  await Deno.writeTextFile(`${dir}/cert.pem`, cert);
  await Deno.writeTextFile(`${dir}/key.pem`, key);
  await Deno.mkdir(`${dir}/share`);
  const password = crypto.randomUUID();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      "--v8-flags=--optimize-for-size",
      MAIN,
      ...["-i", "127.0.0.1", "-p", "0", "-w", "-d", `${dir}/share`, "-u", "soak", "-P", password],
      ...[
        "--tls",
        "--certfile",
        `${dir}/cert.pem`,
        "--keyfile",
        `${dir}/key.pem`,
        "--max-cons",
        "0",
      ],
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let log = "";
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let match: RegExpExecArray | null = null;
  while (!(match = STARTUP.exec(log))) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`tsftpd did not start:\n${log}`);
    log += value;
  }
  // The log goes on being read, or the server would block on a full pipe.
  const draining = (async () => {
    while (!(await reader.read()).done);
  })();
  const target: Target = {
    host: "127.0.0.1",
    port: Number(match[1]),
    user: "soak",
    password,
    pid: Number(match[2]),
    caCerts: [cert],
    tlsShare: 0.2,
  };
  return {
    target,
    stop: async () => {
      child.kill("SIGTERM");
      await child.status;
      await draining;
      await Deno.remove(dir, { recursive: true });
    },
  };
}

async function commit(): Promise<string> {
  const output = await new Deno.Command("git", { args: ["rev-parse", "--short", "HEAD"] })
    .output().catch(() => null);
  return output?.success ? new TextDecoder().decode(output.stdout).trim() : "unknown";
}

if (import.meta.main) {
  let options: SoakOptions;
  try {
    options = parseSoakArgs(Deno.args);
  } catch (error) {
    if (!(error instanceof SoakArgsError)) throw error;
    console.error(`soak: ${error.message}`);
    Deno.exit(2);
  }
  const started = options.host === null ? await startServer() : null;
  const target: Target = started?.target ?? {
    host: options.host!,
    port: options.port,
    user: options.user,
    password: options.password,
    pid: options.pid,
    caCerts: options.ca ? [await Deno.readTextFile(options.ca)] : undefined,
    tlsShare: 0,
  };
  target.tlsShare = options.tlsShare ?? (target.caCerts ? 0.2 : 0);
  const run = await soak(target, options, (line) => console.log(line));
  await started?.stop();
  const results: SoakResults = {
    date: new Date().toISOString(),
    command: `deno run -A scripts/soak.ts ${
      Deno.args.map((a) => a === options.password ? "***" : a).join(" ")
    }`,
    commit: await commit(),
    target: { host: target.host, port: target.port, pid: target.pid, started: started !== null },
    ...run,
  };
  const base = `${options.outDir}/soak-${options.name}`;
  const chart = `soak-${options.name}.svg`;
  await Deno.mkdir(options.outDir, { recursive: true });
  await Deno.writeTextFile(`${base}.json`, JSON.stringify(results, null, 2) + "\n");
  await Deno.writeTextFile(`${base}.md`, soakMarkdown(results, chart));
  await Deno.writeTextFile(`${base}.svg`, soakSvg(results));
  console.log(`${base}.{md,json,svg}`);
}

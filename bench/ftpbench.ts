/**
 * `ftpbench`: benchmarks any FTP server the way pyftplib's `scripts/ftpbench` does,
 * and prints the seed's table.
 *
 * ```sh
 * deno task bench -u USER -p PASSWORD -H 127.0.0.1 -P 2121 -b all -n 300 -k SERVER_PID
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  type BenchContext,
  benchRetr,
  benchStor,
  cleanUp,
  FILE_NAME,
  type Measurement,
  openClient,
  retrieve,
  store,
  type Target,
  timeAll,
} from "./benchmarks.ts";
import { drain, type FtpClient } from "./ftp_client.ts";
import { openFileLimit } from "./limits.ts";
import { serverMemory } from "./memory.ts";

const USAGE = `Usage: deno task bench [options]

Benchmarks an FTP server (a user with write permission is needed).

  -u, --user USER        user name (default: anonymous)
  -p, --pass PASSWORD    password (default: ftpbench@)
  -H, --host HOST        server address (default: localhost)
  -P, --port PORT        server port (default: 21)
  -b, --benchmark TYPE   transfer (default), download, upload, concurrence, all, idle
                         (STOR and RETR alone, then again with N idle clients logged in),
                         or listing (N listings one after another, a data connection each:
                         a sync tool walking a tree; with --ssl-compare, over PROT P too)
  -n, --clients N        clients of the concurrence benchmarks (default: 200)
  -s, --filesize SIZE    size of the file transferred (default: 10M; K, M, G suffixes)
  -k, --pid PID          report the server's memory (RSS minus shared) after each step
  -t, --timeout SECONDS  fail when a step makes no progress for this long (default: 60)
  -S, --ssl              explicit FTPS: AUTH TLS and PROT P
      --ssl-compare      run the benchmark again over FTPS (PROT P), next to plain
      --cafile FILE      CA certificate to verify the server with (for --ssl)
      --json FILE        also write the results as JSON
  -d, --debug            print every progress report
  -h, --help             show this help
`;

/** How many connects the concurrence benchmark has under way at once, at most. */
const CONNECTS_IN_FLIGHT = 1000;

/** The benchmark types `-b` takes. */
const BENCHMARKS = [
  "transfer",
  "download",
  "upload",
  "concurrence",
  "all",
  "idle",
  "listing",
] as const;

/** Files a run keeps open besides its clients' connections (runtime, files, stdio). */
const FILES_BESIDE_CLIENTS = 32;

/**
 * Connections each client of a benchmark holds at once: during the concurrent
 * transfers of `concurrence` every client has a data connection open too.
 */
const CONNECTIONS_PER_CLIENT: Partial<Record<BenchOptions["benchmark"], number>> = {
  idle: 1,
  concurrence: 2,
  all: 2,
};

/** Throws when the clients' connections would not fit this process's open-file limit. */
async function checkOpenFileLimit(options: BenchOptions): Promise<void> {
  const perClient = CONNECTIONS_PER_CLIENT[options.benchmark];
  if (perClient === undefined) return;
  const needed = options.clients * perClient + FILES_BESIDE_CLIENTS;
  const limit = await openFileLimit();
  if (limit !== null && needed > limit) {
    throw new Error(
      `-n ${options.clients} needs about ${needed} open files, and this process may open ` +
        `${limit}: raise the hard limit first (ulimit -n ${needed})`,
    );
  }
}

/** The parsed command line. */
interface BenchOptions {
  target: Target;
  benchmark: typeof BENCHMARKS[number];
  clients: number;
  fileSize: number;
  pid: number | null;
  timeout: number;
  json: string | null;
  debug: boolean;
  /** Also run the single-stream benchmarks over FTPS, with these CA certificates. */
  sslCompare: { caCerts?: string[] } | null;
}

/** Parses `10M`, `512K`, `1G` or a byte count. */
export function parseSize(text: string): number {
  const match = /^(\d+(?:\.\d+)?)([KMG]?)B?$/i.exec(text.trim());
  if (!match) throw new Error(`not a size: ${JSON.stringify(text)} (use e.g. 10M)`);
  const scale =
    { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[match[2].toUpperCase() as "" | "K" | "M" | "G"];
  return Math.round(Number(match[1]) * scale);
}

/** `10485760` as `10M`, for the table's row names. */
function formatSize(bytes: number): string {
  for (const [unit, scale] of [["G", 1024 ** 3], ["M", 1024 ** 2], ["K", 1024]] as const) {
    if (bytes >= scale && Number.isInteger((bytes / scale) * 10)) return `${bytes / scale}${unit}`;
  }
  return `${bytes}B`;
}

function positiveInteger(name: string, value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) {
    throw new Error(`${name} must be a positive whole number`);
  }
  return Number(value);
}

async function parseOptions(args: string[]): Promise<BenchOptions | null> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      user: { type: "string", short: "u", default: "anonymous" },
      pass: { type: "string", short: "p", default: "ftpbench@" },
      host: { type: "string", short: "H", default: "localhost" },
      port: { type: "string", short: "P", default: "21" },
      benchmark: { type: "string", short: "b", default: "transfer" },
      clients: { type: "string", short: "n", default: "200" },
      filesize: { type: "string", short: "s", default: "10M" },
      pid: { type: "string", short: "k" },
      timeout: { type: "string", short: "t", default: "60" },
      ssl: { type: "boolean", short: "S" },
      "ssl-compare": { type: "boolean" },
      cafile: { type: "string" },
      json: { type: "string" },
      debug: { type: "boolean", short: "d" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return null;
  const benchmark = values.benchmark;
  if (!(BENCHMARKS as readonly string[]).includes(benchmark)) {
    throw new Error(`unknown benchmark ${JSON.stringify(benchmark)}`);
  }
  const hostname = values.host === "localhost" ? "127.0.0.1" : values.host;
  const caCerts = values.cafile ? [await Deno.readTextFile(values.cafile)] : undefined;
  return {
    target: {
      hostname,
      port: positiveInteger("--port", values.port),
      user: values.user,
      password: values.pass,
      tls: values.ssl ? { caCerts } : null,
    },
    benchmark: benchmark as BenchOptions["benchmark"],
    clients: positiveInteger("--clients", values.clients),
    fileSize: parseSize(values.filesize),
    pid: values.pid ? positiveInteger("--pid", values.pid) : null,
    timeout: positiveInteger("--timeout", values.timeout),
    json: values.json ?? null,
    sslCompare: values["ssl-compare"] ? { caCerts } : null,
    debug: values.debug ?? false,
  };
}

/** Runs the steps, watching each for progress; collects the measurements. */
class Runner {
  readonly rows: Measurement[] = [];
  readonly context: BenchContext;
  readonly #options: BenchOptions;
  #lastProgress = performance.now();
  #lastPrinted = 0;

  constructor(options: BenchOptions) {
    this.#options = options;
    this.context = {
      target: options.target,
      fileSize: options.fileSize,
      created: new Set(),
      progress: (message) => this.#progress(message),
    };
  }

  #progress(message: string): void {
    this.#lastProgress = performance.now();
    if (this.#options.debug || this.#lastProgress - this.#lastPrinted > 1000) {
      this.#lastPrinted = this.#lastProgress;
      console.error(`  ... ${message}`);
    }
  }

  /** Runs one step: logs it, fails it when it stalls, records its value and the server's memory. */
  async step(name: string, unit: Measurement["unit"], run: () => Promise<number>): Promise<void> {
    console.error(`${name} ...`);
    this.#lastProgress = performance.now();
    let timer: ReturnType<typeof setInterval> | undefined;
    const stalled = new Promise<never>((_, reject) => {
      timer = setInterval(() => {
        const idle = (performance.now() - this.#lastProgress) / 1000;
        if (idle > this.#options.timeout) {
          reject(new Error(`${name}: no progress for ${this.#options.timeout} s`));
        }
      }, 250);
    });
    try {
      const value = await Promise.race([run(), stalled]);
      const memory = await this.memory();
      this.rows.push({ name, value, unit, ...(memory !== undefined && { memory }) });
    } finally {
      clearInterval(timer);
    }
  }

  /** The server's memory now, when a pid was given. */
  async memory(): Promise<number | undefined> {
    return this.#options.pid === null ? undefined : await serverMemory(this.#options.pid);
  }
}

/**
 * STOR then RETR over one client. `idle` words the rows for the concurrence suite
 * (`STOR (1 file with 300 idle clients)`); `tag` marks them (` [PROT P]`).
 */
async function singleStream(
  runner: Runner,
  options: BenchOptions,
  idle = "",
  tag = "",
): Promise<void> {
  const client = await openClient(options.target);
  try {
    const { context } = runner;
    if (options.benchmark !== "download") {
      const name = (idle ? `STOR (1 file${idle})` : "STOR (client -> server)") + tag;
      await runner.step(name, "MiB/s", () => benchStor(context, client, name));
    }
    if (options.benchmark !== "upload") {
      const name = (idle ? `RETR (1 file${idle})` : "RETR (server -> client)") + tag;
      await runner.step(name, "MiB/s", () => benchRetr(context, client, name));
    }
    await client.expect("QUIT", 221);
  } finally {
    client.close();
  }
}

/** Logs `options.clients` clients in at once, as a timed step; they are added to `clients`. */
function logIn(runner: Runner, options: BenchOptions, clients: FtpClient[]): Promise<void> {
  const n = options.clients;
  return runner.step(
    `${n} concurrent clients (connect, login)`,
    "s",
    () =>
      // At most CONNECTS_IN_FLIGHT connects at once: past the kernel's listen and
      // SYN backlogs (a few thousand), connects are dropped and retried seconds later.
      timeAll(runner.context, "logins", Array.from({ length: n }), async () => {
        clients.push(await openClient(options.target));
      }, CONNECTS_IN_FLIGHT),
  );
}

/** Sends QUIT from every client at once, as a timed step. */
function quitAll(runner: Runner, clients: FtpClient[]): Promise<void> {
  return runner.step(
    `${clients.length} concurrent clients (QUIT)`,
    "s",
    () =>
      timeAll(runner.context, "quits", clients.splice(0), async (client) => {
        await client.expect("QUIT", 221);
        client.close();
      }),
  );
}

/** STOR and RETR with no other client, then again with `options.clients` idle clients logged in. */
async function idle(runner: Runner, options: BenchOptions): Promise<void> {
  const clients: FtpClient[] = [];
  try {
    await singleStream(runner, { ...options, benchmark: "transfer" });
    await logIn(runner, options, clients);
    const withIdle = ` with ${options.clients} idle clients`;
    await singleStream(runner, { ...options, benchmark: "transfer" }, withIdle);
    await quitAll(runner, clients);
  } finally {
    for (const client of clients) client.close();
  }
}

/** `options.clients` NLSTs one after another over one client, each with its own data connection. */
async function listings(runner: Runner, options: BenchOptions, tag = ""): Promise<void> {
  const client = await openClient(options.target);
  try {
    const n = options.clients;
    await runner.step(
      `${n} listings (NLST, a data connection each)${tag}`,
      "s",
      () =>
        timeAll(runner.context, "listings", Array.from({ length: n }), async () => {
          await client.transfer("NLST", (data) => drain(data));
        }, 1),
    );
    await client.expect("QUIT", 221);
  } finally {
    client.close();
  }
}

async function concurrence(runner: Runner, options: BenchOptions): Promise<void> {
  const { context } = runner;
  const n = options.clients;
  const size = formatSize(options.fileSize);
  const clients: FtpClient[] = [];
  try {
    await logIn(runner, options, clients);
    await singleStream(runner, { ...options, benchmark: "transfer" }, ` with ${n} idle clients`);
    await runner.step(
      `${n} concurrent clients (RETR ${size} file)`,
      "s",
      () =>
        timeAll(context, "downloads", clients, (client) => retrieve(context, client, FILE_NAME)),
    );
    await runner.step(
      `${n} concurrent clients (STOR ${size} file)`,
      "s",
      () =>
        timeAll(
          context,
          "uploads",
          clients.map((client, i) => [client, i] as const),
          ([client, i]) => store(context, client, `ftpbench-${i}.tmp`),
        ),
    );
    await quitAll(runner, clients);
  } finally {
    for (const client of clients) client.close();
  }
}

function formatValue(row: Measurement): string {
  return row.unit === "s" ? `${row.value.toFixed(2)} secs` : `${row.value.toFixed(2)} MiB/sec`;
}

function formatMemory(bytes: number | undefined): string {
  return bytes === undefined ? "" : `${(bytes / 1048576).toFixed(1)}M`;
}

/** The result table, as the seed prints it (with a memory column when a pid was given). */
export function formatTable(rows: Measurement[], startMemory?: number): string {
  const width = Math.max(40, ...rows.map((row) => row.name.length + 2));
  const withMemory = rows.some((row) => row.memory !== undefined);
  const header = "benchmark type".padEnd(width) + "result".padEnd(18) +
    (withMemory ? "memory (rss-shared)" : "");
  const lines = [header, "-".repeat(header.length)];
  if (startMemory !== undefined) {
    lines.push("Starting with".padEnd(width + 18) + formatMemory(startMemory));
  }
  for (const row of rows) {
    lines.push(row.name.padEnd(width) + formatValue(row).padEnd(18) + formatMemory(row.memory));
  }
  return lines.join("\n");
}

/** Runs ftpbench with `args`; resolves to the exit status. */
export async function main(args: string[]): Promise<number> {
  let options: BenchOptions | null;
  try {
    options = await parseOptions(args);
    if (options) await checkOpenFileLimit(options);
  } catch (error) {
    console.error(`ftpbench: ${(error as Error).message.split("\n")[0]}`);
    return 2;
  }
  if (!options) {
    console.log(USAGE);
    return 0;
  }
  const runner = new Runner(options);
  const startMemory = await runner.memory();
  let failed = false;
  try {
    const secured = options.sslCompare &&
      { ...options, target: { ...options.target, tls: options.sslCompare } };
    if (options.benchmark === "listing") {
      await listings(runner, options);
      if (secured) await listings(runner, secured, " [PROT P]");
    } else {
      if (options.benchmark === "idle") await idle(runner, options);
      else if (options.benchmark !== "concurrence") await singleStream(runner, options);
      if (secured) await singleStream(runner, secured, "", " [PROT P]");
    }
    if (options.benchmark === "concurrence" || options.benchmark === "all") {
      await concurrence(runner, options);
    }
  } catch (error) {
    console.error(`ftpbench: ${(error as Error).message}`);
    failed = true;
  } finally {
    await cleanUp(runner.context).catch((error) =>
      console.error(`ftpbench: cleanup failed: ${error.message}`)
    );
  }
  console.log(formatTable(runner.rows, startMemory));
  if (options.json) {
    const report = {
      target: { ...options.target, password: undefined },
      fileSize: options.fileSize,
      clients: options.clients,
      startMemory,
      rows: runner.rows,
      failed,
    };
    await Deno.writeTextFile(options.json, JSON.stringify(report, null, 2) + "\n");
  }
  return failed ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));

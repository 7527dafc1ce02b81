/**
 * `compare`: benchmarks tsftpd side by side with the servers a user would pick instead
 * (pyftpdlib, vsftpd, proftpd, pure-ftpd, ftp-srv), all on this machine over loopback, with
 * `bench/ftpbench.ts`; measures the loopback ceiling too, and writes `bench/results/latest.md`,
 * `latest.json` and `latest.svg`.
 *
 * ```sh
 * deno task compare --rounds 3 --clients 300 --filesize 10M --servers tsftpd,vsftpd
 * ```
 *
 * Needs root (apt-get, a system user) on a Debian machine; peers that cannot be installed or
 * started are skipped with the reason, never failing the whole run.
 *
 * @module
 */

import $ from "dax";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { parseSize } from "../bench/ftpbench.ts";
import { type Layout, PEERS, type PreparedPeer, SkipError, SYSTEM_USER } from "./peers.ts";
import { type Ceiling, markdown, type Results, type Run, svg } from "./report.ts";

const USAGE = `Usage: deno run -A scripts/compare.ts [options]

  --rounds N          rounds; each runs every server once, in turn (default: 3)
  --clients N         clients of ftpbench's concurrence benchmarks (default: 300)
  --filesize SIZE     size of the file transferred (default: 10M)
  --benchmark TYPE    ftpbench's -b: all (default), idle, transfer, ...
  --out NAME          write bench/results/NAME.{md,json,svg} (default: latest)
  --servers A,B,...   servers to compare, the first is the baseline
                      (default: ${Object.keys(PEERS).join(",")})
  --run-timeout SECS  a run taking longer is stopped and marked failed (default: 900)
  --no-syncookies     turn net.ipv4.tcp_syncookies off during the rounds (restored after):
                      with it on, a burst of connections that overflows a small listen
                      backlog (vsftpd's is 32) strands clients without a greeting
  -h, --help          show this help
`;

const ROOT = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");
const TMP = `${ROOT}/bench/tmp`;
const LAYOUT: Layout = { root: ROOT, peers: `${TMP}/peers`, home: `${TMP}/home` };
const LOGS = `${TMP}/compare-logs`;
const RESULTS = `${ROOT}/bench/results`;
const FIRST_PORT = 7021;
const CEILING_SIZE = 1024 ** 3;

/** Starts `argv` in its own session (so its whole process tree can be signalled), output to `log`. */
function spawnSession(argv: string[], log: string, env?: Record<string, string>) {
  const script =
    'log=$1; shift; ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec setsid "$@" >"$log" 2>&1';
  return new Deno.Command("sh", {
    args: ["-c", script, "sh", log, ...argv],
    env,
    cwd: ROOT,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
}

function signalSession(pid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(-pid, signal);
  } catch {
    // already gone
  }
}

/** Resolves to `promise`'s value, or to `fallback` after `ms`. */
async function within<T, F>(promise: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<F>((resolve) => timer = setTimeout(() => resolve(fallback), ms));
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** SIGTERM to the session, SIGKILL after 10 s; then nothing of it (or its descendants) is left. */
async function stopSession(child: Deno.ChildProcess): Promise<void> {
  const tree = await processTree(child.pid);
  signalSession(child.pid, "SIGTERM");
  if (await within(child.status, 10_000, null) === null) {
    signalSession(child.pid, "SIGKILL");
    await child.status;
  }
  signalSession(child.pid, "SIGKILL");
  for (const pid of tree.slice(1)) {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

async function tail(path: string, lines = 3): Promise<string> {
  const text = await Deno.readTextFile(path).catch(() => "");
  return text.trim().split("\n").slice(-lines).join(" / ");
}

/** Waits until `port` greets with 220; throws when `child` exits first or after 30 s. */
async function waitForGreeting(port: number, child: Deno.ChildProcess, log: string) {
  let exited = false;
  child.status.then(() => exited = true);
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (exited) throw new Error(`exited before greeting: ${await tail(log)}`);
    const reply = await within(greeting(port), 2000, "");
    if (/^220 /m.test(reply)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no 220 on port ${port} within 30 s: ${await tail(log)}`);
}

async function greeting(port: number): Promise<string> {
  let conn: Deno.Conn | undefined;
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const buffer = new Uint8Array(4096);
    let text = "";
    while (!/^220 /m.test(text)) {
      const n = await conn.read(buffer);
      if (n === null) break;
      text += new TextDecoder().decode(buffer.subarray(0, n));
    }
    return text;
  } catch {
    return "";
  } finally {
    conn?.close();
  }
}

/** The first free loopback port from `from` on. */
function freePort(from: number): number {
  for (let port = from; port < from + 1000; port++) {
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
      return port;
    } catch {
      // in use
    }
  }
  throw new Error(`no free port from ${from}`);
}

/** `pid` and its descendants (vsftpd's per-client processes leave its session). */
async function processTree(pid: number): Promise<number[]> {
  const children = new Map<number, number[]>();
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const stat = await Deno.readTextFile(`/proc/${entry.name}/stat`).catch(() => "");
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    children.set(ppid, [...children.get(ppid) ?? [], Number(entry.name)]);
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) tree.push(...children.get(tree[i]) ?? []);
  return tree;
}

/** RSS minus shared, summed over `pid` and its descendants. */
async function treeMemory(pid: number): Promise<number> {
  let total = 0;
  for (const member of await processTree(pid)) {
    const status = await Deno.readTextFile(`/proc/${member}/status`).catch(() => "");
    total += Number(/^RssAnon:\s+(\d+) kB$/m.exec(status)?.[1] ?? 0) * 1024;
  }
  return total;
}

/** Samples the peak memory of `pid`'s process tree twice a second until stopped. */
function memorySampler(pid: number): { stop(): Promise<number> } {
  let peak = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      peak = Math.max(peak, await treeMemory(pid));
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return peak;
    },
  };
}

/** Empties the shared directory (and gives it to the system user, who may write there). */
async function resetHome(): Promise<void> {
  await $.path(LAYOUT.home).remove({ recursive: true }).catch(() => {});
  await $.path(LAYOUT.home).ensureDir();
  await Deno.chmod(LAYOUT.home, 0o755);
  if ((await $`id -u ${SYSTEM_USER}`.quiet().noThrow()).code === 0) {
    await $`chown ${SYSTEM_USER}: ${LAYOUT.home}`;
  }
}

interface Options {
  rounds: number;
  clients: number;
  fileSize: string;
  benchmark: string;
  out: string;
  servers: string[];
  runTimeout: number;
  noSyncookies: boolean;
}

/** One run: a fresh server, ftpbench against it, the server stopped. */
async function benchOnce(
  server: string,
  peer: PreparedPeer,
  round: number,
  port: number,
  options: Options,
): Promise<Run> {
  const started = performance.now();
  const run: Run = { server, round, port, pid: null, ok: false, seconds: 0, rows: [] };
  await resetHome();
  const serverLog = `${LOGS}/${server}-${round}.server.log`;
  const benchLog = `${LOGS}/${server}-${round}.ftpbench.log`;
  const json = `${LOGS}/${server}-${round}.json`;
  await $.path(json).remove().catch(() => {});
  const child = spawnSession(await peer.command(port), serverLog, peer.env);
  run.pid = child.pid;
  try {
    await waitForGreeting(port, child, serverLog);
    const sampler = memorySampler(child.pid);
    const bench = spawnSession(
      [
        ...["deno", "run", "-A", `${ROOT}/bench/ftpbench.ts`, "-u", peer.user, "-p", peer.password],
        ...["-H", "127.0.0.1", "-P", `${port}`],
        ...["-b", options.benchmark, "-n", `${options.clients}`],
        ...["-s", options.fileSize, "-k", `${child.pid}`, "--json", json],
      ],
      benchLog,
    );
    const status = await within(bench.status, options.runTimeout * 1000, null);
    if (status === null) await stopSession(bench);
    const report = await Deno.readTextFile(json).then(JSON.parse).catch(() => null);
    run.rows = report?.rows ?? [];
    run.startMemory = report?.startMemory;
    const readings = run.rows.map((row) => row.memory ?? 0);
    run.peakTreeMemory = Math.max(await sampler.stop(), run.startMemory ?? 0, ...readings);
    run.ok = status?.success === true && report?.failed === false;
    if (status === null) run.error = `timed out after ${options.runTimeout} s`;
    else if (!run.ok) {
      const log = await Deno.readTextFile(benchLog).catch(() => "");
      run.error = log.split("\n").filter((line) => line.startsWith("ftpbench:")).join(" / ") ||
        `ftpbench exited with ${status.code}: ${await tail(benchLog)}`;
    }
  } catch (error) {
    run.error = (error as Error).message;
  } finally {
    await stopSession(child);
  }
  run.seconds = (performance.now() - started) / 1000;
  return run;
}

const CEILING_SCRIPT = `
import json, os, socket, sys, threading, time
out, count, files = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])

def receive(conn, sink=None):
    view, total = memoryview(bytearray(1 << 20)), 0
    while n := conn.recv_into(view):
        total += n
        if sink:
            sink.write(view[:n])
    return total

def send(conn, path):
    with open(path, "rb") as f:
        return conn.sendfile(f)

def fetch(conn, path):
    return receive(conn)

def store(conn, path):
    with open(out, "wb") as f:
        return receive(conn, f)

def measure(serve, client, path, repeat):
    size = os.path.getsize(path)
    listener = socket.create_server(("127.0.0.1", 0))
    moved = []
    def server():
        for _ in range(repeat):
            conn, _ = listener.accept()
            with conn:
                moved.append(serve(conn, path))
    thread = threading.Thread(target=server)
    start = time.perf_counter()
    thread.start()
    for _ in range(repeat):
        with socket.create_connection(listener.getsockname()) as conn:
            moved.append(client(conn, path))
    thread.join()
    elapsed = time.perf_counter() - start
    listener.close()
    assert moved.count(size) == 2 * repeat, "short transfer"
    return size * repeat / 1048576 / elapsed

results = {}
for path, repeat, label in files:
    results[f"RETR, {label}"] = [measure(send, fetch, path, repeat) for _ in range(count)]
    results[f"STOR, {label}"] = [measure(store, send, path, repeat) for _ in range(count)]
os.remove(out)
print(json.dumps(results))
`;

/** A file of `size` pseudo-random bytes (written for real, not sparse), made once. */
async function ceilingFile(path: string, size: number): Promise<string> {
  if ((await Deno.stat(path).catch(() => null))?.size === size) return path;
  const block = new Uint8Array(1024 * 1024);
  let x = 0x9e3779b9;
  for (let i = 0; i < block.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    block[i] = x & 0xff;
  }
  using file = await Deno.open(path, { write: true, create: true, truncate: true });
  for (let written = 0; written < size;) {
    written += await file.write(block.subarray(0, Math.min(block.length, size - written)));
  }
  return path;
}

/**
 * The loopback ceiling, MiB/s, 3 measurements each way: a 1 GiB file, and files of the
 * benchmark's size sent over a fresh connection each, 1 GiB in all (as ftpbench repeats its
 * transfers). RETR: \`sendfile()\` to a client doing \`recv_into\` a preallocated buffer; STOR:
 * the reverse, the receiver writing each buffer into a file.
 */
async function measureCeiling(round: number, fileSize: string): Promise<Ceiling> {
  try {
    const python = await $.path("/usr/bin/python3").exists() ? "/usr/bin/python3" : "python3";
    const size = parseSize(fileSize);
    const files = [
      [await ceilingFile(`${TMP}/ceiling-1G.bin`, CEILING_SIZE), 1, "one 1 GiB file"],
      [
        await ceilingFile(`${TMP}/ceiling-${size}.bin`, size),
        Math.max(3, Math.round(CEILING_SIZE / size)),
        `${fileSize} files, a connection each`,
      ],
    ];
    const output = await $`${python} -c ${CEILING_SCRIPT} ${TMP}/ceiling-out.bin 3 ${
      JSON.stringify(files)
    }`.timeout("5m").text();
    return { round, rows: JSON.parse(output) };
  } catch (error) {
    return { round, rows: {}, error: (error as Error).message.split("\n")[0] };
  }
}

const CRYPT_SCRIPT = `
import crypt, time
hashed = crypt.crypt("bench", crypt.mksalt(crypt.METHOD_SHA512))
start = time.perf_counter()
for _ in range(200):
    crypt.crypt("bench", hashed)
print(f"{(time.perf_counter() - start) / 200 * 1000:.2f} ms of CPU (Python crypt)")
`;

/** What one SHA-512-crypt costs here: the system-user servers pay it at every login. */
async function cryptCost(): Promise<string> {
  const result = await $`/usr/bin/python3 -W ignore -c ${CRYPT_SCRIPT}`.quiet().noThrow();
  return result.code === 0 ? result.stdout.trim() : "not measured (no Python crypt module)";
}

async function machine(): Promise<Record<string, string>> {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  const meminfo = await Deno.readTextFile("/proc/meminfo").catch(() => "");
  const os = await Deno.readTextFile("/etc/os-release").catch(() => "");
  const memory = Number(/^MemTotal:\s+(\d+) kB/m.exec(meminfo)?.[1] ?? 0) * 1024;
  return {
    CPU: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? "unknown",
    cores: `${navigator.hardwareConcurrency}`,
    memory: `${(memory / 1024 ** 3).toFixed(1)} GiB`,
    kernel: `${Deno.build.os} ${Deno.osRelease()}`,
    OS: /^PRETTY_NAME="?([^"\n]+)"?$/m.exec(os)?.[1] ?? "unknown",
    "open files (hard limit)": (await $`sh -c ${"ulimit -Hn"}`.text()).trim(),
    "SHA-512-crypt of one password (5000 rounds)": await cryptCost(),
  };
}

async function toolVersion(argv: string[]): Promise<string> {
  const result = await $`${argv}`.noThrow().quiet();
  return (result.stdout + result.stderr).trim().split("\n")[0] || "not installed";
}

function parseOptions(args: string[]): Options | null {
  const { values } = parseArgs({
    args,
    options: {
      rounds: { type: "string", default: "3" },
      clients: { type: "string", default: "300" },
      filesize: { type: "string", default: "10M" },
      benchmark: { type: "string", default: "all" },
      out: { type: "string", default: "latest" },
      servers: { type: "string", default: Object.keys(PEERS).join(",") },
      "run-timeout": { type: "string", default: "900" },
      "no-syncookies": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return null;
  const positive = (name: string, text: string) => {
    if (!/^\d+$/.test(text) || Number(text) < 1) {
      throw new Error(`--${name} must be a whole number`);
    }
    return Number(text);
  };
  const servers = values.servers.split(",").map((name) => name.trim()).filter(Boolean);
  const unknown = servers.filter((name) => !(name in PEERS));
  if (unknown.length || servers.length === 0) {
    throw new Error(`unknown server(s) ${unknown.join(", ")}; known: ${Object.keys(PEERS)}`);
  }
  parseSize(values.filesize);
  if (!/^[\w.-]+$/.test(values.out)) throw new Error("--out must be a plain file name");
  return {
    rounds: positive("rounds", values.rounds),
    clients: positive("clients", values.clients),
    fileSize: values.filesize,
    benchmark: values.benchmark,
    out: values.out,
    servers,
    runTimeout: positive("run-timeout", values["run-timeout"]),
    noSyncookies: values["no-syncookies"] ?? false,
  };
}

/** The rounds: in each, the ceiling, then every server once, in order. */
async function rounds(prepared: Map<string, PreparedPeer>, options: Options) {
  const runs: Run[] = [];
  const ceilings: Ceiling[] = [];
  let port = FIRST_PORT - 1;
  for (let round = 1; round <= options.rounds; round++) {
    $.logStep(`Round ${round}/${options.rounds}`, "loopback ceiling");
    const ceiling = await measureCeiling(round, options.fileSize);
    ceilings.push(ceiling);
    for (const [label, values] of Object.entries(ceiling.rows)) {
      $.logLight(`  ${label}: ${values.map((v) => v.toFixed(0)).join(", ")} MiB/s`);
    }
    if (ceiling.error) $.logError("Ceiling", ceiling.error);
    // Each round starts with another server, and every turn starts with no dirty pages
    // (the ceiling's or the last server's uploads): else writeback decides the STOR rows.
    const peers = [...prepared];
    const first = (round - 1) % peers.length;
    const order = [...peers.slice(first), ...peers.slice(0, first)];
    for (const [name, peer] of order) {
      await $`sync`;
      port = freePort(port + 1);
      $.logStep(`Round ${round}/${options.rounds}`, `${name} on port ${port}`);
      const run = await benchOnce(name, peer, round, port, options);
      runs.push(run);
      const summary = run.rows.map((row) => `${row.value.toFixed(row.unit === "s" ? 2 : 0)}`);
      const text = `  ${run.seconds.toFixed(0)} s: ${summary.join(" ")}`;
      if (run.ok) $.logLight(text);
      else $.logError("Failed", `${name}: ${run.error}${text}`);
    }
  }
  return { runs, ceilings };
}

/** The SYN cookies switch (per network namespace). */
const SYNCOOKIES = "/proc/sys/net/ipv4/tcp_syncookies";

/** Runs `body` with SYN cookies off, restoring `saved` after (and on Ctrl-C). */
async function withoutSyncookies<T>(saved: string, body: () => Promise<T>): Promise<T> {
  const restore = () => Deno.writeTextFileSync(SYNCOOKIES, saved);
  const interrupted = () => {
    restore();
    Deno.exit(130);
  };
  Deno.writeTextFileSync(SYNCOOKIES, "0");
  Deno.addSignalListener("SIGINT", interrupted);
  try {
    return await body();
  } finally {
    Deno.removeSignalListener("SIGINT", interrupted);
    restore();
  }
}

async function main(args: string[]): Promise<number> {
  let options: Options | null;
  try {
    options = parseOptions(args);
  } catch (error) {
    console.error(`compare: ${(error as Error).message}`);
    return 2;
  }
  if (!options) {
    console.log(USAGE);
    return 0;
  }
  const started = performance.now();
  await $.path(LOGS).remove({ recursive: true }).catch(() => {});
  await $.path(LOGS).ensureDir();
  await $.path(RESULTS).ensureDir();
  await $.path(LAYOUT.peers).ensureDir();

  const prepared = new Map<string, PreparedPeer>();
  const skipped: Record<string, string> = {};
  for (const name of options.servers) {
    $.logStep("Preparing", name);
    try {
      const peer = await PEERS[name](LAYOUT);
      prepared.set(name, peer);
      $.logLight(`  ${peer.version}`);
    } catch (error) {
      const reason = error instanceof SkipError
        ? error.message
        : `setup failed: ${(error as Error).message.split("\n")[0]}`;
      skipped[name] = reason;
      $.logWarn("Skipping", `${name}: ${reason}`);
    }
  }

  const syncookies = (await Deno.readTextFile(SYNCOOKIES).catch(() => "?")).trim();
  const { runs, ceilings } = options.noSyncookies
    ? await withoutSyncookies(syncookies, () => rounds(prepared, options))
    : await rounds(prepared, options);

  const servers = [...prepared.keys()];
  const results: Results = {
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    command: ["deno", "run", "-A", "scripts/compare.ts", ...args].join(" "),
    benchCommand:
      `deno run -A bench/ftpbench.ts -u USER -p PASS -H 127.0.0.1 -P PORT -b ${options.benchmark} ` +
      `-n ${options.clients} -s ${options.fileSize} -k SERVER_PID --json FILE`,
    commit: (await $`git -C ${ROOT} describe --always --dirty`.noThrow().text()).trim(),
    runtimeSeconds: (performance.now() - started) / 1000,
    rounds: options.rounds,
    machine: {
      ...await machine(),
      "net.ipv4.tcp_syncookies": options.noSyncookies
        ? `0 during the run (--no-syncookies; the machine's setting is ${syncookies})`
        : `${syncookies} (the machine's setting)`,
    },
    syncookiesOff: options.noSyncookies,
    versions: {
      deno: Deno.version.deno,
      python3: await toolVersion(["/usr/bin/python3", "--version"]),
      node: await toolVersion(["node", "--version"]),
      ...Object.fromEntries([...prepared].map(([name, peer]) => [name, peer.version])),
      ...Object.fromEntries(Object.keys(skipped).map((name) => [name, "skipped"])),
    },
    servers,
    notes: Object.fromEntries([...prepared].map(([name, peer]) => [name, peer.notes])),
    forks: Object.fromEntries([...prepared].map(([name, peer]) => [name, peer.forks])),
    skipped,
    runs,
    ceilings,
  };
  const out = `${RESULTS}/${options.out}`;
  await Deno.writeTextFile(`${out}.json`, JSON.stringify(results, null, 2) + "\n");
  if (servers.length > 0) {
    await Deno.writeTextFile(`${out}.md`, markdown(results, `${options.out}.svg`));
    await Deno.writeTextFile(`${out}.svg`, svg(results));
    // Formatted as the repository's `deno fmt --check` expects.
    await $`deno fmt -q ${out}.md ${out}.svg`.cwd(ROOT).noThrow();
  }
  $.logStep("Wrote", `${out}.{md,json,svg} in ${(results.runtimeSeconds / 60).toFixed(1)} min`);
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));

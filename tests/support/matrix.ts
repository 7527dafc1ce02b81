/**
 * The client matrix: one real client × security × data mode × network per cell, each
 * against a real test server. {@linkcode clientMatrix} declares one test per client with
 * a step per cell; the client says how it runs a cell, or why it cannot.
 *
 * Every cell gets its own directory on the server (`src` holding {@linkcode TREE}, and an
 * empty `up`) and on the client's side (`tree` holding the same files, and `down`).
 *
 * @module
 */

import { assert, assertBytesEqual, assertEquals } from "./assert.ts";
import { testCerts } from "./certs.ts";
import { randomBytes } from "./data.ts";
import { hasIPv6Loopback } from "./ipv6.ts";
import { store, type TestServer, type TestServerOptions, withServer } from "./server.ts";

/** How the control and data connections are protected. */
export type Security = "plain" | "explicit" | "implicit";
/** The command that sets up the data connections. */
export type DataMode = "EPSV" | "PASV" | "EPRT" | "PORT";
/** The address family of the connections. */
export type Network = "IPv4" | "IPv6";

const SECURITIES: Security[] = ["plain", "explicit", "implicit"];
const MODES: DataMode[] = ["EPSV", "PASV", "EPRT", "PORT"];
const NETWORKS: Network[] = ["IPv4", "IPv6"];

/** The files every cell sends both ways: 30 files in 5 directories, 0 to 200 000 bytes. */
export const TREE: ReadonlyMap<string, Uint8Array> = (() => {
  const dirs = ["", "docs/", "docs/deep/", "media/", "media/raw/2024/"];
  const tree = new Map<string, Uint8Array>();
  for (let i = 0; i < 30; i++) {
    tree.set(
      `${dirs[i % dirs.length]}file-${i}.bin`,
      randomBytes(Math.round(200_000 * (i / 29) ** 3)),
    );
  }
  return tree;
})();

/** The file of {@linkcode TREE} that clients without a mirror command send each way (200 000 bytes). */
export const ONE_FILE = "media/raw/2024/file-29.bin";

/** One cell, as its client sees it. */
export interface Cell {
  /** The client's name. */
  client: string;
  /** How the connections are protected. */
  security: Security;
  /** The data-connection command the client is to use. */
  mode: DataMode;
  /** The address family. */
  network: Network;
  /** The server's address: `127.0.0.1` or `::1`. */
  host: string;
  /** The address as a URL writes it (`[::1]`). */
  urlHost: string;
  /** The server's port. */
  port: number;
  /** The cell's directory on the server, as an FTP path (`/explicit-EPSV-IPv4`). */
  remote: string;
  /** The cell's directory on the client's side (`tree` and `down` inside). */
  local: string;
  /** The test CA's certificate file, to verify the server against. */
  ca: string;
  /** The server. */
  server: TestServer;
  /** The server's log lines written since the cell started. */
  log(): string[];
}

/**
 * How a client does a cell: it runs it (`note` telling what part it cannot do), or it
 * cannot, and maybe tries it all the same to see the server refuse.
 */
export type Plan =
  | { run(cell: Cell): Promise<void>; note?: string }
  | { unsupported: string; attempt?(cell: Cell): Promise<void> };

/** A step's name: the cell, and what is not supported in it. */
function stepName(cell: string, plan: Plan): string {
  const note = "unsupported" in plan ? `not supported: ${plan.unsupported}` : plan.note;
  return note ? `${cell} (${note})` : cell;
}

/**
 * Declares the test of one client: a step per cell, over one server (with `options`)
 * per security and network; `plan` tells for each combination what the client does. A
 * cell the client cannot do, and does not try, is an ignored step.
 */
export function clientMatrix(
  client: string,
  plan: (security: Security, mode: DataMode, network: Network) => Plan,
  options: TestServerOptions = {},
): void {
  Deno.test(`client matrix: ${client}`, async (t) => {
    const certs = await testCerts();
    for (const network of NETWORKS) {
      for (const security of SECURITIES) {
        const plans = MODES.map((mode) => ({
          mode,
          name: `${client} ${security} ${mode} ${network}`,
          plan: plan(security, mode, network),
        }));
        if (network === "IPv6" && !hasIPv6Loopback) {
          for (const { name } of plans) {
            await t.step({ name: `${name} (skipped: no IPv6 loopback)`, ignore: true, fn() {} });
          }
          continue;
        }
        const tls = security === "plain"
          ? undefined
          : { certfile: certs.cert, keyfile: certs.key, implicit: security === "implicit" };
        const hostname = network === "IPv6" ? "::" : "127.0.0.1";
        await withServer({ ...options, tls, hostname }, async (server) => {
          for (const { mode, name, plan } of plans) {
            const cell = { client, security, mode, network, server, ca: certs.ca };
            if ("run" in plan) {
              await t.step(stepName(name, plan), () =>
                inCell(cell, async (cell) => {
                  await plan.run(cell);
                  assertCellLog(cell);
                }));
            } else if (plan.attempt) {
              const attempt = plan.attempt;
              await t.step(stepName(name, plan), () => inCell(cell, attempt));
            } else {
              await t.step({ name: stepName(name, plan), ignore: true, fn() {} });
            }
          }
        });
      }
    }
  });
}

/**
 * Sets up a cell's directories on both sides and runs `body` in it, adding the cell's
 * server log to an error; then removes the local directory.
 */
async function inCell(
  { server, ...cell }: Omit<Cell, "host" | "urlHost" | "port" | "remote" | "local" | "log">,
  body: (cell: Cell) => Promise<void>,
): Promise<void> {
  const remote = `/${cell.security}-${cell.mode}-${cell.network}`;
  await writeTree(`${server.home}${remote}/src`, store.mkdir, store.writeFile);
  await store.mkdir(`${server.home}${remote}/up`);
  await using local = await localDir();
  await writeTree(`${local.path}/tree`, Deno.mkdir, Deno.writeFile);
  await Deno.mkdir(`${local.path}/down`);
  const start = server.logs.length;
  const host = cell.network === "IPv6" ? "::1" : "127.0.0.1";
  const log = () => server.logs.slice(start);
  try {
    await body({
      ...cell,
      server,
      host,
      urlHost: cell.network === "IPv6" ? "[::1]" : host,
      port: server.port,
      remote,
      local: local.path,
      log,
    });
  } catch (error) {
    const lines = log();
    const shown = lines.length > 80 ? ["...", ...lines.slice(-80)] : lines;
    throw new Error(`${error}\n--- server log:\n${shown.join("\n")}`, { cause: error });
  }
}

/** Writes {@linkcode TREE} under `root` with the given calls (the disk's, or the test store's). */
async function writeTree(
  root: string,
  mkdir: (path: string, options: { recursive: true }) => Promise<void>,
  writeFile: (path: string, data: Uint8Array) => Promise<void>,
): Promise<void> {
  for (const [path, data] of TREE) {
    await mkdir(`${root}/${path}`.replace(/\/[^/]*$/, ""), { recursive: true });
    await writeFile(`${root}/${path}`, data);
  }
}

/** A fresh local temporary directory (the client's side), removed on disposal. */
async function localDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.realPath(await Deno.makeTempDir({ prefix: "tsftpd-matrix-" }));
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

/** The command lines the server received in `lines` (its debug log's `<- ...`). */
function commandsIn(lines: string[]): string[] {
  return lines.flatMap((line) => {
    const at = line.indexOf("] <- ");
    return at < 0 ? [] : [line.slice(at + 5)];
  });
}

/**
 * The server's replies in `lines` to the first command matching `pattern`: every reply
 * of that session until its next command.
 */
export function repliesTo(lines: string[], pattern: RegExp): string[] {
  const at = lines.findIndex((line) => {
    const command = line.indexOf("] <- ");
    return command >= 0 && pattern.test(line.slice(command + 5));
  });
  if (at < 0) return [];
  const session = lines[at].slice(lines[at].indexOf("] ") + 2, lines[at].indexOf("-["));
  const replies: string[] = [];
  for (const line of lines.slice(at + 1)) {
    if (!line.includes(`] ${session}-[`)) continue;
    const reply = line.indexOf("] -> ");
    if (line.includes("] <- ")) break;
    if (reply >= 0) replies.push(line.slice(reply + 5));
  }
  return replies;
}

/**
 * Asserts from the server's log that the cell was what it says: the data connections
 * were set up with the cell's command only, TLS was negotiated as the cell says (AUTH
 * for explicit FTPS, PROT P for both kinds), every session came from the cell's address
 * family, and no transfer was cut short.
 */
function assertCellLog(cell: Cell): void {
  const lines = cell.log();
  const commands = commandsIn(lines);
  const setups = commands.filter((command) => /^(PASV|EPSV|PORT|EPRT)\b/i.test(command));
  assert(setups.length > 0, `no data connection was set up`);
  for (const setup of setups) {
    assert(setup.toUpperCase().startsWith(cell.mode), `${setup} in a ${cell.mode} cell`);
  }
  const auth = commands.some((command) => /^AUTH (TLS|SSL)$/i.test(command));
  assertEquals(auth, cell.security === "explicit", `AUTH sent in a ${cell.security} cell`);
  const protected_ = commands.some((command) => /^PROT P$/i.test(command));
  assertEquals(protected_, cell.security !== "plain", `PROT P sent in a ${cell.security} cell`);
  const logins = lines.flatMap((line) => {
    const login = line.match(/\] (\S+):\d+-\[\w+\] USER '\w+' logged in/);
    return login ? [login[1]] : [];
  });
  assert(logins.length > 0, `nobody logged in`);
  for (const ip of logins) assertEquals(ip, cell.host, `a session from ${ip}`);
  const cut = lines.filter((line) => / completed=0 /.test(line));
  assertEquals(cut, [], `transfers cut short`);
}

/** What an external command left behind. */
export interface Output {
  /** Its exit code. */
  code: number;
  /** Its standard output. */
  stdout: string;
  /** Its standard error. */
  stderr: string;
}

const decoder = new TextDecoder();

/** Runs a program to its end (killed after two minutes), capturing its output. */
export async function run(
  program: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<Output> {
  const { code, stdout, stderr } = await new Deno.Command(program, {
    args,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(120_000),
  }).output();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}

/** Asserts that a command exited with 0; the message carries its output. */
export function assertSucceeded(output: Output, what: string): void {
  assertEquals(
    output.code,
    0,
    `${what} exited with ${output.code}\n--- stderr:\n${output.stderr}\n--- stdout:\n${output.stdout}`,
  );
}

/** The entries of a directory, by name: a file's size, or `"dir"`. */
export type Listing = Map<string, number | "dir">;

/** The entries of a LIST reply (`ls -l` lines), without `.` and `..`. */
export function parseList(text: string): Listing {
  const listing: Listing = new Map();
  for (const line of text.split(/\r?\n/)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 9) continue;
    const name = fields.slice(8).join(" ");
    if (name === "." || name === "..") continue;
    listing.set(name, line.startsWith("d") ? "dir" : Number(fields[4]));
  }
  return listing;
}

/** Asserts that `listing` is the top level of {@linkcode TREE}: its files with their sizes, its directories. */
export function assertListing(listing: Listing): void {
  const expected: Listing = new Map();
  for (const [path, data] of TREE) {
    const [first, ...rest] = path.split("/");
    expected.set(first, rest.length ? "dir" : data.length);
  }
  const sorted = (entries: Listing) => [...entries].sort(([a], [b]) => a < b ? -1 : 1);
  assertEquals(sorted(listing), sorted(expected), "the listing of src");
}

/** Every file under `root`, by path relative to it, skipping names that match `skip`. */
async function readTree(root: string, skip?: RegExp): Promise<Map<string, Uint8Array>> {
  const tree = new Map<string, Uint8Array>();
  async function walk(relative: string): Promise<void> {
    for await (const entry of Deno.readDir(`${root}${relative}`)) {
      if (skip?.test(entry.name)) continue;
      const path = `${relative}/${entry.name}`;
      if (entry.isDirectory) await walk(path);
      else tree.set(path.slice(1), await Deno.readFile(`${root}${path}`));
    }
  }
  await walk("");
  return tree;
}

/** Asserts that the cell's `down` holds exactly {@linkcode TREE}, byte for byte (ignoring names matching `skip`). */
export async function assertTreeDownloaded(cell: Cell, skip?: RegExp): Promise<void> {
  const tree = await readTree(`${cell.local}/down`, skip);
  assertEquals([...tree.keys()].sort(), [...TREE.keys()].sort(), "the files downloaded");
  for (const [path, data] of TREE) assertBytesEqual(tree.get(path)!, data, path);
}

/** Asserts that the cell's `up` on the server holds every file of {@linkcode TREE}, byte for byte. */
export async function assertTreeUploaded(cell: Cell): Promise<void> {
  for (const [path, data] of TREE) {
    assertBytesEqual(
      await store.readFile(`${cell.server.home}${cell.remote}/up/${path}`),
      data,
      path,
    );
  }
}

/** Asserts that {@linkcode ONE_FILE} arrived whole in the cell's `down` and in its `up` on the server. */
export async function assertOneFileBothWays(cell: Cell): Promise<void> {
  const data = TREE.get(ONE_FILE)!;
  assertBytesEqual(await Deno.readFile(`${cell.local}/down/file-29.bin`), data, "downloaded");
  const uploaded = await store.readFile(`${cell.server.home}${cell.remote}/up/file-29.bin`);
  assertBytesEqual(uploaded, data, "uploaded");
}

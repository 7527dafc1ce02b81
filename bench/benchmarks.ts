/**
 * The benchmarks of pyftplib's `ftpbench`, against any FTP server: single-stream
 * STOR and RETR, and the concurrence suite (many clients logging in, idling,
 * transferring and quitting). Every transfer is checked: a fast wrong answer fails.
 *
 * @module
 */

import { drain, FtpClient, send } from "./ftp_client.ts";

/** How to reach the server. */
export interface Target {
  hostname: string;
  port: number;
  user: string;
  password: string;
  /** Explicit FTPS with PROT P, verified against these CA certificates. */
  tls: { caCerts?: string[] } | null;
}

/** One line of the result table. */
export interface Measurement {
  /** The benchmark's name, as pyftplib's table words it. */
  name: string;
  /** Its value. */
  value: number;
  /** `"MiB/s"` (more is better) or `"s"` (less is better). */
  unit: "MiB/s" | "s";
  /** The server's memory (RSS minus shared, bytes) after it, when a pid was given. */
  memory?: number;
}

/** Reports progress of a long step; called at most about once a second. */
export type Progress = (message: string) => void;

/** The shared context of a benchmark run. */
export interface BenchContext {
  target: Target;
  /** Bytes of the file transferred. */
  fileSize: number;
  /** The files this run made on the server, removed by {@linkcode cleanUp}. */
  created: Set<string>;
  progress: Progress;
}

const PATTERN_SIZE = 1024 * 1024;

/** The bytes uploaded: a pseudo-random 1 MiB block, repeated (and cut) to the file size. */
function pattern(): Uint8Array {
  const block = new Uint8Array(PATTERN_SIZE);
  let x = 0x2545f491;
  for (let i = 0; i < block.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    block[i] = x & 0xff;
  }
  return block;
}

const PATTERN = pattern();

/** Uploads `size` bytes of the pattern over `conn`. */
async function sendPattern(conn: Deno.Conn, size: number): Promise<void> {
  const whole = Math.floor(size / PATTERN_SIZE);
  const tail = size % PATTERN_SIZE;
  if (tail === 0) return send(conn, PATTERN, whole);
  try {
    for (let i = 0; i < whole; i++) {
      let offset = 0;
      while (offset < PATTERN_SIZE) offset += await conn.write(PATTERN.subarray(offset));
    }
  } catch (error) {
    conn.close();
    throw error;
  }
  await send(conn, PATTERN.subarray(0, tail));
}

/** A checker of downloaded bytes against the pattern. */
function patternChecker(): { check(chunk: Uint8Array): void; readonly offset: number } {
  let offset = 0;
  return {
    check(chunk) {
      for (let i = 0; i < chunk.length; i++) {
        if (chunk[i] !== PATTERN[(offset + i) % PATTERN_SIZE]) {
          throw new Error(`downloaded byte ${offset + i} differs from what was uploaded`);
        }
      }
      offset += chunk.length;
    },
    get offset() {
      return offset;
    },
  };
}

/** Connects, secures (with `-S`) and logs in one client, in binary mode. */
export async function openClient(target: Target): Promise<FtpClient> {
  const client = await FtpClient.connect(target.port, {
    hostname: target.hostname,
    caCerts: target.tls?.caCerts,
  });
  try {
    if (target.tls) await client.startTls();
    await client.login(target.user, target.password);
    if (target.tls) await client.protectData();
    await client.expect("TYPE I", 200);
    return client;
  } catch (error) {
    client.close();
    throw error;
  }
}

/** Uploads the file as `name` and checks, with SIZE, that all of it arrived. */
export async function store(context: BenchContext, client: FtpClient, name: string): Promise<void> {
  context.created.add(name);
  await client.transfer(`STOR ${name}`, (data) => sendPattern(data, context.fileSize));
  const size = await client.expect(`SIZE ${name}`, 213);
  if (Number(size.text) !== context.fileSize) {
    throw new Error(
      `STOR ${name}: the server holds ${size.text} bytes, ${context.fileSize} were sent`,
    );
  }
}

/** Downloads `name` and checks its length (and, with `verify`, every byte). */
export async function retrieve(
  context: BenchContext,
  client: FtpClient,
  name: string,
  verify = false,
) {
  const checker = verify ? patternChecker() : null;
  const received = await client.transfer(`RETR ${name}`, (data) => drain(data, checker?.check));
  if (received !== context.fileSize) {
    throw new Error(`RETR ${name}: ${received} bytes received, ${context.fileSize} expected`);
  }
}

/** How long a single-stream benchmark repeats its transfer, at least. */
const MIN_SECONDS = 1;
/** How many transfers it makes, at least. */
const MIN_ROUNDS = 3;

/** Repeats `transfer` for at least a second and three rounds; returns MiB/s. */
async function throughput(context: BenchContext, label: string, transfer: () => Promise<void>) {
  let bytes = 0;
  let rounds = 0;
  const started = performance.now();
  while (rounds < MIN_ROUNDS || performance.now() - started < MIN_SECONDS * 1000) {
    await transfer();
    bytes += context.fileSize;
    rounds++;
    context.progress(`${label}: ${rounds} transfers`);
  }
  return bytes / 1048576 / ((performance.now() - started) / 1000);
}

/** The file the single-stream and concurrent benchmarks transfer. */
export const FILE_NAME = "ftpbench.tmp";

/** STOR (client -> server), over one client: MiB/s. */
export function benchStor(
  context: BenchContext,
  client: FtpClient,
  label: string,
): Promise<number> {
  return throughput(context, label, () => store(context, client, FILE_NAME));
}

/** RETR (server -> client), over one client: MiB/s. The first download is checked byte by byte. */
export async function benchRetr(
  context: BenchContext,
  client: FtpClient,
  label: string,
): Promise<number> {
  if (!context.created.has(FILE_NAME)) await store(context, client, FILE_NAME);
  await retrieve(context, client, FILE_NAME, true);
  return throughput(context, label, () => retrieve(context, client, FILE_NAME));
}

/**
 * Runs `task` for every item at once (or at most `inFlight` at a time); returns the
 * seconds it took, reporting progress.
 */
export async function timeAll<T>(
  context: BenchContext,
  label: string,
  items: T[],
  task: (item: T) => Promise<void>,
  inFlight = Infinity,
): Promise<number> {
  let done = 0;
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < items.length) {
      await task(items[next++]);
      done++;
      context.progress(`${label}: ${done}/${items.length}`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, items.length) }, worker));
  return (performance.now() - started) / 1000;
}

/** Removes the files a run made; failures are reported, not thrown. */
export async function cleanUp(context: BenchContext): Promise<void> {
  if (context.created.size === 0) return;
  const client = await openClient(context.target);
  try {
    for (const name of context.created) {
      const reply = await client.command(`DELE ${name}`);
      if (reply.code !== 250) {
        context.progress(`could not remove ${name}: ${reply.code} ${reply.text}`);
      }
    }
    context.created.clear();
    await client.command("QUIT");
  } finally {
    client.close();
  }
}

/**
 * A tsftpd run as a process of its own for the abuse tests (`fuzz_test.ts`,
 * `slowloris_test.ts`, `resources_test.ts`), so that what it leaks or how it dies
 * is its own: its descriptors and heap are not shared with the tests, and an
 * unhandled rejection ends it with the runtime's `Uncaught` message on stderr.
 *
 * Usage: `deno run -A --v8-flags=--expose-gc,--optimize-for-size abuse_server.ts '<ServerSpec JSON>'`.
 * It prints `{"port": N}` on stdout once it listens, its log goes to stderr, and on
 * each SIGUSR1 it collects garbage (when `gc` is exposed) and prints one
 * {@linkcode ServerStats} line. SIGTERM closes every session and ends it.
 *
 * @module
 */

import { DummyAuthorizer, FTPServer, Logger } from "../../mod.ts";

/** What the tests choose of the server. */
export interface ServerSpec {
  /** The shared directory (the user's home, writable). */
  home: string;
  /** The user's name and password. */
  user: string;
  password: string;
  /** PEM files for AUTH TLS, if any. */
  tls?: { certfile: string; keyfile: string };
  /** Control connection idle timeout, seconds. */
  timeout?: number;
  /** Seconds to wait for a data connection (and a TLS handshake). */
  dataConnectTimeout?: number;
  /** Most connections (0: no limit). */
  maxCons?: number;
}

/** What the server reports of itself on SIGUSR1. */
export interface ServerStats {
  /** Open descriptors (`/proc/self/fd`). */
  fds: number;
  /** What each open descriptor is (`socket:[N]`, `pipe:[N]`, `anon_inode:[eventfd]`, a path). */
  fdTargets: string[];
  /** Resident set size, bytes. */
  rss: number;
  /** V8 heap in use, bytes, after a full garbage collection when `gc` is exposed. */
  heapUsed: number;
  /** V8 heap reserved, bytes. */
  heapTotal: number;
  /** Memory outside the V8 heap that JavaScript objects hold (buffers), bytes. */
  external: number;
  /** Connected clients. */
  connections: number;
}

const spec: ServerSpec = JSON.parse(Deno.args[0]);
const authorizer = new DummyAuthorizer();
authorizer.addUser(spec.user, spec.password, spec.home, { perm: "elradfmwMT" });
const server = new FTPServer({
  hostname: "127.0.0.1",
  port: 0,
  authorizer,
  timeout: spec.timeout ?? 300,
  dataConnectTimeout: spec.dataConnectTimeout ?? 30,
  maxCons: spec.maxCons ?? 0,
  authFailedTimeout: 0,
  maxLoginAttempts: 1_000_000,
  tls: spec.tls,
  logger: new Logger({ level: "info" }),
});

const gc = (globalThis as { gc?: () => void }).gc;

async function stats(): Promise<ServerStats> {
  // Several collections, with turns of the event loop between them: finalizers and
  // weak callbacks free what the first one found.
  for (let i = 0; i < 3; i++) {
    gc?.();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const memory = Deno.memoryUsage();
  return {
    fds: [...Deno.readDirSync("/proc/self/fd")].length,
    fdTargets: [...Deno.readDirSync("/proc/self/fd")].map(({ name }) => {
      try {
        return Deno.readLinkSync(`/proc/self/fd/${name}`).replace(/\[\d+\]$/, "");
      } catch {
        return "(closed)";
      }
    }).sort(),
    rss: memory.rss,
    heapUsed: memory.heapUsed,
    heapTotal: memory.heapTotal,
    external: memory.external,
    connections: server.connections,
  };
}

Deno.addSignalListener("SIGUSR1", () => {
  stats().then((report) => console.log(JSON.stringify(report)));
});
const serving = server.serve();
console.log(JSON.stringify({ port: server.addr.port }));
await serving;

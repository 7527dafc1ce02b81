/**
 * The abuse tests' server: `abuse_server.ts` run as a child process with a fresh
 * home, asked for its descriptors and memory, stopped, and its log checked for
 * what must never be in it.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { assert, assertEquals } from "./assert.ts";
import type { ServerSpec, ServerStats } from "./abuse_server.ts";
import { RunningCli, START_TIMEOUT_MS } from "./cli.ts";

export type { ServerStats };

const SCRIPT = fileURLToPath(new URL("./abuse_server.ts", import.meta.url));
/** The user every abuse server has, with all permissions. */
export const USER = "user";
/** Its password: a word the log must never show. */
export const PASSWORD = "Pw-9f3a7c";

/** What a test chooses of its server (the home and the account are made here). */
export type AbuseServerOptions = Omit<ServerSpec, "home" | "user" | "password">;

/** A running abuse server. */
export class AbuseServer {
  /** The process and its log. */
  readonly running: RunningCli;
  /** Its port on 127.0.0.1. */
  port = 0;
  /** The user's home. */
  readonly home: string;
  readonly #lines: string[] = [];
  #waiting: (() => void) | null = null;

  constructor(home: string, spec: AbuseServerOptions) {
    this.home = home;
    const args = JSON.stringify({ ...spec, home, user: USER, password: PASSWORD });
    // The V8 flags of `deno task start`, and gc() to measure the heap that is in use.
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", "--v8-flags=--expose-gc,--optimize-for-size", SCRIPT, args],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.running = new RunningCli(child, (line) => {
      this.#lines.push(line);
      this.#waiting?.();
    });
  }

  /** Everything the server logged so far. */
  get log(): string {
    return this.running.log;
  }

  async #nextLine(): Promise<string> {
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (this.#lines.length === 0) {
      if (Date.now() > deadline) throw new Error(`the server did not answer:\n${this.log}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 100);
        this.#waiting = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#waiting = null;
    }
    return this.#lines.shift()!;
  }

  /** Waits for the server to listen. */
  async started(): Promise<void> {
    this.port = JSON.parse(await this.#nextLine()).port;
  }

  /** The server's descriptors and memory, after a full garbage collection. */
  async stats(): Promise<ServerStats> {
    this.running.child.kill("SIGUSR1");
    return JSON.parse(await this.#nextLine());
  }

  /** Waits until no client is connected (the server has closed every session), and reports. */
  async idle(timeoutMs = 30_000): Promise<ServerStats> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const stats = await this.stats();
      if (stats.connections === 0) return stats;
      if (Date.now() > deadline) throw new Error(`${stats.connections} sessions still open`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/**
 * Asserts that a log has no stack trace, no uncaught error, no unexpected failure
 * and no password in it.
 */
export function assertCleanLog(log: string): void {
  for (
    const [what, pattern] of [
      ["a stack trace", /^\s+at \S/m],
      ["an uncaught error", /Uncaught/],
      ["an error", /\bError:/],
      ["an unexpected failure", /failed unexpectedly/],
      ["the password", new RegExp(PASSWORD)],
    ] as const
  ) {
    const match = pattern.exec(log);
    assert(!match, `${what} in the log: ${lineAround(log, match?.index ?? 0)}`);
  }
}

function lineAround(text: string, index: number): string {
  const start = text.lastIndexOf("\n", index) + 1;
  const end = text.indexOf("\n", index);
  return text.slice(Math.max(0, start - 2000), end < 0 ? undefined : end + 2000);
}

/**
 * Runs `body` against a fresh abuse server whose home holds `files`, then stops it
 * with SIGTERM, asserts that it exited 0 and that its log is clean, and removes the home.
 */
export async function withAbuseServer(
  spec: AbuseServerOptions & { files?: Record<string, Uint8Array> },
  body: (server: AbuseServer) => Promise<void>,
): Promise<void> {
  const { files = {}, ...options } = spec;
  const home = await Deno.realPath(await Deno.makeTempDir({ prefix: "tsftpd-abuse-" }));
  const server = new AbuseServer(home, options);
  let stopped = false;
  try {
    for (const [name, bytes] of Object.entries(files)) {
      await Deno.writeFile(`${home}/${name}`, bytes);
    }
    await server.started();
    await body(server);
    const status = await server.running.stop("SIGTERM");
    stopped = true;
    assertEquals(status.code, 0, `exit status after SIGTERM; log:\n${server.log.slice(-5000)}`);
    assertCleanLog(server.log);
  } finally {
    if (!stopped) await server.running.stop("SIGKILL");
    await Deno.remove(home, { recursive: true });
  }
}

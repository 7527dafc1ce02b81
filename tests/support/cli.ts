/**
 * The `tsftpd` command line run for real as a child process: one-shot runs (with
 * standard input), and running servers whose log is read as it comes.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { assert, assertEquals } from "./assert.ts";

const MAIN = fileURLToPath(new URL("../../main.ts", import.meta.url));
/** How long a child may take to print its start-up line, or to exit. */
export const START_TIMEOUT_MS = 20_000;
const STARTUP_LINE = /^\[I [^\]]+\] >>> starting FTP server on 127\.0\.0\.1:(\d+), pid=(\d+) <<<$/m;

/**
 * How `tsftpd` is started: the program and the arguments before tsftpd's own.
 * {@linkcode DENO_RUN} unless told; the compile test passes the binary.
 */
export interface Launcher {
  program: string;
  args: string[];
}

/** `deno run --allow-all main.ts`, as `deno task start` runs it. */
export const DENO_RUN: Launcher = { program: Deno.execPath(), args: ["run", "--allow-all", MAIN] };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** What a one-shot run ended with. */
export interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `tsftpd args` to its end, with `stdin` as its standard input (none if not given). */
export async function runCli(
  args: string[],
  options: { cwd?: string; stdin?: string; launcher?: Launcher } = {},
): Promise<Outcome> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), START_TIMEOUT_MS);
  const launcher = options.launcher ?? DENO_RUN;
  try {
    const child = new Deno.Command(launcher.program, {
      args: [...launcher.args, ...args],
      cwd: options.cwd,
      stdin: options.stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
      signal: controller.signal,
    }).spawn();
    if (options.stdin !== undefined) {
      const writer = child.stdin.getWriter();
      await writer.write(encoder.encode(options.stdin)).catch(() => {});
      await writer.close().catch(() => {});
    }
    const output = await child.output();
    assert(!controller.signal.aborted, `tsftpd ${args.join(" ")} did not exit in time`);
    return {
      code: output.code,
      stdout: decoder.decode(output.stdout),
      stderr: decoder.decode(output.stderr),
    };
  } finally {
    clearTimeout(timer);
  }
}

/** A running `tsftpd`, its log (stderr) collected as it comes. */
export class RunningCli {
  readonly child: Deno.ChildProcess;
  /** The port it listens on. */
  port = 0;
  #log = "";
  #ended = false;
  readonly #drained: Promise<void>;

  constructor(child: Deno.ChildProcess) {
    this.child = child;
    const stdout = child.stdout.pipeTo(new WritableStream());
    const stderr = (async () => {
      const streaming = new TextDecoder();
      for await (const chunk of child.stderr) {
        this.#log += streaming.decode(chunk, { stream: true });
      }
      this.#ended = true;
    })();
    this.#drained = Promise.all([stdout, stderr]).then(() => {});
  }

  /** Everything logged so far. */
  get log(): string {
    return this.#log;
  }

  /** Resolves once the log matches `pattern` (after `from` characters); throws, with the log, if it does not in time. */
  async waitForLog(pattern: RegExp | string, from = 0): Promise<void> {
    const matches = () => {
      const text = this.#log.slice(from);
      return typeof pattern === "string" ? text.includes(pattern) : pattern.test(text);
    };
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (!matches()) {
      if (this.#ended || Date.now() > deadline) {
        throw new Error(
          `${this.#ended ? "tsftpd exited" : "timed out"} before logging ${pattern}:\n${this.#log}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** Sends `signal`, waits for the exit (SIGKILL if it does not come) and returns the status. */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<Deno.CommandStatus> {
    try {
      this.child.kill(signal);
    } catch {
      // Already exited.
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<null>((resolve) =>
      timer = setTimeout(resolve, START_TIMEOUT_MS, null)
    );
    let status = await Promise.race([this.child.status, late]);
    clearTimeout(timer);
    if (status === null) {
      this.child.kill("SIGKILL");
      status = await this.child.status;
    }
    await this.#drained;
    return status;
  }
}

/**
 * Starts `tsftpd -i 127.0.0.1 -p 0 args` in `cwd`, without waiting for anything;
 * `launcher` starts it ({@linkcode DENO_RUN} unless told).
 */
export function spawnCli(args: string[], cwd: string, launcher: Launcher = DENO_RUN): RunningCli {
  return new RunningCli(
    new Deno.Command(launcher.program, {
      args: [...launcher.args, "-i", "127.0.0.1", "-p", "0", ...args],
      cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn(),
  );
}

/**
 * Starts `tsftpd -i 127.0.0.1 -p 0 args` in `cwd`, waits for its start-up lines,
 * runs `body`, then stops it with SIGTERM and asserts it exited 0. Returns the log.
 * `launcher` starts it ({@linkcode DENO_RUN} unless told).
 */
export async function withCli(
  args: string[],
  cwd: string,
  body: (running: RunningCli) => Promise<void>,
  launcher: Launcher = DENO_RUN,
): Promise<string> {
  const running = spawnCli(args, cwd, launcher);
  let stopped = false;
  try {
    await running.waitForLog(STARTUP_LINE);
    await running.waitForLog(/^\[I [^\]]+\] passive ports: .*$/m);
    running.port = Number(STARTUP_LINE.exec(running.log)![1]);
    await body(running);
    const status = await running.stop("SIGTERM");
    stopped = true;
    assertEquals(status.code, 0, `exit status after SIGTERM; log:\n${running.log}`);
    assert(!/^ {4}at /m.test(running.log), `a stack trace was logged:\n${running.log}`);
    return running.log;
  } finally {
    if (!stopped) await running.stop("SIGKILL");
  }
}

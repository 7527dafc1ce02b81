/**
 * {@linkcode processRole}: what a server does in this process when asked for
 * several workers: supervise them (the process the operator started), serve as
 * one of them, or (one worker, or a system that cannot share a port) serve alone.
 *
 * @module
 */

import { Logger, type LogLevel, type LogRecord } from "../log.ts";
import { nextServerNumber, type WorkerRole, workerRole, WorkersUnavailable } from "./role.ts";
import { Supervisor } from "./supervisor.ts";
import { type WorkerLink, workerLink } from "./worker_link.ts";

/** The part a server plays when it runs on several processes. */
export type ProcessRole =
  | { kind: "supervisor"; supervisor: Supervisor }
  | { kind: "worker"; role: WorkerRole; link: WorkerLink; server: number };

/** How many workers `workers` asks for: itself, or one per core for 0 and `"auto"`. */
export function workerCount(workers: number | "auto"): number {
  if (workers === "auto" || workers === 0) return navigator.hardwareConcurrency || 1;
  if (!Number.isInteger(workers) || workers < 0) {
    throw new RangeError(`workers must be a whole number or "auto", not ${workers}`);
  }
  return workers;
}

let supervisor: Supervisor | undefined;

/**
 * The role of a server made with `workers` in this process, or `null` when it
 * serves alone: one worker asked for, or (with a `warn`ing) a system other than
 * Linux, where `SO_REUSEPORT` does not spread connections among processes.
 * Throws {@linkcode WorkersUnavailable} when the runtime lacks what workers need.
 */
export function processRole(
  workers: number | "auto",
  warn: (message: string) => void,
): ProcessRole | null {
  const count = workerCount(workers);
  if (count <= 1) return null;
  const role = workerRole();
  if (role) return { kind: "worker", role, link: workerLink(role), server: nextServerNumber() };
  if (Deno.build.os !== "linux") {
    warn(
      `${count} workers need Linux (SO_REUSEPORT spreading connections among processes); ` +
        `serving in one process on ${Deno.build.os}`,
    );
    return null;
  }
  if (!("listenDatagram" in Deno)) {
    throw new WorkersUnavailable(
      'workers share the listening socket with Deno.listen({ reusePort: true }), which needs --unstable-net (or "unstable": ["net"] in deno.json)',
    );
  }
  if (supervisor && supervisor.count !== count) {
    throw new WorkersUnavailable(
      `every server of a program runs on the same workers: ${supervisor.count} asked before, ${count} now`,
    );
  }
  try {
    supervisor ??= new Supervisor(count);
  } catch (error) {
    throw new WorkersUnavailable(
      `the supervisor reads its own command line (/proc/self/cmdline) to start the workers, ` +
        `which needs --allow-all: ${(error as Error).message}`,
    );
  }
  return { kind: "supervisor", supervisor };
}

/** A logger that writes through `logger`, each line's text after `[worker N]` (in JSON, with a `worker` field). */
export function workerLogger(logger: Logger, worker: number): Logger {
  return new (class extends Logger {
    override enabled(level: LogLevel): boolean {
      return logger.enabled(level);
    }
    override write(record: Omit<LogRecord, "time">): void {
      const tag = `[worker ${worker}]`;
      const prefix = record.prefix === undefined ? tag : `${tag} ${record.prefix}`;
      logger.write({ ...record, prefix, fields: { ...record.fields, worker } });
    }
  })();
}

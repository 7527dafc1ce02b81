/**
 * Which part a process plays when a server runs on several processes: the
 * supervisor (the process the operator started), or one of its workers (a copy
 * of the same program the supervisor started, told so by its environment).
 *
 * @module
 */

/** The environment variable through which the supervisor tells a worker what it is. */
export const WORKER_ENV = "TSFTPD_WORKER";
/** The prefix of the environment variables {@linkcode sharedWithWorkers} hands values through. */
const SHARED_ENV_PREFIX = "TSFTPD_SHARED_";

/** Workers cannot run as asked: a permission or flag is missing, or a worker could not start. */
export class WorkersUnavailable extends Error {
  /** Always `"WorkersUnavailable"`. */
  override name = "WorkersUnavailable";
}

/** What the supervisor tells a worker. */
export interface WorkerRole {
  /** This worker's number, from 1. */
  index: number;
  /** How many workers there are. */
  count: number;
  /** The supervisor's unix socket. */
  socket: string;
  /** The port of each server the program makes with workers, in the order it makes them. */
  ports: number[];
}

let role: WorkerRole | null | undefined;

/** This process's worker role, or `null` in any other process. */
export function workerRole(): WorkerRole | null {
  if (role !== undefined) return role;
  const granted = Deno.permissions.querySync({ name: "env", variable: WORKER_ENV });
  const text = granted.state === "granted" ? Deno.env.get(WORKER_ENV) : undefined;
  role = text === undefined ? null : JSON.parse(text) as WorkerRole;
  return role;
}

/**
 * Whether this process is a worker started by a server's supervisor (the
 * `workers` option): the program runs again in each worker, so what must happen
 * once (creating files, printing a greeting) goes behind `if (!isWorker())`.
 */
export function isWorker(): boolean {
  return workerRole() !== null;
}

let serversMade = 0;

/** The number of the next server made with workers in this process: 0, 1, ... (the same in every process). */
export function nextServerNumber(): number {
  return serversMade++;
}

/**
 * `make()`'s value, computed once for the supervisor and all its workers: the
 * supervisor (or a process without workers) computes it and hands it to the
 * workers it starts later through their environment; a worker reads it back. For
 * what must be the same everywhere but is not deterministic: a generated
 * certificate, a random secret. `key` names it (letters, digits, `_`); the value
 * must survive `JSON.stringify`.
 */
export async function sharedWithWorkers<T>(key: string, make: () => T | Promise<T>): Promise<T> {
  const name = SHARED_ENV_PREFIX + key;
  if (isWorker()) {
    const text = Deno.env.get(name);
    if (text === undefined) throw new Error(`the supervisor shared no ${key} with its workers`);
    return JSON.parse(text) as T;
  }
  const value = await make();
  if (Deno.permissions.querySync({ name: "env", variable: name }).state === "granted") {
    Deno.env.set(name, JSON.stringify(value));
  }
  return value;
}

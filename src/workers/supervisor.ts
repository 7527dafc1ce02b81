/**
 * {@linkcode Supervisor}: the process the operator started, when a server runs on
 * several processes. It starts the workers (copies of this same program), keeps
 * the connection counts for all of them, restarts a worker that dies, and stops
 * them all on SIGINT or SIGTERM. It serves no client itself.
 *
 * @module
 */

import { join } from "node:path";
import { ConnectionCounts, type ConnectionLimits, UNLIMITED } from "../connection_limits.ts";
import type { Logger } from "../log.ts";
import { MemoryBanStore } from "../defender/ban_store.ts";
import {
  type BanCall,
  MessageChannel,
  type SupervisorMessage,
  type WorkerMessage,
} from "./channel.ts";
import { WORKER_ENV, type WorkerRole, WorkersUnavailable } from "./role.ts";

/** What the supervisor needs of each server it runs workers for. */
export interface SupervisedServer {
  /** The port every worker listens on (shared with `SO_REUSEPORT`). */
  readonly port: number;
  /** The limits that hold across all workers, read at each connection. */
  readonly limits: ConnectionLimits;
  /** Where the supervisor's log lines go. */
  readonly logger: Logger;
  /** A worker listens on the port: the supervisor's own socket on it can close. */
  onListening(): void;
  /** Every worker listens: the server is up. */
  onStarted(): void;
}

/** How the supervisor runs: {@linkcode ServeOptions} of the server. */
export interface SuperviseOptions {
  /** Stop every worker on SIGINT or SIGTERM. */
  handleExit: boolean;
  /** Stop every worker when this aborts. */
  signal?: AbortSignal;
}

interface WorkerSlot {
  /** The worker's number, from 1. */
  readonly index: number;
  child: Deno.ChildProcess | null;
  channel: MessageChannel<WorkerMessage, SupervisorMessage> | null;
  /** The servers (by number) listening in this worker. */
  readonly listening: Set<number>;
  /** The connections this worker was admitted, by server number. */
  held: ConnectionCounts[];
  startedAt: number;
  /** Deaths in a row, each soon after its start. */
  failures: number;
  restart: ReturnType<typeof setTimeout> | undefined;
}

/** The first pause before a dead worker is started again; it doubles with each quick death. */
const RESTART_DELAY_MS = 100;
/** The longest pause before a restart. */
const MAX_RESTART_DELAY_MS = 30_000;
/** A worker that served this long before dying is restarted after the first pause again. */
const STABLE_MS = 60_000;
/** How long workers may take to close their sessions and end before they are killed. */
const STOP_GRACE_MS = 10_000;

/** The arguments this process was started with, to start a worker the same way. */
export function ownArguments(): string[] {
  const argv = Deno.readTextFileSync("/proc/self/cmdline").split("\0");
  // The program is Deno.execPath(): argv[0] may name a shim or a relative path.
  return argv.slice(1, argv.at(-1) === "" ? -1 : undefined);
}

/**
 * Starts `count` workers, copies of this program (the same executable and
 * arguments, `WORKER_ENV` set), for the servers registered with it; every server
 * of the program is registered before it starts them (at the first `serve`).
 */
export class Supervisor {
  readonly #count: number;
  readonly #args: string[];
  readonly #servers: SupervisedServer[] = [];
  readonly #counts: ConnectionCounts[] = [];
  /** The defender's scores and bans, for every worker (`SupervisorBanStore` is their end). */
  readonly #bans = new MemoryBanStore();
  readonly #slots: WorkerSlot[];
  readonly #done = Promise.withResolvers<void>();
  #running: Promise<void> | null = null;
  #socket = "";
  #started = false;
  /** How the workers are being ended, once they are: `drain` lets their sessions finish. */
  #ending: "drain" | "stop" | null = null;
  #grace: ReturnType<typeof setTimeout> | undefined;
  #failure: Error | null = null;

  /** A supervisor of `count` workers, each started with `args` (default: this process's own). */
  constructor(count: number, args: string[] = ownArguments()) {
    this.#count = count;
    this.#args = args;
    this.#slots = Array.from({ length: count }, (_, i) => ({
      index: i + 1,
      child: null,
      channel: null,
      listening: new Set<number>(),
      held: [],
      startedAt: 0,
      failures: 0,
      restart: undefined,
    }));
  }

  /** How many workers it runs. */
  get count(): number {
    return this.#count;
  }

  /** Adds a server; returns its number (its place among the program's servers with workers). */
  register(server: SupervisedServer): number {
    this.#servers.push(server);
    this.#counts.push(new ConnectionCounts());
    return this.#servers.length - 1;
  }

  /**
   * Starts the workers (once, for every server registered by then) and resolves
   * when they have all stopped; rejects with a `WorkersUnavailable` when one ends
   * before every worker listens.
   */
  serve(options: SuperviseOptions): Promise<void> {
    options.signal?.addEventListener("abort", () => void this.stop(), { once: true });
    if (options.signal?.aborted) void this.stop();
    // A macrotask later: the program's other servers are registered by then.
    this.#running ??= new Promise((resolve) => setTimeout(resolve, 0))
      .then(() => this.#run(options.handleExit));
    return this.#running;
  }

  /** Asks every worker to close its sessions and end; resolves once all have. */
  stop(): Promise<void> {
    return this.#end("stop");
  }

  /** Asks every worker to stop accepting clients and to end once its sessions have; resolves once all have. */
  drain(): Promise<void> {
    return this.#end("drain");
  }

  get #stopping(): boolean {
    return this.#ending !== null;
  }

  #end(how: "drain" | "stop"): Promise<void> {
    const ended = this.#done.promise.catch(() => {});
    if (this.#ending === "stop" || this.#ending === how) return ended;
    const first = this.#ending === null;
    this.#ending = how;
    if (!this.#running) this.#done.resolve();
    else {
      this.#logger.info(`${how === "stop" ? "stopping" : "draining"} ${this.#count} workers`);
      this.#tellWorkers(how);
      if (first) void this.#awaitWorkers();
    }
    return ended;
  }

  get #logger(): Logger {
    return this.#servers[0].logger;
  }

  async #run(handleExit: boolean): Promise<void> {
    if (this.#stopping) return;
    const dir = Deno.makeTempDirSync({ prefix: "tsftpd-workers-" });
    this.#socket = join(dir, "supervisor.sock");
    const ipc = Deno.listen({ transport: "unix", path: this.#socket });
    const accepting = this.#acceptWorkers(ipc);
    using _exit = handleExit ? this.#stopOnExitSignals() : null;
    using _hangup = this.#forwardHangup();
    try {
      for (const slot of this.#slots) this.#spawn(slot);
      await this.#done.promise;
    } finally {
      ipc.close();
      await accepting;
      Deno.removeSync(dir, { recursive: true });
    }
  }

  #spawn(slot: WorkerSlot): void {
    const role: WorkerRole = {
      index: slot.index,
      count: this.#count,
      socket: this.#socket,
      ports: this.#servers.map((server) => server.port),
    };
    slot.held = this.#servers.map(() => new ConnectionCounts());
    slot.startedAt = Date.now();
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(Deno.execPath(), {
        args: this.#args,
        env: { [WORKER_ENV]: JSON.stringify(role) },
        stdin: "null",
        stdout: "inherit",
        stderr: "inherit",
      }).spawn();
    } catch (error) {
      return this.#died(slot, `could not start: ${(error as Error).message}`);
    }
    slot.child = child;
    this.#logger.debug(`worker ${slot.index} started, pid=${child.pid}`);
    child.status.then((status) => this.#exited(slot, child, status));
  }

  #exited(slot: WorkerSlot, child: Deno.ChildProcess, status: Deno.CommandStatus): void {
    if (slot.child !== child) return;
    slot.child = null;
    this.#disconnect(slot);
    if (this.#stopping) return;
    const how = status.signal
      ? `was killed by ${status.signal}`
      : `exited with status ${status.code}`;
    this.#died(slot, `(pid ${child.pid}) ${how}`);
  }

  /** A worker is gone while the server runs: it is started again, or, before the server was up, everything stops. */
  #died(slot: WorkerSlot, what: string): void {
    if (!this.#started) {
      this.#failure = new WorkersUnavailable(
        `worker ${slot.index} ${what} before the server was up`,
      );
      this.#logger.error(this.#failure.message);
      void this.stop();
      return;
    }
    const lived = Date.now() - slot.startedAt;
    slot.failures = lived >= STABLE_MS ? 0 : slot.failures + 1;
    const delay = Math.min(MAX_RESTART_DELAY_MS, RESTART_DELAY_MS * 2 ** (slot.failures - 1));
    this.#logger.error(`worker ${slot.index} ${what}; starting it again in ${delay} ms`);
    slot.restart = setTimeout(() => {
      slot.restart = undefined;
      if (!this.#stopping) this.#spawn(slot);
    }, delay);
  }

  /** Sends every worker `how` (one not connected yet is sent SIGTERM); after a stop, kills those still there after a while. */
  #tellWorkers(how: "drain" | "stop"): void {
    for (const slot of this.#slots) {
      clearTimeout(slot.restart);
      if (slot.channel) slot.channel.send({ type: how });
      else tryKill(slot.child, "SIGTERM");
    }
    if (how === "drain") return;
    this.#grace = setTimeout(() => {
      for (const slot of this.#slots) {
        if (!slot.child) continue;
        this.#logger.warning(`worker ${slot.index} did not end in time: killing it`);
        tryKill(slot.child, "SIGKILL");
      }
    }, STOP_GRACE_MS);
  }

  /** Resolves (or rejects, after a failed start) once every worker has ended. */
  async #awaitWorkers(): Promise<void> {
    await Promise.all(this.#slots.map((slot) => slot.child?.status));
    clearTimeout(this.#grace);
    if (this.#failure) this.#done.reject(this.#failure);
    else this.#done.resolve();
  }

  async #acceptWorkers(ipc: Deno.UnixListener): Promise<void> {
    const talks = new Set<Promise<void>>();
    try {
      for await (const conn of ipc) {
        const talk = this.#talk(new MessageChannel(conn));
        talks.add(talk);
        talk.finally(() => talks.delete(talk));
      }
    } catch {
      // The listener is closed.
    }
    await Promise.all(talks);
  }

  /** Runs a worker's call on the defender's store, the one all workers share. */
  #callBans(call: BanCall): Promise<unknown> {
    const store = this.#bans;
    switch (call.method) {
      case "addPoints":
        return store.addPoints(...call.args);
      case "get":
        return store.get(...call.args);
      case "put":
        return store.put(...call.args);
      case "delete":
        return store.delete(...call.args);
      case "list":
        return store.list(...call.args);
    }
  }

  /** Answers one worker until its connection ends. */
  async #talk(channel: MessageChannel<WorkerMessage, SupervisorMessage>): Promise<void> {
    let slot: WorkerSlot | undefined;
    for await (const message of channel) {
      if (message.type === "hello") {
        slot = this.#slots[message.worker - 1];
        if (!slot || slot.child?.pid !== message.pid) break;
        slot.channel = channel;
        if (this.#ending) channel.send({ type: this.#ending });
      } else if (!slot || slot.channel !== channel) break;
      else if (message.type === "listening") this.#listening(slot, message.server);
      else if (message.type === "admit") {
        const server = this.#servers[message.server];
        const refusal = this.#counts[message.server].admit(message.ip, server.limits);
        if (refusal === null) slot.held[message.server].admit(message.ip, UNLIMITED);
        channel.send({ type: "admit", id: message.id, refusal });
      } else if (message.type === "release") {
        this.#counts[message.server].release(message.ip);
        slot.held[message.server].release(message.ip);
      } else if (message.type === "bans") {
        void this.#callBans(message.call).then(
          (result) => channel.send({ type: "bans", id: message.id, result }),
          (error) => channel.send({ type: "bans", id: message.id, error: String(error) }),
        );
      }
    }
    if (slot?.channel === channel) this.#disconnect(slot);
    channel.close();
  }

  #listening(slot: WorkerSlot, server: number): void {
    slot.listening.add(server);
    this.#servers[server].onListening();
    const everyone = this.#slots.every((s) => s.listening.size === this.#servers.length);
    if (slot.listening.size === this.#servers.length && this.#started) {
      this.#logger.info(`worker ${slot.index} (pid ${slot.child?.pid}) serving again`);
    } else if (everyone && !this.#started) {
      this.#started = true;
      for (const s of this.#servers) s.onStarted();
    }
  }

  /** Forgets a worker's connection and the client connections it was admitted. */
  #disconnect(slot: WorkerSlot): void {
    slot.channel?.close();
    slot.channel = null;
    slot.listening.clear();
    slot.held.forEach((held, server) => {
      for (const [ip, count] of held.entries()) this.#counts[server].release(ip, count);
    });
    slot.held = this.#servers.map(() => new ConnectionCounts());
  }

  #stopOnExitSignals(): Disposable {
    const stop = () => {
      this.#logger.info("received an exit signal: stopping every worker.");
      void this.stop();
    };
    Deno.addSignalListener("SIGINT", stop);
    Deno.addSignalListener("SIGTERM", stop);
    return {
      [Symbol.dispose]: () => {
        Deno.removeSignalListener("SIGINT", stop);
        Deno.removeSignalListener("SIGTERM", stop);
      },
    };
  }

  /** Passes SIGHUP (re-read the users file, ...) on to every worker, until disposed. */
  #forwardHangup(): Disposable {
    const forward = () => {
      for (const slot of this.#slots) tryKill(slot.child, "SIGHUP");
    };
    Deno.addSignalListener("SIGHUP", forward);
    return { [Symbol.dispose]: () => Deno.removeSignalListener("SIGHUP", forward) };
  }
}

function tryKill(child: Deno.ChildProcess | null, signal: Deno.Signal): void {
  try {
    child?.kill(signal);
  } catch {
    // Already gone.
  }
}

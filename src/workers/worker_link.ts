/**
 * {@linkcode WorkerLink}: a worker's line to its supervisor, which admits its
 * clients (the connection limits hold across all workers) and tells it when to
 * stop. A worker whose supervisor is gone stops too.
 *
 * @module
 */

import type { ConnectionRefusal } from "../metrics.ts";
import {
  type BanCall,
  MessageChannel,
  type SupervisorMessage,
  type WorkerMessage,
} from "./channel.ts";
import type { WorkerRole } from "./role.ts";

/** A server as its worker's link sees it. */
export interface LinkedServer {
  /** Stops accepting clients; connected ones are served to the end. */
  close(): void;
  /** Disconnects every client and resolves once every session has ended. */
  closeAll(): Promise<void>;
}

/** Whether a client may be served: `null`, or the limit it is over, or `"stopping"` (the worker is). */
export type Admission = ConnectionRefusal | "stopping" | null;

/** A worker's connection to its supervisor; one per worker process (see {@linkcode workerLink}). */
export class WorkerLink {
  readonly #role: WorkerRole;
  readonly #servers = new Set<LinkedServer>();
  readonly #waiting = new Map<number, (admission: Admission) => void>();
  readonly #banCalls = new Map<
    number,
    { resolve(result: unknown): void; reject(error: Error): void }
  >();
  readonly #channel: Promise<MessageChannel<SupervisorMessage, WorkerMessage> | null>;
  #nextId = 0;
  #stopping = false;
  #closed = false;

  /** Connects to the supervisor `role` names. */
  constructor(role: WorkerRole) {
    this.#role = role;
    this.#channel = this.#connect();
    // The supervisor passes SIGHUP on to every worker: it must not end one that has
    // no use for it. SIGINT (a terminal's Ctrl-C reaches every process of the group)
    // is the supervisor's, which then stops the workers in order. A signal listener
    // does not keep the process alive.
    Deno.addSignalListener("SIGHUP", () => {});
    Deno.addSignalListener("SIGINT", () => {});
  }

  async #connect(): Promise<MessageChannel<SupervisorMessage, WorkerMessage> | null> {
    let conn: Deno.UnixConn;
    try {
      conn = await Deno.connect({ transport: "unix", path: this.#role.socket });
    } catch {
      this.#stop();
      return null;
    }
    const channel = new MessageChannel<SupervisorMessage, WorkerMessage>(conn);
    channel.send({ type: "hello", worker: this.#role.index, pid: Deno.pid });
    void this.#listen(channel);
    return channel;
  }

  async #listen(channel: MessageChannel<SupervisorMessage, WorkerMessage>): Promise<void> {
    for await (const message of channel) {
      if (message.type === "stop") this.#stop();
      else if (message.type === "drain") this.#drain();
      else if (message.type === "bans") {
        const call = this.#banCalls.get(message.id);
        this.#banCalls.delete(message.id);
        if (message.error === undefined) call?.resolve(message.result);
        else call?.reject(new Error(`the supervisor's ban store failed: ${message.error}`));
      } else {
        this.#waiting.get(message.id)?.(message.refusal);
        this.#waiting.delete(message.id);
      }
    }
    // The supervisor is gone (or told us to stop and we are closing).
    this.#stop();
  }

  async #send(message: WorkerMessage): Promise<void> {
    (await this.#channel)?.send(message);
  }

  /** Tells the supervisor that server number `server` listens. */
  listening(server: number): void {
    void this.#send({ type: "listening", server });
  }

  /** Asks whether server number `server` may serve a client from `ip`. */
  async admit(server: number, ip: string): Promise<Admission> {
    if (this.#stopping) return "stopping";
    const id = this.#nextId++;
    const answer = new Promise<Admission>((resolve) => this.#waiting.set(id, resolve));
    await this.#send({ type: "admit", id, server, ip });
    return answer;
  }

  /** Makes `call` on the defender's store the supervisor holds; resolves to its result. */
  async callBans(call: BanCall): Promise<unknown> {
    if (this.#closed) throw new Error("the supervisor is gone");
    const id = this.#nextId++;
    const answer = new Promise<unknown>((resolve, reject) =>
      this.#banCalls.set(id, { resolve, reject })
    );
    await this.#send({ type: "bans", id, call });
    return answer;
  }

  /** Tells the supervisor that a client of server number `server` from `ip`, admitted before, left. */
  release(server: number, ip: string): void {
    if (!this.#stopping) void this.#send({ type: "release", server, ip });
  }

  /**
   * Closes `server`'s sessions when the supervisor says stop (or is gone), until
   * disposed; once no server is attached after a stop, the link closes.
   */
  attach(server: LinkedServer): Disposable {
    this.#servers.add(server);
    if (this.#stopping) void server.closeAll();
    return {
      [Symbol.dispose]: () => {
        this.#servers.delete(server);
        if (this.#stopping && this.#servers.size === 0) void this.#close();
      },
    };
  }

  /** Every server stops accepting; the link closes once none is attached. */
  #drain(): void {
    if (this.#stopping) return;
    this.#stopping = true;
    for (const server of this.#servers) server.close();
    if (this.#servers.size === 0) void this.#close();
  }

  #stop(): void {
    if (this.#closed) return;
    this.#stopping = true;
    for (const resolve of this.#waiting.values()) resolve("stopping");
    this.#waiting.clear();
    for (const call of this.#banCalls.values()) call.reject(new Error("the supervisor is gone"));
    this.#banCalls.clear();
    for (const server of this.#servers) void server.closeAll();
    if (this.#servers.size === 0) void this.#close();
  }

  async #close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    (await this.#channel)?.close();
  }
}

let link: WorkerLink | undefined;

/** This worker's link to its supervisor, connected at the first call. */
export function workerLink(role: WorkerRole): WorkerLink {
  link ??= new WorkerLink(role);
  return link;
}

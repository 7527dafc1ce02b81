/**
 * {@linkcode SessionRegistry}: the logged-in sessions of every node, in the
 * shared database, so that a user's most-sessions limit holds across nodes. Each
 * node beats a heartbeat; the sessions of a node whose heartbeat stopped (killed)
 * stop counting after `staleAfter` seconds and are then removed.
 *
 * @module
 */

import { LoginRefused } from "../auth/authorizer.ts";
import type { Sql } from "./database.ts";

/** Options of a {@linkcode SessionRegistry}. */
export interface SessionRegistryOptions {
  /** This node's name, unique among the nodes (default: host name, process id and a random part). */
  node?: string;
  /** Seconds between heartbeats (default 10). */
  heartbeat?: number;
  /** Seconds after its last heartbeat that a node's sessions stop counting (default 3 heartbeats). */
  staleAfter?: number;
  /** Hears how each heartbeat went: `null` when it reached the database, else the error. */
  onHeartbeat?: (error: unknown) => void;
}

/** This node's sessions in the shared database. */
export class SessionRegistry implements AsyncDisposable {
  /** This node's name. */
  readonly node: string;
  readonly #sql: Sql;
  readonly #heartbeatMs: number;
  readonly #staleSeconds: number;
  readonly #onHeartbeat: (error: unknown) => void;
  /** The ids of this node's sessions that are open. */
  readonly #open = new Set<string>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #beating: Promise<void> = Promise.resolve();
  #registered = false;

  /** The registry of the database `sql` connects to; call {@linkcode start}. */
  constructor(sql: Sql, options: SessionRegistryOptions = {}) {
    this.#sql = sql;
    this.node = options.node ??
      `${Deno.hostname()}/${Deno.pid}/${crypto.randomUUID().slice(0, 8)}`;
    const heartbeat = options.heartbeat ?? 10;
    this.#heartbeatMs = heartbeat * 1000;
    this.#staleSeconds = options.staleAfter ?? heartbeat * 3;
    this.#onHeartbeat = options.onHeartbeat ?? (() => {});
  }

  /** Starts the heartbeat (the first one at once). */
  start(): void {
    if (this.#timer !== undefined) return;
    this.#beat();
    this.#timer = setInterval(() => this.#beat(), this.#heartbeatMs);
  }

  /**
   * Counts a session of `username` from `client`: refused with
   * {@linkcode LoginRefused} when the user already has `max` sessions across the
   * nodes (0: no limit). Resolves to the session's id for {@linkcode end}.
   */
  async open(username: string, max: number, client: string): Promise<string> {
    if (!this.#registered) await this.#register();
    const stale = this.#staleSeconds;
    const id = await this.#sql.begin(async (tx) => {
      await tx`select pg_advisory_xact_lock(hashtext('tsftpd user ' || ${username}))`;
      if (max > 0) {
        const [{ count }] = await tx<{ count: number }[]>`
          select count(*)::int as count from tsftpd_sessions s join tsftpd_nodes n on n.id = s.node
          where s.username = ${username}
            and n.heartbeat > now() - make_interval(secs => ${stale})`;
        if (count >= max) {
          throw new LoginRefused(
            `${count} session${count === 1 ? "" : "s"} already logged in across the nodes, ` +
              `max_sessions is ${max}`,
            `Too many sessions for this user (at most ${max}); try again later.`,
          );
        }
      }
      const [row] = await tx<{ id: string }[]>`
        insert into tsftpd_sessions (node, username, client)
        values (${this.node}, ${username}, ${client}) returning id::text`;
      return row.id;
    });
    this.#open.add(id);
    return id;
  }

  /** Forgets the session `id`; when the database cannot be told now, the next heartbeat does. */
  end(id: string): void {
    if (!this.#open.delete(id)) return;
    this.#sql`delete from tsftpd_sessions where id = ${id}`.catch(() => {});
  }

  /** How many sessions `username` has across the nodes whose heartbeat is fresh. */
  async count(username: string): Promise<number> {
    const [{ count }] = await this.#sql<{ count: number }[]>`
      select count(*)::int as count from tsftpd_sessions s join tsftpd_nodes n on n.id = s.node
      where s.username = ${username}
        and n.heartbeat > now() - make_interval(secs => ${this.#staleSeconds})`;
    return count;
  }

  async #register(): Promise<void> {
    await this.#sql`
      insert into tsftpd_nodes (id) values (${this.node})
      on conflict (id) do update set heartbeat = now()`;
    this.#registered = true;
  }

  /** One heartbeat: this node is alive, its sessions are those open, dead nodes are removed. */
  #beat(): void {
    this.#beating = this.#beating.then(async () => {
      try {
        await this.#register();
        await this.#sql`
          delete from tsftpd_sessions
          where node = ${this.node} and not (id::text = any(${[...this.#open]}::text[]))`;
        await this.#sql`
          delete from tsftpd_nodes
          where heartbeat < now() - make_interval(secs => ${this.#staleSeconds * 2})`;
      } catch (error) {
        return this.#onHeartbeat(error);
      }
      this.#onHeartbeat(null);
    });
  }

  /** Stops the heartbeat and removes this node and its sessions (if the database is reachable). */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#beating;
    this.#open.clear();
    await this.#sql`delete from tsftpd_nodes where id = ${this.node}`.catch(() => {});
  }

  /** Same as {@linkcode SessionRegistry.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * The PostgreSQL database that several tsftpd nodes share: the connection (the
 * `postgres` client, which reconnects by itself), its errors in words, and the
 * schema, created or migrated by {@linkcode initSchema} under an advisory lock.
 *
 * @module
 */

import type { Sql } from "postgres";

export type { Sql };

/** A database that cannot be used as asked (a bad URL, no schema, a refusal): the message says why. */
export class DatabaseError extends Error {
  /** Always `"DatabaseError"`. */
  override name = "DatabaseError";
}

/** Options of {@linkcode connectDatabase}. */
export interface DatabaseOptions {
  /** Most connections kept open (default 4). */
  max?: number;
  /** Seconds to wait for a connection to the server (default 5). */
  connectTimeout?: number;
}

/** `url` with its password, if any, replaced by `***`: the form fit for a log. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "(a malformed URL)";
  }
}

/**
 * A client of the database at `url` (`postgres://user:password@host:port/db`).
 * No connection is made until the first query; a lost connection is made again
 * at the next. Throws {@linkcode DatabaseError} for a URL that is none.
 */
export async function connectDatabase(url: string, options: DatabaseOptions = {}): Promise<Sql> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new DatabaseError(`the database URL is malformed (postgres://user@host:port/db)`);
  }
  if (parsed.protocol !== "postgres:" && parsed.protocol !== "postgresql:") {
    throw new DatabaseError(
      `the database URL must start with postgres://, not ${JSON.stringify(parsed.protocol)}`,
    );
  }
  // Loaded when first needed, so that importing the library needs no database client.
  const { default: postgres } = await import("postgres");
  return postgres(url, {
    max: options.max ?? 4,
    connect_timeout: options.connectTimeout ?? 5,
    idle_timeout: 60,
    onnotice: () => {},
    connection: { application_name: "tsftpd" },
  });
}

/** SQLSTATE codes worth their own words. */
const STATES: Record<string, string> = {
  "42P01": "the schema is missing: run `tsftpd db init --db URL`",
  "3D000": "no such database",
  "28P01": "the password was refused",
  "28000": "the account was refused",
  "57P01": "the server is shutting down",
  "57P03": "the server is starting up",
};

/** What went wrong with the database, in a sentence for a log line (no password in it). */
export function describeDatabaseError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const { code } = error as Error & { code?: string };
  if (code && STATES[code]) return `${STATES[code]} (${error.message})`;
  if (code === "CONNECT_TIMEOUT") return "no answer from the server in time";
  return error.message;
}

/** The schema's migrations: statement lists, the first creating version 1. */
const MIGRATIONS: readonly (readonly string[])[] = [
  [
    `create table tsftpd_users (
      name text primary key,
      password text,
      home text not null,
      perm text not null default 'elr',
      msg_login text,
      msg_quit text,
      overrides jsonb not null default '[]',
      upload_rate bigint,
      download_rate bigint,
      max_sessions integer,
      allow_from text[],
      disabled boolean not null default false,
      updated_at timestamptz not null default now()
    )`,
    `create table tsftpd_nodes (
      id text primary key,
      heartbeat timestamptz not null default now()
    )`,
    `create table tsftpd_sessions (
      id bigserial primary key,
      node text not null references tsftpd_nodes (id) on delete cascade,
      username text not null,
      client text not null,
      started timestamptz not null default now()
    )`,
    `create index tsftpd_sessions_username on tsftpd_sessions (username)`,
  ],
  [
    // The defender's state, shared by the nodes: times in ms since the epoch.
    `create table tsftpd_ban_points (
      key text not null,
      at bigint not null,
      points integer not null
    )`,
    `create index tsftpd_ban_points_key on tsftpd_ban_points (key, at)`,
    `create index tsftpd_ban_points_at on tsftpd_ban_points (at)`,
    `create table tsftpd_bans (
      key text primary key,
      since bigint not null,
      until bigint not null,
      offences integer not null,
      reason text not null,
      expires bigint not null,
      ended boolean not null
    )`,
  ],
  [
    // The users file's quota keys, as the accounts' columns.
    `alter table tsftpd_users add column quota_bytes bigint, add column quota_files integer`,
  ],
];

/** The schema version this code uses. */
export const SCHEMA_VERSION: number = MIGRATIONS.length;

/** The schema version of the database: 0 without a schema. */
export async function schemaVersion(sql: Sql): Promise<number> {
  const [row] = await sql<{ exists: boolean }[]>`
    select to_regclass('tsftpd_schema') is not null as exists`;
  if (!row.exists) return 0;
  const [version] = await sql<{ version: number }[]>`select version from tsftpd_schema`;
  return version?.version ?? 0;
}

/**
 * Creates the schema, or migrates it to {@linkcode SCHEMA_VERSION}: idempotent,
 * and safe when several nodes run it at once (one transaction under an advisory
 * lock, so the others wait and then find nothing to do). Resolves to the versions
 * before and after; throws {@linkcode DatabaseError} for a schema newer than this code.
 */
export async function initSchema(sql: Sql): Promise<{ from: number; to: number }> {
  return await sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(hashtext('tsftpd schema'))`;
    await tx`create table if not exists tsftpd_schema (version integer not null)`;
    const [row] = await tx<{ version: number }[]>`select version from tsftpd_schema`;
    const from = row?.version ?? 0;
    if (from > SCHEMA_VERSION) {
      throw new DatabaseError(
        `the schema is at version ${from}, newer than this tsftpd's ${SCHEMA_VERSION}: upgrade tsftpd`,
      );
    }
    for (const statements of MIGRATIONS.slice(from)) {
      for (const statement of statements) await tx.unsafe(statement);
    }
    if (row) await tx`update tsftpd_schema set version = ${SCHEMA_VERSION}`;
    else await tx`insert into tsftpd_schema (version) values (${SCHEMA_VERSION})`;
    return { from, to: SCHEMA_VERSION };
  });
}

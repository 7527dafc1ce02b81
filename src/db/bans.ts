/**
 * {@linkcode DatabaseBanStore}: the defender's scores and bans in the shared
 * database, so that an address banned on one node is refused on every other.
 *
 * @module
 */

import type { BanRecord, BanStore } from "../defender/ban_store.ts";
import type { Sql } from "./database.ts";

/** A row of `tsftpd_bans`; `bigint` columns arrive as strings. */
interface BanRow {
  key: string;
  since: string;
  until: string;
  offences: number;
  reason: string;
  expires: string;
  ended: boolean;
}

function toRecord(row: BanRow): BanRecord {
  return {
    key: row.key,
    since: Number(row.since),
    until: Number(row.until),
    offences: row.offences,
    reason: row.reason,
    expires: Number(row.expires),
    ended: row.ended,
  };
}

/**
 * A {@linkcode BanStore} in PostgreSQL (`tsftpd_ban_points`, `tsftpd_bans`):
 * each call is one statement or one transaction, so nodes scoring the same
 * address at once all count. Points older than the window they were scored in,
 * and bans past their expiry, are removed as new ones come.
 */
export class DatabaseBanStore implements BanStore {
  readonly #sql: Sql;

  /** The store of the database `sql` connects to (its schema made by `tsftpd db init`). */
  constructor(sql: Sql) {
    this.#sql = sql;
  }

  async addPoints(key: string, points: number, now: number, since: number): Promise<number> {
    return await this.#sql.begin(async (tx) => {
      await tx`delete from tsftpd_ban_points where at < ${since}`;
      await tx`insert into tsftpd_ban_points (key, at, points) values (${key}, ${now}, ${points})`;
      const [{ score }] = await tx<{ score: string }[]>`
        select coalesce(sum(points), 0) as score from tsftpd_ban_points
        where key = ${key} and at >= ${since}`;
      return Number(score);
    });
  }

  async get(key: string): Promise<BanRecord | null> {
    const [row] = await this.#sql<BanRow[]>`select * from tsftpd_bans where key = ${key}`;
    return row ? toRecord(row) : null;
  }

  async put(record: BanRecord): Promise<void> {
    await this.#sql.begin(async (tx) => {
      await tx`delete from tsftpd_bans where expires < ${record.since}`;
      await tx`
        insert into tsftpd_bans (key, since, until, offences, reason, expires, ended)
        values (${record.key}, ${record.since}, ${record.until}, ${record.offences},
          ${record.reason}, ${record.expires}, ${record.ended})
        on conflict (key) do update set since = excluded.since, until = excluded.until,
          offences = excluded.offences, reason = excluded.reason, expires = excluded.expires,
          ended = excluded.ended`;
      await tx`delete from tsftpd_ban_points where key = ${record.key}`;
    });
  }

  async delete(key: string): Promise<boolean> {
    return await this.#sql.begin(async (tx) => {
      await tx`delete from tsftpd_ban_points where key = ${key}`;
      const removed = await tx`delete from tsftpd_bans where key = ${key} returning key`;
      return removed.length > 0;
    });
  }

  async list(now: number): Promise<BanRecord[]> {
    const rows = await this.#sql<BanRow[]>`select * from tsftpd_bans where until > ${now}`;
    return rows.map(toRecord);
  }
}

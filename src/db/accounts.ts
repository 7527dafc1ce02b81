/**
 * {@linkcode AccountStore}: the accounts of the shared database, one row of
 * `tsftpd_users` each, with the users file's fields under the users file's names
 * (an override list as JSON), checked by the users file's own rules when read.
 *
 * @module
 */

import { checkAccount, type UserAccount } from "../auth/users_file.ts";
import { DatabaseError, type Sql } from "./database.ts";

/** An account as the database holds it. */
export interface StoredAccount {
  /** The account, checked. */
  readonly account: UserAccount;
  /** Whether it is disabled (`tsftpd user disable`): nobody logs in as it. */
  readonly disabled: boolean;
}

/** A row of `tsftpd_users`. */
interface UserRow {
  name: string;
  password: string | null;
  home: string;
  perm: string;
  msg_login: string | null;
  msg_quit: string | null;
  overrides: { path: string; perm: string; recursive?: boolean }[];
  upload_rate: string | null;
  download_rate: string | null;
  max_sessions: number | null;
  quota_bytes: string | null;
  quota_files: number | null;
  allow_from: string[] | null;
  disabled: boolean;
}

/** Where the checks of a row say the problem is. */
const SOURCE = "database";

/** The row's fields under the users file's keys, for {@linkcode checkAccount}. */
function entryOf(row: UserRow): Record<string, unknown> {
  const entry: Record<string, unknown> = { name: row.name, home: row.home, perm: row.perm };
  if (row.password !== null) entry.password = row.password;
  if (row.msg_login !== null) entry.msg_login = row.msg_login;
  if (row.msg_quit !== null) entry.msg_quit = row.msg_quit;
  if (row.overrides.length > 0) entry.override = row.overrides;
  if (row.upload_rate !== null) entry.upload_rate = Number(row.upload_rate);
  if (row.download_rate !== null) entry.download_rate = Number(row.download_rate);
  if (row.max_sessions !== null) entry.max_sessions = row.max_sessions;
  if (row.quota_bytes !== null) entry.quota_bytes = Number(row.quota_bytes);
  if (row.quota_files !== null) entry.quota_files = row.quota_files;
  if (row.allow_from !== null) entry.allow_from = row.allow_from;
  return entry;
}

/** The columns of `account`, as they are written. */
function columnsOf(account: UserAccount) {
  return {
    name: account.name,
    password: account.password?.text ?? null,
    home: account.home,
    perm: account.perm,
    msg_login: account.msgLogin ?? null,
    msg_quit: account.msgQuit ?? null,
    overrides: account.overrides.map(({ path, perm, recursive }) => ({ path, perm, recursive })),
    upload_rate: account.uploadRate ?? null,
    download_rate: account.downloadRate ?? null,
    max_sessions: account.maxSessions ?? null,
    quota_bytes: account.quotaBytes ?? null,
    quota_files: account.quotaFiles ?? null,
    allow_from: account.allowFrom?.map((network) => network.text) ?? null,
  };
}

/** The accounts of the database. Every call is one query: what it reads is what is there now. */
export class AccountStore {
  readonly #sql: Sql;

  /** The accounts of the database `sql` connects to. */
  constructor(sql: Sql) {
    this.#sql = sql;
  }

  /** The account `name`, or `null`; throws `UsersFileError` for a row that breaks the rules. */
  async find(name: string): Promise<StoredAccount | null> {
    const [row] = await this.#sql<UserRow[]>`select * from tsftpd_users where name = ${name}`;
    return row ? this.#stored(row) : null;
  }

  /** Every account, by name; throws `UsersFileError` for a row that breaks the rules. */
  async list(): Promise<StoredAccount[]> {
    const rows = await this.#sql<UserRow[]>`select * from tsftpd_users order by name`;
    return rows.map((row) => this.#stored(row));
  }

  /** Adds `account`; throws {@linkcode DatabaseError} if the name is taken. */
  async add(account: UserAccount): Promise<void> {
    const columns = columnsOf(account);
    const rows = await this.#sql`
      insert into tsftpd_users ${this.#sql(columns)}
      on conflict (name) do nothing returning name`;
    if (rows.length === 0) throw new DatabaseError(`user ${JSON.stringify(account.name)} exists`);
  }

  /** Adds or replaces every account of `accounts` in one transaction (enabled); resolves to how many were new. */
  async put(accounts: readonly UserAccount[]): Promise<number> {
    return await this.#sql.begin(async (tx) => {
      let added = 0;
      for (const account of accounts) {
        const columns = { ...columnsOf(account), disabled: false };
        const [row] = await tx<{ added: boolean }[]>`
          insert into tsftpd_users ${tx(columns)}
          on conflict (name) do update set ${
          tx(
            columns,
            Object.keys(columns).filter((key) => key !== "name") as (keyof typeof columns)[],
          )
        }, updated_at = now()
          returning (xmax = 0) as added`;
        if (row.added) added++;
      }
      return added;
    });
  }

  /** Sets the password hash of `name`; resolves to whether the user exists. */
  async setPassword(name: string, hash: string): Promise<boolean> {
    const rows = await this.#sql`
      update tsftpd_users set password = ${hash}, updated_at = now()
      where name = ${name} returning name`;
    return rows.length > 0;
  }

  /** Disables or enables `name`; resolves to whether the user exists. */
  async setDisabled(name: string, disabled: boolean): Promise<boolean> {
    const rows = await this.#sql`
      update tsftpd_users set disabled = ${disabled}, updated_at = now()
      where name = ${name} returning name`;
    return rows.length > 0;
  }

  /** Removes `name`; resolves to whether the user existed. */
  async remove(name: string): Promise<boolean> {
    const rows = await this.#sql`delete from tsftpd_users where name = ${name} returning name`;
    return rows.length > 0;
  }

  #stored(row: UserRow): StoredAccount {
    return { account: checkAccount(entryOf(row), SOURCE), disabled: row.disabled };
  }
}

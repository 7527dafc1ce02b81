/**
 * `tsftpd db init` and `tsftpd user add|passwd|disable|enable|remove|list|import`:
 * the schema and the accounts of the database that several nodes share
 * (`--db URL`, or the `TSFTPD_DB` environment variable).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { resolve } from "node:path";
import { hashPassword } from "../auth/hashes.ts";
import { ANONYMOUS_USER } from "../auth/dummy.ts";
import { checkAccount, parseUsersFile, UsersFileError } from "../auth/users_file.ts";
import { AccountStore } from "../db/accounts.ts";
import {
  connectDatabase,
  DatabaseError,
  describeDatabaseError,
  initSchema,
  redactUrl,
  type Sql,
} from "../db/database.ts";
import { systemReason } from "../errors.ts";
import { CliError } from "./errors.ts";
import { readPassword } from "./hash_password.ts";

/** The usage lines of these commands, for `--help`. */
export const DB_USAGE =
  `       tsftpd db init --db URL     create or migrate the accounts database's schema
       tsftpd user add NAME --home DIR [--perm PERM] [--max-sessions N]
                   [--upload-rate RATE] [--download-rate RATE] [--quota-bytes SIZE]
                   [--quota-files N] [--allow-from NETWORK]... --db URL
       tsftpd user passwd|disable|enable|remove NAME --db URL
       tsftpd user list --db URL
       tsftpd user import USERS_FILE --db URL`;

/** The database URL of `--db`, else of `TSFTPD_DB`. */
function databaseUrl(flag: string | undefined): string {
  const url = flag ?? Deno.env.get("TSFTPD_DB");
  if (!url) throw new CliError("--db URL is needed (or TSFTPD_DB in the environment)");
  return url;
}

/** Runs `body` with a client of the database at `url`, whose failures become a {@linkcode CliError}. */
async function withDatabase<T>(url: string, body: (sql: Sql) => Promise<T>): Promise<T> {
  let sql: Sql;
  try {
    sql = await connectDatabase(url, { max: 1 });
  } catch (error) {
    if (error instanceof DatabaseError) throw new CliError(error.message);
    throw error;
  }
  try {
    return await body(sql);
  } catch (error) {
    if (error instanceof CliError) throw error;
    if (error instanceof UsersFileError) throw new CliError(error.message, 2, false);
    throw new CliError(`database ${redactUrl(url)}: ${describeDatabaseError(error)}`, 1);
  } finally {
    await sql.end({ timeout: 1 });
  }
}

/** What `parse` returns; parseArgs's refusals become a {@linkcode CliError}. */
function refusingBadFlags<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw new CliError((error as Error).message.split("\n")[0]);
  }
}

/** Runs `tsftpd db ARGS`; resolves to the exit status. */
export async function dbCommand(args: string[]): Promise<number> {
  const { values, positionals } = refusingBadFlags(() =>
    parseArgs({ args, options: { db: { type: "string" } }, allowPositionals: true })
  );
  if (positionals.length !== 1 || positionals[0] !== "init") {
    throw new CliError("db takes one command: init");
  }
  const url = databaseUrl(values.db as string | undefined);
  const { from, to } = await withDatabase(url, initSchema);
  if (from === to) console.log(`schema up to date (version ${to})`);
  else if (from === 0) console.log(`schema created (version ${to})`);
  else console.log(`schema migrated from version ${from} to ${to}`);
  return 0;
}

const USER_OPTIONS = {
  db: { type: "string" },
  home: { type: "string" },
  perm: { type: "string" },
  "max-sessions": { type: "string" },
  "upload-rate": { type: "string" },
  "download-rate": { type: "string" },
  "quota-bytes": { type: "string" },
  "quota-files": { type: "string" },
  "allow-from": { type: "string", multiple: true },
} as const;

/** Runs `tsftpd user ARGS`; resolves to the exit status. */
export async function userCommand(args: string[]): Promise<number> {
  const { values, positionals } = refusingBadFlags(() =>
    parseArgs({ args, options: USER_OPTIONS, allowPositionals: true })
  );
  const [command, name, ...rest] = positionals;
  const needsName = ["add", "passwd", "disable", "enable", "remove", "import"];
  if (!["list", ...needsName].includes(command)) {
    throw new CliError(
      `user takes a command: add, passwd, disable, enable, remove, list or import, not ${
        JSON.stringify(command ?? "")
      }`,
    );
  }
  if (needsName.includes(command) && name === undefined) {
    throw new CliError(`user ${command} needs ${command === "import" ? "a users file" : "a name"}`);
  }
  const extra = command === "list" ? name : rest[0];
  if (extra !== undefined) throw new CliError(`unexpected argument ${JSON.stringify(extra)}`);
  const accountFlags = [
    "home",
    "perm",
    "max-sessions",
    "upload-rate",
    "download-rate",
    "quota-bytes",
    "quota-files",
    "allow-from",
  ];
  const stray = accountFlags.find((flag) => values[flag as keyof typeof values] !== undefined);
  if (command !== "add" && stray) throw new CliError(`--${stray} is for user add only`);
  const url = databaseUrl(values.db as string | undefined);

  if (command === "add") {
    const account = await newAccount(name, values);
    return await withDatabase(url, async (sql) => {
      await new AccountStore(sql).add(account).catch((error) => {
        if (error instanceof DatabaseError) throw new CliError(error.message, 1);
        throw error;
      });
      console.log(`user ${JSON.stringify(name)} added`);
      return 0;
    });
  }
  if (command === "import") return await importUsers(name, url);
  if (command === "list") return await withDatabase(url, listUsers);
  const hash = command === "passwd" ? await hashPassword(await readPassword()) : "";
  return await withDatabase(url, async (sql) => {
    const store = new AccountStore(sql);
    const found = command === "passwd"
      ? await store.setPassword(name, hash)
      : command === "remove"
      ? await store.remove(name)
      : await store.setDisabled(name, command === "disable");
    if (!found) throw new CliError(`no user ${JSON.stringify(name)}`, 1);
    const done = { passwd: "password changed", remove: "removed" }[command as string] ??
      `${command}d`;
    console.log(`user ${JSON.stringify(name)} ${done}`);
    return 0;
  });
}

/** The account that `user add NAME` describes, checked by the users file's rules; its password read. */
async function newAccount(name: string, values: Record<string, unknown>) {
  if (values.home === undefined) throw new CliError("user add needs --home DIR");
  const entry: Record<string, unknown> = {
    name,
    home: resolve(values.home as string),
    perm: values.perm ?? "elr",
  };
  for (const [flag, key] of [["max-sessions", "max_sessions"], ["quota-files", "quota_files"]]) {
    const text = values[flag as "max-sessions" | "quota-files"] as string | undefined;
    if (text === undefined) continue;
    if (!/^\d+$/.test(text)) {
      throw new CliError(`--${flag} must be a whole number, not ${JSON.stringify(text)}`);
    }
    entry[key] = Number(text);
  }
  if (values["upload-rate"] !== undefined) entry.upload_rate = values["upload-rate"];
  if (values["download-rate"] !== undefined) entry.download_rate = values["download-rate"];
  if (values["quota-bytes"] !== undefined) entry.quota_bytes = values["quota-bytes"];
  if (values["allow-from"] !== undefined) entry.allow_from = values["allow-from"];
  if (name !== ANONYMOUS_USER) entry.password = await hashPassword(await readPassword());
  try {
    return checkAccount(entry, "user add");
  } catch (error) {
    if (error instanceof UsersFileError) throw new CliError(error.reason);
    throw error;
  }
}

async function listUsers(sql: Sql): Promise<number> {
  const rows = [["NAME", "HOME", "PERM", "MAX SESSIONS", "STATE"]];
  for (const { account, disabled } of await new AccountStore(sql).list()) {
    rows.push([
      account.name,
      account.home,
      account.perm,
      account.maxSessions ? String(account.maxSessions) : "-",
      disabled ? "disabled" : "enabled",
    ]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  for (const row of rows) {
    console.log(row.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd());
  }
  return 0;
}

async function importUsers(file: string, url: string): Promise<number> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (error) {
    throw new CliError(`cannot read ${file}: ${systemReason(error)}`, 1);
  }
  let accounts;
  try {
    accounts = await parseUsersFile(text, file, { checkHomes: false });
  } catch (error) {
    if (error instanceof UsersFileError) throw new CliError(error.message, 2, false);
    throw error;
  }
  return await withDatabase(url, async (sql) => {
    const added = await new AccountStore(sql).put(accounts);
    const replaced = accounts.length - added;
    console.log(`${file}: ${added} user${added === 1 ? "" : "s"} added, ${replaced} replaced`);
    return 0;
  });
}

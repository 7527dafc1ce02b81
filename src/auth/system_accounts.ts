/**
 * The machine's own accounts, as `/etc/passwd`, `/etc/shadow` and `/etc/shells`
 * describe them (`passwd(5)`, `shadow(5)`, `shells(5)`), and whether one may log in.
 *
 * @module
 */

/** One line of `/etc/passwd`. */
export interface SystemAccount {
  /** The login name. */
  readonly name: string;
  /** The user id. */
  readonly uid: number;
  /** The primary group id. */
  readonly gid: number;
  /** The home directory. */
  readonly home: string;
  /** The login shell. */
  readonly shell: string;
  /** The password field of `/etc/passwd` (`x`: the hash is in `/etc/shadow`). */
  readonly password: string;
}

/** One line of `/etc/shadow`; dates are days since 1970-01-01, `null` when empty. */
export interface ShadowEntry {
  /** The login name. */
  readonly name: string;
  /** The password hash, or a lock (`!`, `*`, `!!`, `!$y$...`). */
  readonly hash: string;
  /** The day the password was last changed; 0: it must be changed at the next login. */
  readonly lastChange: number | null;
  /** Days a password stays valid. */
  readonly maxAge: number | null;
  /** The day the account expires. */
  readonly expire: number | null;
}

/** The files the accounts are read from. */
export const ACCOUNT_FILES = {
  passwd: "/etc/passwd",
  shadow: "/etc/shadow",
  shells: "/etc/shells",
} as const;

/** The lines of `text` split at `:`, skipping empty lines and NIS `+`/`-` entries. */
function records(text: string): string[][] {
  return text.split("\n")
    .filter((line) => line !== "" && !line.startsWith("+") && !line.startsWith("-"))
    .map((line) => line.split(":"));
}

/** A number field: `null` when empty or not a whole number. */
function day(field: string | undefined): number | null {
  return field !== undefined && /^\d{1,9}$/.test(field) ? Number(field) : null;
}

/** The accounts of the text of an `/etc/passwd`, by name (the first line of a name wins). */
export function parsePasswd(text: string): Map<string, SystemAccount> {
  const accounts = new Map<string, SystemAccount>();
  for (const fields of records(text)) {
    const [name, password, uid, gid, , home, shell] = fields;
    if (fields.length < 7 || !name || accounts.has(name)) continue;
    if (!/^\d{1,10}$/.test(uid) || !/^\d{1,10}$/.test(gid)) continue;
    accounts.set(name, { name, password, uid: Number(uid), gid: Number(gid), home, shell });
  }
  return accounts;
}

/** The entry of `name` in the text of an `/etc/shadow`, if it has one. */
export function shadowEntry(text: string, name: string): ShadowEntry | null {
  const fields = records(text).find((fields) => fields[0] === name);
  if (!fields || fields.length < 2) return null;
  return {
    name,
    hash: fields[1],
    lastChange: day(fields[2]),
    maxAge: day(fields[4]),
    expire: day(fields[7]),
  };
}

/** The system's accounts (read at each call: they change while the server runs). */
export async function readAccounts(): Promise<Map<string, SystemAccount>> {
  return parsePasswd(await Deno.readTextFile(ACCOUNT_FILES.passwd));
}

/** The system's accounts, read synchronously (for a constructor's checks). */
export function readAccountsSync(): Map<string, SystemAccount> {
  return parsePasswd(Deno.readTextFileSync(ACCOUNT_FILES.passwd));
}

/** The account named `name`, or `null`. */
export async function readAccount(name: string): Promise<SystemAccount | null> {
  return (await readAccounts()).get(name) ?? null;
}

/** The stored password hash of `account` (from `/etc/shadow` when `passwd` says `x`), with its ageing. */
export async function readShadow(account: SystemAccount): Promise<ShadowEntry | null> {
  if (account.password !== "x") {
    const hash = account.password;
    return { name: account.name, hash, lastChange: null, maxAge: null, expire: null };
  }
  return shadowEntry(await Deno.readTextFile(ACCOUNT_FILES.shadow), account.name);
}

/**
 * Why the account of `entry` may not log in with a password on day `today`
 * (days since 1970-01-01), or `null` when it may: locked (`!`, `*`, `!!`), no
 * password, expired (`expire`), or a password that has expired (`max` days after
 * its last change: within the inactive days after, a login would have to change
 * it, which FTP cannot) or must be changed first.
 */
export function refusal(entry: ShadowEntry, today: number): string | null {
  if (entry.hash === "") return "has no password";
  if (entry.hash.startsWith("!") || entry.hash.startsWith("*")) return "is locked";
  if (entry.expire !== null && today >= entry.expire) return "has expired";
  if (entry.lastChange === 0) return "must change its password first";
  if (entry.lastChange !== null && entry.maxAge !== null) {
    if (today > entry.lastChange + entry.maxAge) return "has an expired password";
  }
  return null;
}

/** Today, as the days since 1970-01-01 that `/etc/shadow` counts in. */
export function shadowToday(now = Date.now()): number {
  return Math.floor(now / 86_400_000);
}

/** The shells listed in the text of an `/etc/shells` (comments skipped). */
export function parseShells(text: string): Set<string> {
  return new Set(
    text.split("\n").map((line) => line.trim()).filter((line) => line && !line.startsWith("#")),
  );
}

/**
 * The valid login shells: those of `/etc/shells`, or `null` (any shell) when the
 * file does not exist, as the seed has it.
 */
export async function readShells(): Promise<Set<string> | null> {
  try {
    return parseShells(await Deno.readTextFile(ACCOUNT_FILES.shells));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

/** {@linkcode readShells}, synchronously (for a constructor's checks). */
export function readShellsSync(): Set<string> | null {
  try {
    return parseShells(Deno.readTextFileSync(ACCOUNT_FILES.shells));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

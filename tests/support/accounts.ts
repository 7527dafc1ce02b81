/**
 * Throw-away system accounts for the tests of `UnixAuthorizer`: made with
 * `useradd -m` and `chpasswd`, removed with `userdel -r` when disposed. Root only.
 *
 * @module
 */

import { hash as bcrypt } from "@node-rs/bcrypt";

/** Whether this process may make accounts (and serve them). */
export const isRoot: boolean = Deno.build.os === "linux" && Deno.uid() === 0;

/** The ways a password is stored in `/etc/shadow`, and what its hash starts with. */
export const HASH_FORMATS = {
  YESCRYPT: "$y$",
  SHA512: "$6$",
  SHA256: "$5$",
  MD5: "$1$",
  BCRYPT: "$2b$",
} as const;

/** A hash format of {@linkcode HASH_FORMATS}. */
export type HashFormat = keyof typeof HASH_FORMATS;

/** Options of {@linkcode makeAccount}. */
export interface AccountOptions {
  /** How the password is stored (default yescrypt, Debian 12's own). */
  format?: HashFormat;
  /** The login shell (default `/bin/bash`). */
  shell?: string;
  /** Supplementary groups (made here if missing; removed with the account). */
  groups?: string[];
  /** The home's mode (default 0700). */
  homeMode?: number;
}

/** A throw-away account. */
export interface Account extends AsyncDisposable {
  /** Its login name. */
  readonly name: string;
  /** Its password. */
  readonly password: string;
  /** Its user id. */
  readonly uid: number;
  /** Its primary group id. */
  readonly gid: number;
  /** Its home directory. */
  readonly home: string;
}

let made = 0;

/** Runs a command, throwing with its stderr when it fails; returns its stdout. */
export async function run(command: string, args: string[], stdin?: string): Promise<string> {
  const child = new Deno.Command(command, {
    args,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const output = await child.output();
  const stderr = new TextDecoder().decode(output.stderr);
  if (!output.success) throw new Error(`${command} ${args.join(" ")}: ${stderr}`);
  return new TextDecoder().decode(output.stdout);
}

/** A new account with a random password stored as `format`. */
export async function makeAccount(options: AccountOptions = {}): Promise<Account> {
  const name = `tsftpt${Deno.pid % 1000}x${++made}`;
  const password = `pw-${crypto.randomUUID()}`;
  const madeGroups: string[] = [];
  for (const group of options.groups ?? []) {
    if (await run("getent", ["group", group]).then(() => false, () => true)) {
      await run("groupadd", [group]);
      madeGroups.push(group);
    }
  }
  await run("useradd", [
    "-m",
    "-s",
    options.shell ?? "/bin/bash",
    ...(options.groups?.length ? ["-G", options.groups.join(",")] : []),
    name,
  ]);
  const remove = async () => {
    await run("userdel", ["-r", name]).catch(async (error) => {
      // Still removed, but the test fails: a process of the account outlived its session.
      await run("userdel", ["-r", "-f", name]).catch(() => {});
      throw error;
    });
    for (const group of madeGroups) await run("groupdel", [group]);
  };
  try {
    const format = options.format ?? "YESCRYPT";
    if (format === "BCRYPT") {
      await run("chpasswd", ["-e"], `${name}:${await bcrypt(password, 5)}\n`);
    } else {
      await run("chpasswd", ["-c", format], `${name}:${password}\n`);
    }
    const fields = (await run("getent", ["passwd", name])).trim().split(":");
    const home = fields[5];
    await Deno.chmod(home, options.homeMode ?? 0o700);
    return {
      name,
      password,
      uid: Number(fields[2]),
      gid: Number(fields[3]),
      home,
      [Symbol.asyncDispose]: remove,
    };
  } catch (error) {
    await remove();
    throw error;
  }
}

/** The stored hash of `name` in `/etc/shadow`. */
export async function shadowHash(name: string): Promise<string> {
  const line = (await Deno.readTextFile("/etc/shadow")).split("\n")
    .find((line) => line.startsWith(`${name}:`));
  return line?.split(":")[1] ?? "";
}

/** The ids of the processes running with user id `uid`. */
export function processesOf(uid: number): number[] {
  const pids: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const status = Deno.readTextFileSync(`/proc/${entry.name}/status`);
      if (new RegExp(`^Uid:\\s+${uid}\\s`, "m").test(status)) pids.push(Number(entry.name));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

/**
 * User and group names of numeric ids, for LIST's owner and group columns, from
 * the system's `/etc/passwd` and `/etc/group` (read once per process).
 *
 * @module
 */

let users: Promise<Map<number, string>> | null = null;
let groups: Promise<Map<number, string>> | null = null;

/**
 * The `name:x:id:...` lines of an account file, by id (the first name of an id
 * wins, as `getpwuid` does); empty when it cannot be read.
 */
export async function readIds(path: string): Promise<Map<number, string>> {
  const names = new Map<number, string>();
  const text = await Deno.readTextFile(path).catch(() => "");
  for (const line of text.split("\n")) {
    const [name, , id] = line.split(":");
    if (name && /^\d+$/.test(id ?? "") && !names.has(Number(id))) names.set(Number(id), name);
  }
  return names;
}

/** The name of the user `uid`, or the number itself when the system has none. */
export async function userName(uid: number): Promise<string> {
  users ??= readIds("/etc/passwd");
  return (await users).get(uid) ?? String(uid);
}

/** The name of the group `gid`, or the number itself when the system has none. */
export async function groupName(gid: number): Promise<string> {
  groups ??= readIds("/etc/group");
  return (await groups).get(gid) ?? String(gid);
}

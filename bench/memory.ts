/**
 * A server's memory as the seed's benchmarks report it: RSS minus shared pages
 * (Linux's `RssAnon`), read from `/proc`.
 *
 * @module
 */

/** Bytes of `pid`'s resident memory that are not shared (file-backed or shmem); Linux only. */
export async function serverMemory(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const match = /^RssAnon:\s+(\d+) kB$/m.exec(status);
  if (!match) throw new Error(`no RssAnon in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

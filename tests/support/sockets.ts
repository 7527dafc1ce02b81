/**
 * {@linkcode holdsSocket}: whether a TCP socket's descriptor is still open in
 * this process, told apart from every other descriptor.
 *
 * @module
 */

/**
 * Whether this process holds a descriptor of its TCP socket from `local` to
 * `remote` (its inode in `/proc/net/tcp`, among `/proc/self/fd`'s links). A count
 * of every descriptor would do, were the test files running beside this one in
 * the same process not opening and closing theirs meanwhile.
 */
export function holdsSocket(local: Deno.NetAddr, remote: Deno.NetAddr): boolean {
  const hex = (port: number) => `:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  const inodes = Deno.readTextFileSync("/proc/net/tcp").split("\n").slice(1).flatMap((line) => {
    const fields = line.trim().split(/\s+/);
    const ours = fields.length > 9 && fields[1].endsWith(hex(local.port)) &&
      fields[2].endsWith(hex(remote.port));
    return ours ? [fields[9]] : [];
  });
  const links = new Set([...Deno.readDirSync("/proc/self/fd")].map((entry) => {
    try {
      return Deno.readLinkSync(`/proc/self/fd/${entry.name}`);
    } catch {
      return "";
    }
  }));
  return inodes.some((inode) => links.has(`socket:[${inode}]`));
}

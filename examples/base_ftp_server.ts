/**
 * A base FTP server: the seed's tutorial section 2.1, "A Base FTP server". Virtual users
 * from a `DummyAuthorizer`, a custom banner, a range of passive ports (and, behind a NAT, the
 * public address to announce), and limits on connections.
 *
 * ```sh
 * deno run -A examples/base_ftp_server.ts [directory]
 * NAT_ADDRESS=151.25.42.11 deno run -A examples/base_ftp_server.ts   # behind a NAT
 * curl ftp://user:12345@127.0.0.1:2121/
 * ```
 *
 * @module
 */

import { DummyAuthorizer, FTPServer, type FTPServerOptions } from "../mod.ts";

/** Any {@linkcode FTPServer} option but the authorizer, and the directory the users are jailed in. */
export type Options = Omit<FTPServerOptions, "authorizer"> & { directory?: string };

/**
 * A server on port 2121 where `user` (password `12345`) may read and write and anonymous
 * users may only read, both in `directory`; `options` override the settings below.
 */
export function createServer({ directory = Deno.cwd(), ...options }: Options = {}): FTPServer {
  // A dummy authorizer manages "virtual" users, kept in memory.
  const authorizer = new DummyAuthorizer();
  authorizer.addUser("user", "12345", directory, { perm: "elradfmwMT" });
  authorizer.addAnonymous(directory);
  return new FTPServer({
    port: 2121,
    // The 220 greeting sent when a client connects.
    banner: "tsftpd based ftpd ready.",
    // The ports of passive data connections, to forward when behind a NAT (with the public
    // address to announce in PASV replies as `masqueradeAddress`).
    passivePorts: Array.from({ length: 5535 }, (_, i) => 60000 + i),
    maxCons: 256,
    maxConsPerIp: 5,
    ...options,
    authorizer,
  });
}

if (import.meta.main) {
  await using server = createServer({
    directory: Deno.args[0],
    masqueradeAddress: Deno.env.get("NAT_ADDRESS"),
  });
  await server.serveForever();
}

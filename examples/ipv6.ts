/**
 * IPv6: the seed's FAQ "IPv6 support" (section 4.4.4). Listening on `::` serves IPv6 clients
 * and, on a dual-stack system, IPv4 ones too, on one socket. IPv6 clients use EPSV (RFC 2428)
 * for data connections, since PASV can only name an IPv4 address.
 *
 * ```sh
 * deno run -A examples/ipv6.ts [directory]
 * curl -g "ftp://user:12345@[::1]:2121/"
 * ```
 *
 * @module
 */

import { DummyAuthorizer, FTPServer, type FTPServerOptions } from "../mod.ts";

/** Any {@linkcode FTPServer} option but the authorizer, and the directory the users are jailed in. */
export type Options = Omit<FTPServerOptions, "authorizer"> & { directory?: string };

/** A server on `[::]:2121` for `user` (password `12345`) and anonymous users. */
export function createServer({ directory = Deno.cwd(), ...options }: Options = {}): FTPServer {
  const authorizer = new DummyAuthorizer();
  authorizer.addUser("user", "12345", directory, { perm: "elradfmwMT" });
  authorizer.addAnonymous(directory);
  return new FTPServer({ hostname: "::", port: 2121, ...options, authorizer });
}

if (import.meta.main) {
  await using server = createServer({ directory: Deno.args[0] });
  await server.serveForever();
}

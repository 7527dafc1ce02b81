/**
 * Changing the log line prefix: the seed's tutorial section 2.2.2. The session part of each log
 * line takes pyftplib's placeholders, `%(remote_ip)s`, `%(remote_port)s` and `%(username)s`:
 * `[I 2026-02-01 19:12:26] XXX [user]@127.0.0.1 USER 'user' logged in.`
 *
 * ```sh
 * deno run -A examples/log_prefix.ts [directory]
 * ```
 *
 * @module
 */

import { DummyAuthorizer, FTPServer, type FTPServerOptions } from "../mod.ts";

/** Any {@linkcode FTPServer} option but the authorizer, and the directory the user is jailed in. */
export type Options = Omit<FTPServerOptions, "authorizer"> & { directory?: string };

/** A server on port 2121 for `user` (password `12345`) whose log lines start `XXX [user]@ip`. */
export function createServer({ directory = Deno.cwd(), ...options }: Options = {}): FTPServer {
  const authorizer = new DummyAuthorizer();
  authorizer.addUser("user", "12345", directory, { perm: "elradfmwMT" });
  return new FTPServer({
    port: 2121,
    logPrefix: "XXX [%(username)s]@%(remote_ip)s",
    ...options,
    authorizer,
  });
}

if (import.meta.main) {
  await using server = createServer({ directory: Deno.args[0] });
  await server.serveForever();
}

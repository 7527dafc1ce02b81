/**
 * Throttling bandwidth: the seed's tutorial section 2.7, "Throttle bandwidth" (its
 * `ThrottledDTPHandler` with `read_limit` and `write_limit`). Each transfer, upload or download,
 * is held to an average of `bytesPerSecond`.
 *
 * ```sh
 * deno run -A examples/throttled.ts [directory]   # 30 KiB/s each way
 * ```
 *
 * @module
 */

import { DummyAuthorizer, FTPServer, type FTPServerOptions } from "../mod.ts";

/** Any {@linkcode FTPServer} option but the authorizer and `dtp`, the directory, and the limit. */
export type Options = Omit<FTPServerOptions, "authorizer" | "dtp"> & {
  directory?: string;
  bytesPerSecond?: number;
};

/**
 * A server on port 2121 for `user` (password `12345`) and anonymous users whose transfers run
 * at most at `bytesPerSecond` (default 30 KiB/s) each.
 */
export function createServer(
  { directory = Deno.cwd(), bytesPerSecond = 30 * 1024, ...options }: Options = {},
): FTPServer {
  const authorizer = new DummyAuthorizer();
  authorizer.addUser("user", "12345", directory, { perm: "elradfmwMT" });
  authorizer.addAnonymous(directory);
  return new FTPServer({
    port: 2121,
    ...options,
    authorizer,
    // readLimit: bytes received per second (uploads); writeLimit: bytes sent (downloads).
    dtp: { readLimit: bytesPerSecond, writeLimit: bytesPerSecond },
  });
}

if (import.meta.main) {
  await using server = createServer({ directory: Deno.args[0] });
  await server.serveForever();
}

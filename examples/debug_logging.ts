/**
 * DEBUG logging: the seed's tutorial section 2.2.1 (`logging.basicConfig(level=logging.DEBUG)`,
 * or `-D` on the command line). Every command and reply is logged, passwords masked, along with
 * the whole configuration at start-up.
 *
 * ```sh
 * deno run -A examples/debug_logging.ts [directory]
 * ```
 *
 * @module
 */

import {
  DummyAuthorizer,
  FTPServer,
  type FTPServerOptions,
  Logger,
  type LogSink,
  stderrSink,
} from "../mod.ts";

/** Any {@linkcode FTPServer} option but the authorizer and logger, the directory, and where lines go. */
export type Options = Omit<FTPServerOptions, "authorizer" | "logger"> & {
  directory?: string;
  sink?: LogSink;
};

/** A server on port 2121 for `user` (password `12345`) that logs at debug level to `sink` (stderr). */
export function createServer(
  { directory = Deno.cwd(), sink = stderrSink, ...options }: Options = {},
): FTPServer {
  const authorizer = new DummyAuthorizer();
  authorizer.addUser("user", "12345", directory, { perm: "elradfmwMT" });
  return new FTPServer({
    port: 2121,
    ...options,
    authorizer,
    logger: new Logger({ level: "debug", sink }),
  });
}

if (import.meta.main) {
  await using server = createServer({ directory: Deno.args[0] });
  await server.serveForever();
}

/**
 * Logging to a file: the seed's tutorial section 2.2, "Logging management"
 * (`logging.basicConfig(filename=..., level=logging.INFO)`). Sessions opened and closed, logins
 * and transfers are appended to a file instead of stderr.
 *
 * ```sh
 * deno run -A examples/logging_to_file.ts [logfile [directory]]   # logfile: tsftpd.log
 * tail -f tsftpd.log
 * ```
 *
 * @module
 */

import { DummyAuthorizer, fileSink, FTPServer, type FTPServerOptions, Logger } from "../mod.ts";

/** Any {@linkcode FTPServer} option but the authorizer and logger, the log file and the directory. */
export type Options = Omit<FTPServerOptions, "authorizer" | "logger"> & {
  logFile?: string;
  directory?: string;
};

/**
 * Serves `directory` to `user` (password `12345`) on port 2121, logging info lines and above to
 * `logFile`, until SIGINT or SIGTERM (or until `listener`, when given, is closed); then closes
 * every session, and the log file last.
 */
export async function main(
  { logFile = "tsftpd.log", directory = Deno.cwd(), ...options }: Options = {},
): Promise<void> {
  using sink = fileSink(logFile);
  const authorizer = new DummyAuthorizer();
  authorizer.addUser("user", "12345", directory, { perm: "elradfmwMT" });
  await using server = new FTPServer({
    port: 2121,
    ...options,
    authorizer,
    logger: new Logger({ level: "info", sink }),
  });
  await server.serveForever();
}

if (import.meta.main) await main({ logFile: Deno.args[0], directory: Deno.args[1] });

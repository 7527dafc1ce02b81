/**
 * The server as a scoped resource: the seed's `with FTPServer(address, handler) as server:`
 * (section 3.5, "Server (acceptor)"), where leaving the block calls `close_all()`. With
 * `await using`, leaving the block, by returning or by throwing, stops the listener and closes
 * every session.
 *
 * ```sh
 * deno run -A examples/context_manager.ts [seconds [directory]]   # a read-only share for 60 s
 * ```
 *
 * @module
 */

import { DummyAuthorizer, FTPServer, type FTPServerOptions } from "../mod.ts";

/** Any {@linkcode FTPServer} option but the authorizer, and the directory to share. */
export type Options = Omit<FTPServerOptions, "authorizer"> & { directory?: string };

/**
 * Shares `directory` read-only with anonymous users on port 2121 while `task` runs, and
 * returns what it returns; the server is closed when `task` settles.
 */
export async function serveWhile<T>(
  task: (server: FTPServer) => Promise<T>,
  { directory = Deno.cwd(), ...options }: Options = {},
): Promise<T> {
  const authorizer = new DummyAuthorizer();
  authorizer.addAnonymous(directory);
  await using server = new FTPServer({ port: 2121, ...options, authorizer });
  server.serve({ handleExit: false });
  return await task(server);
}

if (import.meta.main) {
  const seconds = Number(Deno.args[0] ?? 60);
  await serveWhile(async ({ addr }) => {
    console.log(`sharing on port ${addr.port} for ${seconds} seconds`);
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  }, { directory: Deno.args[1] });
}

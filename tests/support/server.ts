/**
 * A real tsftpd on a loopback port, with a temporary home, for tests.
 *
 * @module
 */

import { DummyAuthorizer, FTPServer, type FTPServerOptions, Logger } from "../../mod.ts";

/** The full-permission user every test server has. */
export const USER = "user";
/** Its password. */
export const PASSWORD = "12345";

/** A running test server. */
export interface TestServer {
  /** The server. */
  server: FTPServer;
  /** Its port on 127.0.0.1. */
  port: number;
  /** The real home directory of `user` and of `anonymous` (read-only). */
  home: string;
  /** The authorizer, to add users or overrides. */
  authorizer: DummyAuthorizer;
  /** Every log line written so far. */
  logs: string[];
}

/** Server options a test may set; the authorizer is made here. */
export type TestServerOptions = Partial<FTPServerOptions> & {
  /** Permissions of `user` (default all). */
  perm?: string;
};

/**
 * Runs `body` against a fresh server whose home is a new temporary directory, then
 * closes every session, the server, and removes the directory.
 */
export async function withServer(
  options: TestServerOptions,
  body: (t: TestServer) => Promise<void>,
): Promise<void> {
  const home = await Deno.realPath(await Deno.makeTempDir({ prefix: "tsftpd-test-" }));
  const authorizer = new DummyAuthorizer();
  authorizer.addUser(USER, PASSWORD, home, { perm: options.perm ?? "elradfmwMT" });
  authorizer.addAnonymous(home);
  const logs: string[] = [];
  const server = new FTPServer({
    hostname: "127.0.0.1",
    port: 0,
    authFailedTimeout: 0.05,
    logger: new Logger({ level: "debug", sink: (line) => logs.push(line) }),
    ...options,
    authorizer: options.authorizer ?? authorizer,
  });
  const serving = server.serve();
  try {
    await body({ server, port: server.addr.port, home, authorizer, logs });
  } finally {
    await server.closeAll();
    await serving;
    await Deno.remove(home, { recursive: true });
  }
}

/** Resolves once `predicate` holds, polling; rejects after `timeoutMs`. */
export async function waitFor(predicate: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

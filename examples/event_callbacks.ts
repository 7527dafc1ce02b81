/**
 * Event callbacks: the seed's tutorial section 2.9, "Event callbacks". An {@linkcode FTPHandler}
 * subclass hears about connections, logins and transfers; this one logs each event in the
 * session's log and removes partially uploaded files. Callbacks may be async; one that throws
 * is logged and the session goes on.
 *
 * ```sh
 * deno run -A examples/event_callbacks.ts [directory]
 * ```
 *
 * @module
 */

import { DummyAuthorizer, FTPHandler, FTPServer, type FTPServerOptions } from "../mod.ts";

/** Logs every event of its session, and removes partial uploads. */
export class MyHandler extends FTPHandler {
  override onConnect(): void {
    this.log("info", `${this.remoteIp}:${this.remotePort} connected`);
  }
  override onDisconnect(): void {
    this.log("info", "disconnected");
  }
  override onLogin(username: string): void {
    this.log("info", `${username} logged in`);
  }
  override onLogout(username: string): void {
    this.log("info", `${username} logged out`);
  }
  override onFileSent(file: string): void {
    this.log("info", `sent ${file}`);
  }
  override onFileReceived(file: string): void {
    this.log("info", `received ${file}`);
  }
  override onIncompleteFileSent(file: string): void {
    this.log("info", `sent part of ${file}`);
  }
  override async onIncompleteFileReceived(file: string, partial: string | null): Promise<void> {
    // `partial` holds the bytes that arrived; `file` is still the file as it was.
    if (partial === null) return;
    await Deno.remove(partial);
    this.log("info", `removed partial upload of ${file}`);
  }
}

/** Any {@linkcode FTPServer} option but the authorizer and handler, and the directory to share. */
export type Options = Omit<FTPServerOptions, "authorizer" | "handler"> & { directory?: string };

/** A server on port 2121 for `user` (password `12345`) and anonymous, run by {@linkcode MyHandler}. */
export function createServer({ directory = Deno.cwd(), ...options }: Options = {}): FTPServer {
  const authorizer = new DummyAuthorizer();
  authorizer.addUser("user", "12345", directory, { perm: "elradfmwMT" });
  authorizer.addAnonymous(directory);
  return new FTPServer({ port: 2121, ...options, authorizer, handler: MyHandler });
}

if (import.meta.main) {
  await using server = createServer({ directory: Deno.args[0] });
  await server.serveForever();
}

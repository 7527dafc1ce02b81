/**
 * A long-running task on every upload: the seed's FAQ "How can I run long-running tasks without
 * blocking the server?" (section 4.3.1), where `on_file_received` hands the file to a thread.
 * Here the callback awaits asynchronous work (reading the file and hashing it, which the runtime
 * does on worker threads): meanwhile the event loop serves every other session, and this
 * session's next command waits for the task (the seed's `del_channel`/`add_channel`). The
 * result, `name.sha256`, lands next to each upload.
 *
 * ```sh
 * deno run -A examples/long_running_task.ts [directory]
 * ```
 *
 * @module
 */

import { basename } from "node:path";
import { DummyAuthorizer, FTPHandler, FTPServer, type FTPServerOptions } from "../mod.ts";

/** Writes the SHA-256 of every file received to `<file>.sha256`, as `sha256sum` does. */
export class ChecksumHandler extends FTPHandler {
  /** Hashes `file`; until this settles, only this session waits. */
  override async onFileReceived(file: string): Promise<void> {
    if (file.endsWith(".sha256")) return;
    const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(file));
    const hex = new Uint8Array(digest).toHex();
    await Deno.writeTextFile(`${file}.sha256`, `${hex}  ${basename(file)}\n`);
    this.log("info", `SHA-256 of ${file}: ${hex}`);
  }
}

/** Any {@linkcode FTPServer} option but the authorizer and handler, and the directory to share. */
export type Options = Omit<FTPServerOptions, "authorizer" | "handler"> & { directory?: string };

/** A server on port 2121 for `user` (password `12345`), run by {@linkcode ChecksumHandler}. */
export function createServer({ directory = Deno.cwd(), ...options }: Options = {}): FTPServer {
  const authorizer = new DummyAuthorizer();
  authorizer.addUser("user", "12345", directory, { perm: "elradfmwMT" });
  return new FTPServer({ port: 2121, ...options, authorizer, handler: ChecksumHandler });
}

if (import.meta.main) {
  await using server = createServer({ directory: Deno.args[0] });
  await server.serveForever();
}

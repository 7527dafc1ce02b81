/**
 * A server whose files live in memory: a `MemoryFS` instead of the disk. Nothing is written to
 * disk and the homes need not exist there; every session of the server shares the one tree, so
 * what one user uploads into a shared directory the others see. A capacity bounds the memory the
 * files may take: past it, uploads are answered 452.
 *
 * ```sh
 * deno run -A examples/memory_fs.ts
 * curl -T notes.txt ftp://alice:alice-pw@127.0.0.1:2121/
 * curl ftp://bob:bob-pw@127.0.0.1:2121/
 * ```
 *
 * @module
 */

import { DummyAuthorizer, FTPServer, type FTPServerOptions, MemoryFS } from "../mod.ts";

/** Any {@linkcode FTPServer} option but the authorizer and the filesystem, and the capacity in bytes. */
export type Options = Omit<FTPServerOptions, "authorizer" | "abstractedFs"> & {
  capacity?: number;
};

/**
 * A server on port 2121 with one tree in memory: `alice` (password `alice-pw`) writes in
 * `/srv/shared`, `bob` (password `bob-pw`) and anonymous read it; `storage` is the tree, for
 * the caller to look into.
 */
export function createServer(
  { capacity = 256 * 1024 * 1024, ...options }: Options = {},
): { server: FTPServer; storage: MemoryFS } {
  const storage = new MemoryFS({ capacity });
  const authorizer = new DummyAuthorizer();
  // Paths in the tree, not on the disk.
  authorizer.addUser("alice", "alice-pw", "/srv/shared", { perm: "elradfmwMT" });
  authorizer.addUser("bob", "bob-pw", "/srv/shared");
  authorizer.addAnonymous("/srv/shared");
  const server = new FTPServer({
    port: 2121,
    ...options,
    authorizer,
    abstractedFs: (home) => storage.view(home),
  });
  return { server, storage };
}

if (import.meta.main) {
  await using server = createServer().server;
  await server.serveForever();
}

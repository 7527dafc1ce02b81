/**
 * Every core: the seed's tutorial section 2.6, "Multiple process example". With the
 * `workers` option this process supervises that many workers, each a copy of this
 * script run again by the supervisor, all sharing the port (Linux's SO_REUSEPORT).
 * Every process makes the same server; what must happen once goes behind
 * `isWorker()`.
 *
 * ```sh
 * deno run -A examples/multiprocess.ts [directory] [port] [workers]   # workers: default auto
 * curl ftp://user:12345@127.0.0.1:2121/
 * ```
 *
 * @module
 */

import { DummyAuthorizer, FTPServer, isWorker } from "../mod.ts";

if (import.meta.main) {
  const [directory = Deno.cwd(), port = "2121", workers = "auto"] = Deno.args;
  const authorizer = new DummyAuthorizer();
  authorizer.addUser("user", "12345", directory, { perm: "elradfmwMT" });
  await using server = new FTPServer({
    port: Number(port),
    authorizer,
    workers: workers === "auto" ? "auto" : Number(workers),
    // Held across all the workers: the supervisor counts for them.
    maxCons: 256,
    maxConsPerIp: 5,
  });
  // Only once, in the supervisor; a worker runs this script as well.
  if (!isWorker()) console.log(`sharing ${directory} on port ${server.addr.port}`);
  await server.serve();
}

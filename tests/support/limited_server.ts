/**
 * Run by `tests/native_data_test.ts` under a low open-file limit (`ulimit -n`): a
 * server on native sockets sharing the directory given, with a user `user`
 * (password `12345`). Prints its port, then serves until stdin closes.
 *
 * @module
 */

import { DummyAuthorizer, FTPServer, Logger } from "../../mod.ts";

const authorizer = new DummyAuthorizer();
authorizer.addUser("user", "12345", Deno.args[0], { perm: "elradfmwMT" });
const server = new FTPServer({
  hostname: "127.0.0.1",
  port: 0,
  authorizer,
  maxCons: 0,
  logger: new Logger({ level: "debug" }),
});
const serving = server.serve({ handleExit: false });
console.log(server.addr.port);
for await (const _ of Deno.stdin.readable) {
  // Nothing is sent; the end of stdin is the signal to stop.
}
await server.closeAll();
await serving;

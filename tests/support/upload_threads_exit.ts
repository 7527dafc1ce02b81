/**
 * Run as a process of its own by `tests/native_data_test.ts`: a server whose
 * upload thread takes an upload is closed (`close`, not `closeAll`), its last
 * session then ends, and the process must exit by itself (an upload thread left
 * running would keep it alive for ever), its descriptors back where they were
 * (an ended thread's reactor closed).
 *
 * @module
 */

import { DummyAuthorizer, FTPServer, Logger, UploadPumps } from "../../mod.ts";
import { prepareReactor } from "../../src/native/reactor.ts";
import { FtpClient, writeAndClose } from "./ftp_client.ts";

const open = () => [...Deno.readDirSync("/proc/self/fd")].length;
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
// What is opened once is open before counting: the main thread's reactor, and what
// the runtime opens for its first worker.
prepareReactor();
const warmUp = new UploadPumps({ threads: 1 });
await warmUp.start();
warmUp.close();
await pause(500);
const before = open();

const home = await Deno.realPath(await Deno.makeTempDir({ prefix: "tsftpd-threads-exit-" }));
const authorizer = new DummyAuthorizer();
authorizer.addUser("user", "12345", home, { perm: "elradfmwMT" });
let offThread = 0;
const server = new FTPServer({
  hostname: "127.0.0.1",
  port: 0,
  authorizer,
  uploadThreads: 1,
  logger: new Logger({
    level: "debug",
    sink: (line) => void (line.includes("splice on an upload thread") && offThread++),
  }),
});
const serving = server.serve({ handleExit: false });
await server.uploads!.start();
// Two uploads at once: the second runs on the thread.
const clients = await Promise.all([0, 1].map(() => FtpClient.login(server.addr.port)));
const data = await Promise.all(clients.map(async (client, i) => {
  await client.command("TYPE I");
  const data = await client.pasv();
  await client.command(`STOR f${i}`);
  return data;
}));
await Promise.all(data.map((conn) => writeAndClose(conn, new Uint8Array(100_000))));
for (const client of clients) await client.reply();
server.close();
await serving;
for (const client of clients) {
  await client.command("QUIT");
  client.close();
}
await Deno.remove(home, { recursive: true });
for (let waited = 0; open() !== before && waited < 5000; waited += 50) await pause(50);
if (open() !== before) throw new Error(`${open()} descriptors open, ${before} before`);
if (offThread !== 1) throw new Error(`${offThread} uploads on an upload thread`);
console.log("uploaded on an upload thread; server closed");

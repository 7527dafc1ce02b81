/**
 * Run as a process of its own by `tests/native_data_test.ts` (the tests of other
 * files share the test process's descriptors): a server on native sockets and its
 * clients run thousands of transfers, a thousand at once and then of every kind
 * that can end early, and the process's open descriptors (`/proc/self/fd`) are
 * counted before and after. Prints a JSON report.
 *
 * @module
 */

import { drain, send } from "../../bench/ftp_client.ts";
import { DummyAuthorizer, FTPServer, Logger } from "../../mod.ts";
import { FtpClient } from "./ftp_client.ts";

const SMALL = 64 * 1024;
const home = await Deno.realPath(await Deno.makeTempDir({ prefix: "tsftpd-churn-" }));
await Deno.writeFile(`${home}/small`, new Uint8Array(SMALL).fill(7));
{
  using big = await Deno.open(`${home}/big`, { write: true, create: true });
  await big.truncate(256 * 1024 * 1024);
}

const authorizer = new DummyAuthorizer();
authorizer.addUser("user", "12345", home, { perm: "elradfmwMT" });
let sendfile = 0;
const server = new FTPServer({
  hostname: "127.0.0.1",
  port: 0,
  authorizer,
  maxCons: 0,
  permitPrivilegedPorts: true,
  logger: new Logger({
    level: "debug",
    sink: (line) => void (line.includes("data path: sendfile") && sendfile++),
  }),
});
const serving = server.serve({ handleExit: false });
const port = server.addr.port;
let transfers = 0;
let downloads = 0;

function fail(what: string, reply: { code: number; text: string }): never {
  throw new Error(`${what}: ${reply.code} ${reply.text}`);
}

async function expect(client: FtpClient, line: string | null, ...codes: number[]) {
  const reply = line === null ? await client.reply() : await client.command(line);
  if (!codes.includes(reply.code)) fail(line ?? "reply", reply);
  return reply;
}

async function session(body: (client: FtpClient) => Promise<void>): Promise<void> {
  const client = await FtpClient.connect(port);
  try {
    await client.login("user", "12345");
    await expect(client, "TYPE I", 200);
    await body(client);
  } finally {
    client.close();
  }
}

/** `count` sessions at once, each running `kind(i)`; the transfers start together, then end. */
async function atOnce(count: number, kind: (i: number) => Kind): Promise<void> {
  let started = 0;
  let go!: () => void;
  const allStarted = new Promise<void>((resolve) => go = resolve);
  const begun = () => ++started === count && go();
  await Promise.all(
    Array.from(
      { length: count },
      (_, i) => session((client) => kind(i)(client, begun, allStarted)),
    ),
  );
}

type Kind = (client: FtpClient, begun: () => void, allStarted: Promise<void>) => Promise<void>;

const upload: Kind = async (client, begun, allStarted) => {
  const data = await client.pasv();
  await expect(client, `STOR up${transfers++}`, 125, 150);
  begun();
  await allStarted;
  await send(data, new Uint8Array(1000));
  await expect(client, null, 226);
};

const download: Kind = async (client, begun, allStarted) => {
  const data = await client.pasv();
  await expect(client, "RETR small", 125, 150);
  transfers++, downloads++;
  begun();
  await allStarted;
  if (await drain(data) !== SMALL) throw new Error("short download");
  await expect(client, null, 226);
};

/** A download of the big file stopped by ABOR, by the client closing its data connection, or by QUIT. */
function cutDownload(how: "ABOR" | "close" | "vanish"): Kind {
  return async (client, begun) => {
    const data = await client.pasv();
    await expect(client, "RETR big", 125, 150);
    transfers++, downloads++;
    begun();
    await data.read(new Uint8Array(64 * 1024));
    if (how === "ABOR") {
      await client.send("ABOR");
      await expect(client, null, 426);
      await expect(client, null, 226);
      data.close();
    } else if (how === "close") {
      data.close();
      await expect(client, null, 426);
    } else {
      client.close();
      data.close();
    }
  };
}

const abortedUpload: Kind = async (client, begun) => {
  const data = await client.pasv();
  await expect(client, `STOR cut${transfers++}`, 125, 150);
  begun();
  await data.write(new Uint8Array(10_000));
  await client.send("ABOR");
  await expect(client, null, 426);
  await expect(client, null, 226);
  data.close();
};

/** PASV, then ABOR before any connection: the listener is closed unused. */
const unusedPassive: Kind = async (client, begun) => {
  await client.pasvAddress();
  begun();
  await expect(client, "ABOR", 225);
};

/** A PASV connection made, then dropped by a second PASV. */
const replacedPassive: Kind = async (client, begun) => {
  const first = await client.pasv();
  const second = await client.pasv();
  begun();
  await expect(client, "RETR small", 125, 150);
  transfers++, downloads++;
  if (await drain(second) !== SMALL) throw new Error("short download");
  await expect(client, null, 226);
  first.close();
};

const active: Kind = async (client, begun) => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const p = listener.addr.port;
  await expect(client, `PORT 127,0,0,1,${p >> 8},${p & 255}`, 200);
  await expect(client, "REST 1000", 350);
  await expect(client, "RETR small", 150);
  transfers++, downloads++;
  begun();
  if (await drain(await listener.accept()) !== SMALL - 1000) throw new Error("short download");
  await expect(client, null, 226);
};

/**
 * PORT to a port nobody listens on (port 1, privileged: a port freed here could be
 * taken by another session's listener meanwhile): the connect fails (425).
 */
const refusedActive: Kind = async (client, begun) => {
  await expect(client, "PORT 127,0,0,1,0,1", 200);
  begun();
  await expect(client, "RETR small", 425);
};

const mixed: Kind[] = [
  download,
  cutDownload("ABOR"),
  cutDownload("close"),
  cutDownload("vanish"),
  upload,
  abortedUpload,
  unusedPassive,
  replacedPassive,
  active,
  refusedActive,
];

const count = () => [...Deno.readDirSync("/proc/self/fd")].length;

// One of each first, and the upload threads started: what the process opens once (the epoll
// instance and eventfd of the main thread's reactor, and of each upload thread's)
// is open before counting; so is what the runtime opens for itself in its first
// half second (a pair of Unix sockets, in Deno 2.9).
for (const kind of mixed) await atOnce(1, () => kind);
await server.uploads?.start();
await new Promise((resolve) => setTimeout(resolve, Math.max(200, 2000 - performance.now())));
const before = count();

await atOnce(1000, () => upload);
await atOnce(1000, () => download);
for (let round = 0; round < 5; round++) await atOnce(200, (i) => mixed[i % mixed.length]);

// The sessions whose client vanished end on their own: wait for them.
const deadline = Date.now() + 10_000;
while (server.connections > 0 && Date.now() < deadline) {
  await new Promise((resolve) => setTimeout(resolve, 20));
}
await new Promise((resolve) => setTimeout(resolve, 200));
const after = count();
await server.closeAll();
await serving;
await Deno.remove(home, { recursive: true });
console.log(JSON.stringify({ transfers, downloads, sendfile, before, after }));

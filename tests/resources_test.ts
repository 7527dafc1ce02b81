/**
 * Resource accounting: after thousands of sessions, 5,000 aborted downloads among
 * them, the server holds the descriptors it held when idle before, exactly, and
 * its heap (after a full garbage collection) is back within a bound that a leak
 * of a few kilobytes per session would exceed.
 */

import { PASSWORD, USER, withAbuseServer } from "./support/abuse.ts";
import { assert, assertEquals } from "./support/assert.ts";
import { FtpClient } from "./support/ftp_client.ts";

const ABORTED_PER_SESSION = 5;
const ABORTING_SESSIONS = 1000;
const SHORT_SESSIONS = 2000;
/** Heap growth allowed: what a 1 KiB leak per session would take, for 3,000 sessions. */
const HEAP_BOUND = (ABORTING_SESSIONS + SHORT_SESSIONS) * 1024;
const MiB = 1024 * 1024;

async function reply(client: FtpClient, ...codes: number[]): Promise<void> {
  const { code, text } = await client.reply();
  assert(codes.includes(code), `${code} ${text}, expected ${codes}`);
}

/** Downloads of a big file, each cut short in one of the ways a client ends one early. */
async function abortingSession(port: number, n: number): Promise<void> {
  const client = await FtpClient.login(port, USER, PASSWORD);
  try {
    await client.expect("TYPE I", 200);
    for (let i = 0; i < ABORTED_PER_SESSION; i++) {
      const data = await client.pasv();
      await client.send("RETR big");
      await reply(client, 125, 150);
      await data.read(new Uint8Array(64 * 1024));
      if ((n + i) % 2 === 0) {
        await client.send("ABOR");
        await reply(client, 426);
        await reply(client, 226);
        data.close();
      } else {
        data.close();
        await reply(client, 426);
      }
    }
    if (n % 10 === 0) return; // gone without QUIT
    await client.expect("QUIT", 221);
  } finally {
    client.close();
  }
}

/** A short session: a listing, a download, an upload; every tenth dropped without QUIT. */
async function shortSession(port: number, n: number): Promise<void> {
  const client = await FtpClient.login(port, USER, PASSWORD);
  try {
    await client.list();
    await client.retr("small");
    await client.store(`up${n % 50}`, new Uint8Array(100));
    if (n % 10 !== 0) await client.expect("QUIT", 221);
  } finally {
    client.close();
  }
}

async function runAll(count: number, width: number, session: (n: number) => Promise<void>) {
  let next = 0;
  const worker = async () => {
    while (next < count) await session(next++);
  };
  await Promise.all(Array.from({ length: width }, worker));
}

/** Descriptors the runtime may open once, late, outside the server's doing. */
const ONE_TIME_DESCRIPTORS = 8;

Deno.test("resources: after 3,000 sessions and 5,000 aborted RETRs, descriptors and heap are back", async () => {
  const files = { small: new Uint8Array(4096).fill(1) };
  await withAbuseServer({ files }, async (server) => {
    {
      using big = await Deno.open(`${server.home}/big`, { write: true, create: true });
      await big.truncate(256 * MiB);
    }
    const { port } = server;
    // A round of each first: what the server opens or compiles once is there before counting.
    await runAll(20, 10, (n) => abortingSession(port, n));
    await runAll(20, 10, (n) => shortSession(port, n));
    const before = await server.idle();

    await runAll(ABORTING_SESSIONS, 20, (n) => abortingSession(port, n));
    await runAll(SHORT_SESSIONS, 20, (n) => shortSession(port, n));
    const after = await server.idle();
    console.log(JSON.stringify({ before, after }));
    // A leak of one descriptor a session would be thousands; the runtime itself opens a few
    // more, once and not every run (seen: an eventfd, two epoll instances, two sockets).
    const grown = after.fds - before.fds;
    assert(
      grown <= ONE_TIME_DESCRIPTORS,
      `${grown} more descriptors: ${JSON.stringify(before.fdTargets)} -> ` +
        JSON.stringify(after.fdTargets),
    );
    const growth = after.heapUsed - before.heapUsed;
    assert(growth < HEAP_BOUND, `the heap grew by ${growth} bytes, more than ${HEAP_BOUND}`);
    // The server still serves.
    const client = await FtpClient.login(port, USER, PASSWORD);
    try {
      assertEquals((await client.retr("small")).length, 4096);
    } finally {
      client.close();
    }
  });
});

/**
 * Slowloris: 200 clients that send a byte now and then, never a line in time.
 * A normal client is served meanwhile, and every slow one is dropped at the idle
 * timeout: bytes that do not complete a line do not count as activity.
 */

import { PASSWORD, USER, withAbuseServer } from "./support/abuse.ts";
import { assert, assertEquals } from "./support/assert.ts";
import { FtpClient } from "./support/ftp_client.ts";

const SLOW_CLIENTS = 200;
const TIMEOUT_S = 2;
/** A slow client sends a byte this often: a line of theirs takes longer than the timeout. */
const BYTE_EVERY_MS = 700;
/** Bytes a slow client sends before giving up on being dropped: far more time than the timeout. */
const MAX_BYTES = 60;

const encoder = new TextEncoder();

/**
 * Connects and sends `text` a byte at a time, until the server says 421 and
 * closes the connection; resolves to the replies it got after the greeting.
 */
async function slowClient(port: number, text: string): Promise<string[]> {
  const client = await FtpClient.connect(port);
  try {
    assertEquals(client.greeting.code, 220);
    const replies: string[] = [];
    let closed = false;
    const reading = (async () => {
      try {
        while (true) replies.push((await client.reply()).lines.join("\n"));
      } catch {
        closed = true; // the connection ended
      }
    })();
    for (let i = 0; i < MAX_BYTES && !closed; i++) {
      await new Promise((resolve) => setTimeout(resolve, BYTE_EVERY_MS));
      if (closed) break;
      await client.sendRaw(encoder.encode(text[i % text.length])).catch(() => closed = true);
    }
    client.close();
    await reading;
    return replies;
  } finally {
    client.close();
  }
}

Deno.test("slowloris: 200 clients trickling bytes are dropped at the idle timeout, a normal client is served", async () => {
  const files = { small: new Uint8Array(10_000).fill(5) };
  await withAbuseServer({ files, timeout: TIMEOUT_S }, async (server) => {
    // Half never end a line; half send whole commands, too slowly.
    const slow = Array.from(
      { length: SLOW_CLIENTS },
      (_, i) => slowClient(server.port, i % 2 ? "NOOP NOOP NOOP " : "NOOP\r\n"),
    );
    // The normal client is served while they trickle.
    const client = await FtpClient.login(server.port, USER, PASSWORD);
    try {
      assertEquals((await client.retr("small")).length, 10_000);
      await client.store("up", new Uint8Array(5000));
      assert((await client.list("NLST")).includes("up"));
      await client.expect("QUIT", 221);
    } finally {
      client.close();
    }
    for (const replies of await Promise.all(slow)) {
      assertEquals(replies, ["421 Control connection timed out."]);
    }
    await server.idle();
  });
});

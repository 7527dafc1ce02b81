/**
 * Run as a process of its own by `tests/native_data_test.ts`: waits in the reactor
 * that end by an event, by an abort and by a close, the last one ending by a
 * close. It prints how each ended and must then exit by itself: an `epoll_wait`
 * left outstanding on a worker thread would keep it alive.
 *
 * @module
 */

import { eventfd } from "../../src/native/libc.ts";
import { forget, readable } from "../../src/native/reactor.ts";
import { NativeListener } from "../../src/native/socket.ts";

const name = (error: unknown) => (error as Error).name;

// Ended by an event: a read that waits for the peer's bytes.
const listener = NativeListener.listen({ hostname: "127.0.0.1", port: 0 });
const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
const conn = await listener.accept();
const reading = conn.read(new Uint8Array(16));
await client.write(new Uint8Array([1, 2, 3]));
console.log(`read: ${await reading}`);
conn.close();
client.close();

// Ended by an abort: an eventfd never becomes readable.
{
  using never = eventfd();
  const controller = new AbortController();
  const waiting = readable(never.fd, controller.signal).then(() => "ready", name);
  setTimeout(() => controller.abort(), 50);
  console.log(`aborted: ${await waiting}`);
  forget(never.fd);
}

// Ended by a close, the last wait of the process.
const accepting = listener.accept().then(() => "accepted", name);
setTimeout(() => listener.close(), 50);
console.log(`closed: ${await accepting}`);

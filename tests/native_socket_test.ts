/**
 * The native socket layer on its own (`src/native/`): addresses as the runtime
 * writes them, waits that end by an event, a close or an abort, errors as the
 * runtime's classes, `sendFile`.
 */

import { AT_FDCWD, O, openat2 } from "../src/native/libc.ts";
import { NativeConn, NativeListener, nativeSocketsAvailable } from "../src/native/socket.ts";
import { UploadPumps } from "../src/native/upload_pumps.ts";
import { LocalFileError, writeAll } from "../src/transport.ts";
import {
  assert,
  assertBytesEqual,
  assertEquals,
  assertStringIncludes,
  within,
} from "./support/assert.ts";
import { randomBytes } from "./support/data.ts";
import { readAll } from "./support/ftp_client.ts";
import { withTempDir } from "./support/temp_dir.ts";
import { hasIPv6Loopback } from "./support/ipv6.ts";
import { runScript } from "./support/script.ts";
import { holdsSocket } from "./support/sockets.ts";
import { waitFor } from "./support/server.ts";

const ignore = !nativeSocketsAvailable();

/** The error `promise` rejects with. */
async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("did not reject");
}

/** A native connection accepted from a runtime client, and that client. */
async function pair(hostname = "127.0.0.1") {
  const listener = NativeListener.listen({ hostname, port: 0 });
  const client = await Deno.connect({ hostname, port: listener.addr.port });
  const conn = await listener.accept();
  listener.close();
  return { conn, client };
}

Deno.test({
  name: "native sockets: addresses as the runtime's own sockets give them, IPv4 and IPv6",
  ignore,
  async fn() {
    const hosts = hasIPv6Loopback ? ["127.0.0.1", "::1"] : ["127.0.0.1"];
    for (const hostname of hosts) {
      const { conn, client } = await pair(hostname);
      assertEquals({ ...conn.remoteAddr }, { ...client.localAddr });
      assertEquals({ ...conn.localAddr }, { ...client.remoteAddr });
      conn.close();
      client.close();

      using listener = Deno.listen({ hostname, port: 0 });
      const out = await NativeConn.connect({ hostname, port: listener.addr.port });
      using accepted = await listener.accept();
      assertEquals({ ...out.remoteAddr }, { ...accepted.localAddr });
      assertEquals({ ...out.localAddr }, { ...accepted.remoteAddr });
      out.close();
    }
    if (!hasIPv6Loopback) return;
    // On "::", an IPv4 client is an IPv4-mapped address, written as the runtime does.
    using any = NativeListener.listen({ hostname: "::", port: 0 });
    assertEquals(any.addr.hostname, "::");
    using v4 = await Deno.connect({ hostname: "127.0.0.1", port: any.addr.port });
    using mapped = await any.accept();
    assertEquals(mapped.remoteAddr.hostname, "::ffff:127.0.0.1");
    assertEquals(mapped.remoteAddr.port, (v4.localAddr as Deno.NetAddr).port);
  },
});

Deno.test({
  name: "native sockets: a taken port is AddrInUse, a refused connect ConnectionRefused",
  ignore,
  async fn() {
    using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    let error: unknown;
    try {
      NativeListener.listen({ hostname: "127.0.0.1", port: taken.addr.port });
    } catch (thrown) {
      error = thrown;
    }
    assert(error instanceof Deno.errors.AddrInUse, String(error));
    assertEquals((error as { code?: string }).code, "EADDRINUSE");

    const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = closed.addr.port;
    closed.close();
    const refused = await rejection(NativeConn.connect({ hostname: "127.0.0.1", port }));
    assert(refused instanceof Deno.errors.ConnectionRefused, String(refused));
    const aborted = await rejection(
      NativeConn.connect({ hostname: "127.0.0.1", port, signal: AbortSignal.abort() }),
    );
    assertEquals(aborted.name, "AbortError");
  },
});

Deno.test({
  name: "native sockets: a read and a write wait at once; a close ends both, once",
  ignore,
  async fn() {
    const { conn, client } = await pair();
    try {
      const reading = conn.read(new Uint8Array(16));
      // The client reads nothing: the socket's buffers fill and the write waits.
      const chunk = new Uint8Array(1024 * 1024);
      let writing: Promise<number>;
      let written = 0;
      while (true) {
        writing = conn.write(chunk);
        const settled = await Promise.race([
          writing,
          new Promise<null>((resolve) => setTimeout(resolve, 200, null)),
        ]);
        if (settled === null) break;
        written += settled;
      }
      assert(written > 0, "bytes went out before the buffers filled");
      await client.write(new Uint8Array([42]));
      assertEquals(
        await within(reading, 5000, "the read, while the write waits"),
        1,
        "the read was served while the write still waits",
      );
      const reading2 = conn.read(new Uint8Array(16));
      conn.close();
      for (const pending of [writing, reading2]) {
        assert((await rejection(pending)) instanceof Deno.errors.BadResource);
      }
      conn.close();
      assert((await rejection(conn.read(new Uint8Array(1)))) instanceof Deno.errors.BadResource);
      assert((await rejection(conn.end())) instanceof Deno.errors.BadResource);
    } finally {
      client.close();
    }
  },
});

Deno.test({
  name: "native sockets: end() lets the peer read every byte, then the end",
  ignore,
  async fn() {
    const { conn, client } = await pair();
    const bytes = randomBytes(3 * 1024 * 1024);
    const received = readAll(client);
    let offset = 0;
    while (offset < bytes.length) offset += await conn.write(bytes.subarray(offset));
    await conn.end();
    assertBytesEqual(await within(received, 5000, "the peer's end of the stream"), bytes);
    assertEquals(await conn.read(new Uint8Array(1)), null, "the peer closed in turn");
    conn.close();
  },
});

/** The kernel's default for TCP_NOTSENT_LOWAT: unlimited (2^32 - 1) unless set. */
const SYSTEM_UNSENT_LIMIT = "/proc/sys/net/ipv4/tcp_notsent_lowat";

/** Bytes `send` (a 64 KiB step from `offset`) moves for a peer that reads nothing, until a step has waited 200 ms. */
async function bytesQueuedUnread(send: (offset: number) => Promise<number>): Promise<number> {
  let total = 0;
  while (true) {
    const sending = send(total);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const waited = new Promise<null>((resolve) => timer = setTimeout(resolve, 200, null));
    const n = await Promise.race([sending, waited]);
    clearTimeout(timer);
    if (n === null) {
      sending.catch(() => {}); // rejected by the close that follows
      return total;
    }
    total += n;
  }
}

Deno.test({
  name:
    "native sockets: sendFile queues one step beyond what the peer's window takes (TCP_NOTSENT_LOWAT), where the runtime's sockets queue megabytes",
  ignore,
  async fn() {
    await withTempDir(async (dir) => {
      const step = 64 * 1024;
      await Deno.writeFile(`${dir}/f`, new Uint8Array(16 * 1024 * 1024));
      using file = openat2(AT_FDCWD, `${dir}/f`, O.RDONLY, 0);
      const native = await pair();
      const nativeQueued = await bytesQueuedUnread((offset) =>
        native.conn.sendFile(file.fd, offset, step)
      );
      native.conn.close();
      native.client.close();
      using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      using _client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
      using conn = await listener.accept();
      const chunk = new Uint8Array(step);
      const runtimeQueued = await bytesQueuedUnread(() => conn.write(chunk));
      // The peer's window (some 128 KiB at first) plus at most a step or two left unsent.
      assert(nativeQueued < 1024 * 1024, `${nativeQueued} bytes queued`);
      // A system-wide limit (net.ipv4.tcp_notsent_lowat) would hold the runtime's sockets too.
      const systemLimit = Number(await Deno.readTextFile(SYSTEM_UNSENT_LIMIT).catch(() => "0"));
      if (systemLimit > 16 * 1024 * 1024 || systemLimit < 0) {
        assert(nativeQueued * 4 < runtimeQueued, `${nativeQueued} against ${runtimeQueued}`);
      }
    });
  },
});

Deno.test({
  name:
    "native sockets: sendFile sends a file from an offset, 0 at its end; a descriptor it cannot read is the file's failure",
  ignore,
  async fn() {
    await withTempDir(async (dir) => {
      const bytes = randomBytes(5 * 1024 * 1024 + 3);
      await Deno.writeFile(`${dir}/f`, bytes);
      using file = openat2(AT_FDCWD, `${dir}/f`, O.RDONLY, 0);
      const { conn, client } = await pair();
      const received = readAll(client);
      let offset = 1000;
      for (let n; (n = await conn.sendFile(file.fd, offset, 1024 * 1024)) > 0;) offset += n;
      assertEquals(offset, bytes.length);
      await conn.end();
      assertBytesEqual(await received, bytes.subarray(1000));
      // A descriptor not open for reading: the file's failure, not the connection's.
      using writeOnly = openat2(AT_FDCWD, `${dir}/f`, O.WRONLY, 0);
      const failure = await rejection(conn.sendFile(writeOnly.fd, 0, 1));
      assert(failure instanceof LocalFileError, String(failure));
      assertEquals((failure.cause as { code?: string }).code, "EBADF");
      conn.close();
    });
  },
});

/**
 * Runs `body` with a native connection whose runtime client has sent 1,000 bytes (short of
 * any batch) and keeps its side open, a new file to receive them into, and what it holds.
 */
async function withSlowUpload(
  body: (upload: {
    conn: NativeConn;
    client: Deno.Conn;
    file: number;
    written: () => Promise<Uint8Array>;
    bytes: Uint8Array;
  }) => Promise<void>,
): Promise<void> {
  await withTempDir(async (dir) => {
    using file = openat2(AT_FDCWD, `${dir}/f`, O.WRONLY | O.CREAT, 0, 0o600);
    const { conn, client } = await pair();
    const bytes = randomBytes(1000);
    await client.write(bytes);
    await body({ conn, client, file: file.fd, written: () => Deno.readFile(`${dir}/f`), bytes });
  });
}

Deno.test({
  name:
    "native sockets: receiveFile writes what a slow client sent within about a second, not once a batch has come",
  ignore,
  async fn() {
    await withSlowUpload(async ({ conn, client, file, written, bytes }) => {
      const n = await within(conn.receiveFile(file, 0, 1024 * 1024), 3000, "the slow bytes");
      assertEquals(n, bytes.length);
      assertBytesEqual(await written(), bytes);
      client.close();
      assertEquals(await conn.receiveFile(file, n, 1024 * 1024), 0, "the end of the stream");
      conn.close();
    });
  },
});

Deno.test({
  name:
    "native sockets: a close while receiveFile waits for more still writes what came; the next call rejects",
  ignore,
  async fn() {
    await withSlowUpload(async ({ conn, client, file, written, bytes }) => {
      const receiving = conn.receiveFile(file, 0, 1024 * 1024, 5000);
      await new Promise((resolve) => setTimeout(resolve, 100));
      conn.close(); // as ABOR or the stall watchdog does
      assertEquals(await within(receiving, 3000, "the call under the close"), bytes.length);
      assertBytesEqual(await written(), bytes);
      const open = () => [...Deno.readDirSync("/proc/self/fd")].length;
      const before = open();
      const next = await rejection(conn.receiveFile(file, bytes.length, 1024 * 1024));
      assert(next instanceof Deno.errors.BadResource, String(next));
      assertEquals(open(), before, "the rejected call leaves no pipe open");
      client.close();
    });
  },
});

Deno.test({
  name:
    "native sockets: a process whose waits have all ended (by an event, an abort, a close) exits",
  ignore,
  async fn() {
    // A wait left outstanding on a worker thread would keep the child alive for ever.
    const script = new URL("./support/native_waits.ts", import.meta.url);
    const { code, killed, stdout, stderr } = await runScript(script, 10_000);
    assert(!killed, "the child did not exit by itself");
    assertEquals(code, 0, stderr);
    assertEquals(stdout, "read: 3\naborted: AbortError\nclosed: BadResource\n");
  },
});

/** A native connection accepted with `uploads` from a runtime client, and that client. */
async function pairWith(uploads: UploadPumps) {
  const listener = NativeListener.listen({ hostname: "127.0.0.1", port: 0, uploads });
  const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const conn = await listener.accept();
  listener.close();
  return { conn, client };
}

/**
 * Runs `body` with a connection whose uploads an upload thread takes, its client,
 * the file `dir/f` open for writing, and `uploads` (to pair more connections).
 */
async function withUploadThread(
  body: (t: {
    conn: NativeConn;
    client: Deno.Conn;
    file: number;
    dir: string;
    uploads: UploadPumps;
  }) => Promise<void>,
): Promise<void> {
  const uploads = new UploadPumps({ threads: 1, mainThreadShare: false });
  try {
    await uploads.start();
    await withTempDir(async (dir) => {
      using file = openat2(AT_FDCWD, `${dir}/f`, O.WRONLY | O.CREAT, 0, 0o600);
      const { conn, client } = await pairWith(uploads);
      await body({ conn, client, file: file.fd, dir, uploads });
    });
  } finally {
    uploads.close();
  }
}

Deno.test({
  name:
    "native sockets: an upload thread's upload shows its progress, ends with the peer, and a failed write is a LocalFileError",
  ignore,
  async fn() {
    await withUploadThread(async ({ conn, client, file, dir, uploads }) => {
      const bytes = randomBytes(1024 * 1024);
      const startedAt = performance.now();
      const upload = conn.receiveFileToEnd(file, 0, { step: 64 * 1024, patience: 100 });
      assert(upload.offThread, "on the thread");
      await writeAll(client, bytes);
      await waitFor(() => upload.bytes === bytes.length);
      assert(upload.lastProgress > startedAt, "the time of the last bytes is seen");
      client.close();
      assertEquals(await within(upload.done, 3000, "the end"), bytes.length);
      assertBytesEqual(await Deno.readFile(`${dir}/f`), bytes);
      conn.close();

      // A descriptor open for reading only: splice into it fails (EBADF).
      using readOnly = openat2(AT_FDCWD, `${dir}/f`, O.RDONLY, 0, 0);
      const second = await pairWith(uploads);
      const failing = second.conn.receiveFileToEnd(readOnly.fd, 0, {
        step: 65536,
        patience: 100,
      });
      await second.client.write(bytes.subarray(0, 1000));
      const error = await rejection(within(failing.done, 3000, "the failure"));
      assert(error instanceof LocalFileError, String(error));
      assertStringIncludes(error.message, "EBADF");
      second.conn.close();
      second.client.close();
    });
  },
});

Deno.test({
  name:
    "native sockets: a close under an upload thread's upload writes what came, then it rejects as one here would; no descriptor is left",
  ignore,
  async fn() {
    await withUploadThread(async ({ conn, client, file, dir }) => {
      const { localAddr, remoteAddr } = conn;
      const upload = conn.receiveFileToEnd(file, 0, { step: 65536, patience: 5000 });
      assert(upload.offThread, "on the thread");
      const bytes = randomBytes(1000);
      await client.write(bytes);
      // Short of a batch: the thread holds them in its pipe, waiting for more.
      await new Promise((resolve) => setTimeout(resolve, 100));
      conn.close(); // as ABOR or the stall watchdog does
      const error = await rejection(within(upload.done, 3000, "the upload under the close"));
      assert(error instanceof Deno.errors.BadResource, String(error));
      assertEquals(upload.bytes, bytes.length, "what came is counted");
      assertBytesEqual(await Deno.readFile(`${dir}/f`), bytes, "and written");
      assertEquals(await client.read(new Uint8Array(10)), null, "the client sees the end");
      client.close();
      // The thread closed its copy before it answered; this thread closed its own at once.
      assert(!holdsSocket(localAddr, remoteAddr), "no descriptor of the socket is left");
    });
  },
});

/**
 * `src/native/page_cache.ts`: which transfers' copies run on the main thread, and
 * downloads and spliced uploads moving whole on either thread. The last test
 * leaves writes on worker threads for the rest of the process, hence a file of
 * its own.
 */

import { AT_FDCWD, cachedPages, O, openat2, pipe } from "../src/native/libc.ts";
import { mayReadNow, mayWriteNow, onLocalDisk, STALL, writeNow } from "../src/native/page_cache.ts";
import { NativeListener, nativeSocketsAvailable } from "../src/native/socket.ts";
import { assert, assertBytesEqual, assertEquals } from "./support/assert.ts";
import { randomBytes } from "./support/data.ts";

const ignore = !nativeSocketsAvailable();

/** `bytes` sent by a runtime client and received with `receiveFile` into a new file; what the file holds. */
async function upload(bytes: Uint8Array): Promise<Uint8Array> {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/upload`;
    using file = openat2(AT_FDCWD, path, O.WRONLY | O.CREAT, 0, 0o600);
    using listener = NativeListener.listen({ hostname: "127.0.0.1", port: 0 });
    const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
    using conn = await listener.accept();
    const sending = (async () => {
      for (let offset = 0; offset < bytes.length;) {
        offset += await client.write(bytes.subarray(offset));
      }
      client.close();
    })();
    let offset = 0;
    for (let n; (n = await conn.receiveFile(file.fd, offset, 1024 * 1024)) > 0;) offset += n;
    await sending;
    assertEquals(offset, bytes.length);
    return await Deno.readFile(path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name: "page cache: a file on a local disk is one, a pipe or /proc is not",
  ignore,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      using file = openat2(AT_FDCWD, `${dir}/file`, O.WRONLY | O.CREAT, 0, 0o600);
      assert(onLocalDisk(file.fd), "a temporary directory's file");
      using ends = pipe();
      assert(!onLocalDisk(ends.writer.fd), "a pipe");
      using proc = openat2(AT_FDCWD, "/proc/self/status", O.RDONLY, 0);
      assert(!onLocalDisk(proc.fd), "/proc");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "page cache: a write fits below the background threshold, a petabyte does not",
  ignore,
  fn() {
    assert(mayWriteNow(1024 * 1024));
    assert(!mayWriteNow(2 ** 50));
  },
});

/**
 * A file of `bytes` in `dir` whose pages are not in memory: copied there by `dd`
 * with `O_DIRECT`; `null` where the filesystem refuses it (tmpfs).
 */
async function coldFile(dir: string, bytes: Uint8Array): Promise<string | null> {
  await Deno.writeFile(`${dir}/source`, bytes);
  const output = await new Deno.Command("dd", {
    args: [`if=${dir}/source`, `of=${dir}/cold`, "bs=1M", "oflag=direct"],
    stdout: "null",
    stderr: "null",
  }).output();
  return output.success ? `${dir}/cold` : null;
}

/** The descriptors this process has open. */
function openDescriptors(): number {
  return [...Deno.readDirSync("/proc/self/fd")].length;
}

Deno.test({
  name:
    "page cache: a file not in memory is sent from a worker thread, whole; then it is in memory",
  ignore,
  async fn() {
    const dir = await Deno.makeTempDir({ dir: Deno.cwd() });
    try {
      const bytes = randomBytes(8 * 1024 * 1024 + 777);
      const path = await coldFile(dir, bytes);
      if (path === null) return console.log("skipped: no O_DIRECT in", dir);
      using file = openat2(AT_FDCWD, path, O.RDONLY, 0);
      assertEquals(cachedPages(file.fd, 0, bytes.length), 0);
      assert(!mayReadNow(file.fd, 0, 1024 * 1024), "a cold file is read off the main thread");
      assert(
        mayReadNow(file.fd, bytes.length, 1024 * 1024),
        "past its end there is nothing to read",
      );

      using listener = NativeListener.listen({ hostname: "127.0.0.1", port: 0 });
      const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
      const received = new Response(client.readable).bytes();
      const conn = await listener.accept();
      let offset = 0;
      for (let n; (n = await conn.sendFile(file.fd, offset, 1024 * 1024)) > 0;) offset += n;
      conn.close();
      assertBytesEqual(await received, bytes);
      assert(mayReadNow(file.fd, 0, bytes.length), "once read, it is in memory");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "page cache: a connection closed while a worker thread sends keeps its descriptor until then",
  ignore,
  async fn() {
    const dir = await Deno.makeTempDir({ dir: Deno.cwd() });
    try {
      const bytes = randomBytes(4 * 1024 * 1024);
      const path = await coldFile(dir, bytes);
      if (path === null) return console.log("skipped: no O_DIRECT in", dir);
      using file = openat2(AT_FDCWD, path, O.RDONLY, 0);
      using listener = NativeListener.listen({ hostname: "127.0.0.1", port: 0 });
      const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
      const received = new Response(client.readable).bytes();
      const conn = await listener.accept();
      const before = openDescriptors();
      const sending = conn.sendFile(file.fd, 0, bytes.length).catch((error) => error);
      conn.close();
      assertEquals(openDescriptors(), before, "the socket stays open under the call");
      // The call ends on the connection's end (or had sent its bytes before it).
      const outcome = await sending;
      assert(
        typeof outcome === "number" || outcome instanceof Deno.errors.BrokenPipe,
        `${outcome}`,
      );
      await received;
      assertEquals(
        openDescriptors(),
        before - 2,
        "the socket is closed once the call returns (and the client's end once it read to the end)",
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "page cache: uploads land whole on the main thread, and on worker threads after a stall",
  ignore,
  async fn() {
    const bytes = randomBytes(24 * 1024 * 1024 + 12345);
    assert(mayWriteNow(1024 * 1024));
    assertBytesEqual(await upload(bytes), bytes);
    // Busy for longer than STALL without sleeping (preempted, say): nothing changes.
    writeNow(() => {
      for (const start = performance.now(); performance.now() - start < 2 * STALL;);
      return 0;
    });
    assert(mayWriteNow(1), "a write that never waited in the kernel keeps writes here");
    // Made to sleep in the kernel for longer than STALL: the next writes leave.
    writeNow(() => {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2 * STALL);
      return 0;
    });
    assert(!mayWriteNow(1), "a write made to wait sends the next ones to worker threads");
    assertBytesEqual(await upload(bytes), bytes);
  },
});

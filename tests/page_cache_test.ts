/**
 * `src/native/page_cache.ts`: which uploads' writes run on the main thread, and
 * spliced uploads landing whole on either thread. The last test leaves writes on
 * worker threads for the rest of the process, hence a file of its own.
 */

import { AT_FDCWD, O, openat2, pipe } from "../src/native/libc.ts";
import { mayWriteNow, onLocalDisk, STALL, wroteNow } from "../src/native/page_cache.ts";
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

Deno.test({
  name: "page cache: uploads land whole on the main thread, and on worker threads after a stall",
  ignore,
  async fn() {
    const bytes = randomBytes(24 * 1024 * 1024 + 12345);
    assert(mayWriteNow(1024 * 1024));
    assertBytesEqual(await upload(bytes), bytes);
    wroteNow(0, STALL + 1);
    assert(!mayWriteNow(1), "a stalled write sends the next ones to worker threads");
    assertBytesEqual(await upload(bytes), bytes);
  },
});

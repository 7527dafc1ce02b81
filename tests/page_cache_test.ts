/**
 * `src/native/page_cache.ts`: which transfers' copies run on the main thread, and
 * downloads and spliced uploads moving whole on either thread. The last test
 * leaves writes on worker threads for the rest of the process, hence a file of
 * its own.
 */

import {
  AT_FDCWD,
  cachedPages,
  type Descriptor,
  O,
  openat2,
  pageSize,
  pipe,
  residentPages,
} from "../src/native/libc.ts";
import {
  COOL_DOWN,
  MAX_COOL_DOWN,
  mayReadNow,
  mayWriteNow,
  onLocalDisk,
  SAMPLE_INTERVAL,
  STALL,
  WriteBudget,
  writeNow,
} from "../src/native/page_cache.ts";
import { type NativeConn, NativeListener, nativeSocketsAvailable } from "../src/native/socket.ts";
import { assert, assertBytesEqual, assertEquals, within } from "./support/assert.ts";
import { randomBytes } from "./support/data.ts";
import { holdsSocket } from "./support/sockets.ts";

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

/** Readings a test sets: `/proc/vmstat`'s counts (in 4 KiB pages), the thread's switches, the clock. */
function fakeKernel() {
  const kernel = {
    background: 1000,
    foreground: 2000,
    dirty: 0,
    writeback: 0,
    switches: 0,
    clock: 0,
    unreadable: false,
    readings: {
      vmstat: () => {
        if (kernel.unreadable) throw new Deno.errors.PermissionDenied("/proc/vmstat");
        return [
          `nr_dirty ${kernel.dirty}`,
          `nr_writeback ${kernel.writeback}`,
          `nr_dirty_threshold ${kernel.foreground}`,
          `nr_dirty_background_threshold ${kernel.background}`,
        ].join("\n");
      },
      voluntarySwitches: () => kernel.switches,
      pageSize: () => 4096,
      now: () => kernel.clock,
    },
  };
  return kernel;
}

Deno.test("page cache: writes fit below a quarter of the way past the background threshold", () => {
  const kernel = fakeKernel();
  const budget = new WriteBudget(kernel.readings);
  // 1000 + (2000 - 1000) / 4 = 1250 pages, less 100 dirty and 50 under writeback.
  kernel.dirty = 100;
  kernel.writeback = 50;
  assert(budget.mayWriteNow(1100 * 4096 - 1));
  assert(!budget.mayWriteNow(1100 * 4096));
  // What is written counts until the next reading, SAMPLE_INTERVAL later.
  assertEquals(budget.writeNow(() => 1000 * 4096), 1000 * 4096);
  assert(!budget.mayWriteNow(200 * 4096));
  kernel.clock += SAMPLE_INTERVAL;
  assert(budget.mayWriteNow(200 * 4096));
  kernel.dirty = 1300;
  kernel.clock += SAMPLE_INTERVAL;
  assert(!budget.mayWriteNow(1), "past the limit, nothing");
});

Deno.test("page cache: a write made to wait in the kernel sends the next ones away, for a while", () => {
  const kernel = fakeKernel();
  const budget = new WriteBudget(kernel.readings);
  // Long, but never made to wait (preempted, or the host took the processor): nothing changes.
  budget.writeNow(() => {
    kernel.clock += 10 * STALL;
    return 4096;
  });
  assert(budget.mayWriteNow(4096));
  // Made to wait, briefly: nothing changes either.
  budget.writeNow(() => {
    kernel.clock += STALL / 2;
    kernel.switches++;
    return 4096;
  });
  assert(budget.mayWriteNow(4096));
  // Made to wait 3 ms: worker threads for COOL_DOWN times that.
  budget.writeNow(() => {
    kernel.clock += 3;
    kernel.switches++;
    return 4096;
  });
  kernel.clock += 3 * COOL_DOWN - 1;
  assert(!budget.mayWriteNow(4096));
  kernel.clock += 1;
  assert(budget.mayWriteNow(4096));
  // Made to wait a long time: worker threads for MAX_COOL_DOWN at most.
  budget.writeNow(() => {
    kernel.clock += 10 * MAX_COOL_DOWN / COOL_DOWN;
    kernel.switches++;
    return 4096;
  });
  kernel.clock += MAX_COOL_DOWN - 1;
  assert(!budget.mayWriteNow(4096));
  kernel.clock += 1;
  assert(budget.mayWriteNow(4096));
});

Deno.test("page cache: without /proc/vmstat (or a count in it), every write goes to worker threads", () => {
  const kernel = fakeKernel();
  kernel.unreadable = true;
  assert(!new WriteBudget(kernel.readings).mayWriteNow(1));
  const partial = new WriteBudget({ ...kernel.readings, vmstat: () => "nr_dirty 0\n" });
  assert(!partial.mayWriteNow(1));
});

Deno.test({
  name: "page cache: this kernel's /proc/vmstat has the counts the budget reads",
  ignore,
  fn() {
    const vmstat = Deno.readTextFileSync("/proc/vmstat");
    for (
      const name of [
        "nr_dirty",
        "nr_writeback",
        "nr_dirty_threshold",
        "nr_dirty_background_threshold",
      ]
    ) {
      assert(new RegExp(`^${name} \\d+$`, "m").test(vmstat), name);
    }
    assert(!new WriteBudget().mayWriteNow(2 ** 50), "a petabyte never fits");
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

/** What {@linkcode withColdDownload} hands its body. */
interface ColdDownload {
  /** The file, open for reading, none of its pages in memory. */
  file: Descriptor;
  /** What it holds. */
  bytes: Uint8Array;
  /** A native connection to a runtime client... */
  conn: NativeConn;
  /** ...which reads all it is sent, to the end. */
  received: Promise<Uint8Array>;
}

/**
 * Runs `body` with a file of `size` random bytes not in memory, and a connection
 * to send it on; skipped (said) where the filesystem of the working directory
 * has no `O_DIRECT` (the temporary directory may be a tmpfs).
 */
async function withColdDownload(size: number, body: (setup: ColdDownload) => Promise<void>) {
  const dir = await Deno.makeTempDir({ dir: Deno.cwd() });
  try {
    const bytes = randomBytes(size);
    const path = await coldFile(dir, bytes);
    if (path === null) return console.log("skipped: no O_DIRECT in", dir);
    using file = openat2(AT_FDCWD, path, O.RDONLY, 0);
    using listener = NativeListener.listen({ hostname: "127.0.0.1", port: 0 });
    const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
    const received = new Response(client.readable).bytes();
    using conn = await listener.accept();
    await body({ file, bytes, conn, received });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name:
    "page cache: a file not in memory is sent from a worker thread, whole; then it is in memory",
  ignore,
  async fn() {
    await withColdDownload(8 * 1024 * 1024 + 777, async ({ file, bytes, conn, received }) => {
      assertEquals(cachedPages(file.fd, 0, bytes.length), 0);
      assertEquals(residentPages(file.fd, 0, bytes.length), 0);
      assert(!mayReadNow(file.fd, 0, 1024 * 1024), "a cold file is read off the main thread");
      assert(
        mayReadNow(file.fd, bytes.length, 1024 * 1024),
        "past its end there is nothing to read",
      );
      let offset = 0;
      for (let n; (n = await conn.sendFile(file.fd, offset, 1024 * 1024)) > 0;) offset += n;
      conn.close();
      assertBytesEqual(await received, bytes);
      assert(mayReadNow(file.fd, 0, bytes.length), "once read, it is in memory");
    });
  },
});

Deno.test({
  name:
    "page cache: a connection closed while a worker thread sends keeps its descriptor until then",
  ignore,
  async fn() {
    await withColdDownload(4 * 1024 * 1024, async ({ file, bytes, conn, received }) => {
      const { localAddr, remoteAddr } = conn;
      assert(holdsSocket(localAddr, remoteAddr), "the socket is found");
      const sending = conn.sendFile(file.fd, 0, bytes.length).catch((error) => error);
      conn.close();
      assert(holdsSocket(localAddr, remoteAddr), "the socket stays open under the call");
      // The call ends on the connection's end (or had sent its bytes before it).
      const outcome = await sending;
      assert(
        typeof outcome === "number" || outcome instanceof Deno.errors.BrokenPipe,
        `${outcome}`,
      );
      await received;
      assert(!holdsSocket(localAddr, remoteAddr), "the socket is closed once the call returns");
    });
  },
});

Deno.test({
  name: "page cache: a file on overlayfs read into memory is sent from the main thread",
  ignore: ignore || Deno.uid() !== 0,
  async fn() {
    const dir = await Deno.makeTempDir();
    const merged = `${dir}/merged`;
    try {
      for (const sub of ["lower", "upper", "work", "merged"]) await Deno.mkdir(`${dir}/${sub}`);
      const options = `lowerdir=${dir}/lower,upperdir=${dir}/upper,workdir=${dir}/work`;
      const mount = await new Deno.Command("mount", {
        args: ["-t", "overlay", "overlay", "-o", options, merged],
        stderr: "null",
      }).output();
      if (!mount.success) return console.log("skipped: no overlayfs mount here");
      try {
        const bytes = randomBytes(4 * 1024 * 1024);
        await Deno.writeFile(`${merged}/file`, bytes);
        assertBytesEqual(await Deno.readFile(`${merged}/file`), bytes);
        using file = openat2(AT_FDCWD, `${merged}/file`, O.RDONLY, 0);
        // cachestat looks at the overlay's own (empty) mapping; mincore at the file's.
        assertEquals(residentPages(file.fd, 0, bytes.length), bytes.length / pageSize());
        assert(mayReadNow(file.fd, 0, bytes.length), "its pages are in memory");
      } finally {
        await new Deno.Command("umount", { args: [merged] }).output();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "page cache: a close while a worker thread's send meets a full socket ends it, no hang",
  ignore,
  async fn() {
    await withColdDownload(8 * 1024 * 1024, async ({ file, conn, received }) => {
      // The client reads nothing: fill what the socket and the client's window hold.
      const filler = new Uint8Array(64 * 1024 * 1024);
      assert(await conn.write(filler) < filler.length, "the socket is full");
      const sending = conn.sendFile(file.fd, 0, 1024 * 1024).then(
        (n) => n,
        (error) => error,
      );
      conn.close();
      const outcome = await within(sending, 5000, "the send");
      assert(
        typeof outcome === "number" || outcome instanceof Deno.errors.BadResource ||
          outcome instanceof Deno.errors.BrokenPipe,
        `${outcome}`,
      );
      await received;
    });
  },
});

Deno.test({
  name:
    "page cache: uploads land whole, and so they do on worker threads after a write made to wait",
  ignore,
  async fn() {
    const bytes = randomBytes(24 * 1024 * 1024 + 12345);
    assertBytesEqual(await upload(bytes), bytes);
    // Made to sleep in the kernel for longer than STALL: the next writes leave.
    writeNow(() => {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2 * STALL);
      return 0;
    });
    assert(!mayWriteNow(1), "a write made to wait sends the next ones to worker threads");
    assertBytesEqual(await upload(bytes), bytes);
  },
});

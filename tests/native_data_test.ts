/**
 * The zero-copy data path: plain data connections on native sockets, TYPE I
 * downloads from the disk sent with sendfile(2). Which path a transfer took is read
 * from its debug line (`RETR <path> data path: sendfile (native socket)`); every
 * behaviour of the stream path is checked again on the fast path.
 */

import { AbstractedFS, FTPHandler, MemoryFS, UploadPumps } from "../mod.ts";
import { KernelResolver } from "../src/fs/resolver.ts";
import { nativeSocketsAvailable } from "../src/native/socket.ts";
import { writeAll } from "../src/transport.ts";
import { assert, assertBytesEqual, assertEquals, assertStringIncludes } from "./support/assert.ts";
import { testCerts } from "./support/certs.ts";
import { randomBytes } from "./support/data.ts";
import { FtpClient, readAll, writeAndClose } from "./support/ftp_client.ts";
import { hasIPv6Loopback } from "./support/ipv6.ts";
import { connectFrom, receiveThenReset, sendThenReset } from "./support/python.ts";
import { runScript } from "./support/script.ts";
import { onMemory, waitFor, withServer } from "./support/server.ts";

/** Whether this process can take the fast path: native sockets, and the kernel's jail for descriptors. */
const fastPath = nativeSocketsAvailable() && KernelResolver.available();
const ignore = !fastPath || onMemory;

const MiB = 1024 * 1024;
const encoder = new TextEncoder();

/** The data paths logged so far, in order: `RETR sendfile (native socket)`, `LIST stream (...)`. */
function dataPaths(logs: string[]): string[] {
  return logs.flatMap((line) => {
    const match = / (\w+)(?: \S+)? data path: (.+)$/.exec(line);
    return match ? [`${match[1]} ${match[2]}`] : [];
  });
}

/** Where a test server's spliced uploads run, and the data path its log then names. */
interface Placement {
  where: string;
  splice: string;
  /** Runs `body` with the server options that put the uploads there. */
  with(body: (options: { uploadThreads: number | UploadPumps }) => Promise<void>): Promise<void>;
}

/** The main thread for every upload, or an upload thread for every one. */
const PLACEMENTS: Placement[] = [
  {
    where: "main thread",
    splice: "splice",
    with: (body) => body({ uploadThreads: 0 }),
  },
  {
    where: "upload thread",
    splice: "splice on an upload thread",
    async with(body) {
      const uploads = new UploadPumps({ threads: 1, mainThreadShare: false });
      try {
        await uploads.start();
        await body({ uploadThreads: uploads });
      } finally {
        uploads.close();
      }
    },
  },
];

/** A handler class that records the files passed to `event`. */
function recordingHandler(event: "onIncompleteFileSent" | "onIncompleteFileReceived") {
  const files: string[] = [];
  class RecordingHandler extends FTPHandler {
    constructor(...args: ConstructorParameters<typeof FTPHandler>) {
      super(...args);
      this[event] = (file: string) => void files.push(file);
    }
  }
  return [RecordingHandler, files] as const;
}

/** The port of a 229 reply. */
function epsvPort(text: string): number {
  return Number(/\|\|\|(\d+)\|/.exec(text)![1]);
}

/** A sparse file of `size` bytes. */
async function sparseFile(path: string, size: number): Promise<void> {
  using file = await Deno.open(path, { write: true, create: true });
  await file.truncate(size);
}

Deno.test({
  name: "sendfile serves TYPE I RETR from the disk; TYPE A, LIST and PROT P stream",
  ignore,
  async fn() {
    const certs = await testCerts();
    const tls = { certfile: certs.cert, keyfile: certs.key };
    await withServer({ tls }, async ({ port, home, logs }) => {
      const bytes = randomBytes(3 * MiB + 5);
      await Deno.writeFile(`${home}/f`, bytes);
      await Deno.writeTextFile(`${home}/text`, "one\ntwo\n");
      const client = await FtpClient.login(port);
      try {
        await client.command("TYPE I");
        assertBytesEqual(await client.retr("f"), bytes);
        assertBytesEqual(await client.retr("text"), encoder.encode("one\ntwo\n"));
        await client.command("TYPE A");
        assertEquals(new TextDecoder().decode(await client.retr("text")), "one\r\ntwo\r\n");
        assertStringIncludes(await client.list(), "text");
      } finally {
        client.close();
      }
      const secure = await FtpClient.connect(port);
      try {
        await secure.startTls([await Deno.readTextFile(certs.ca)]);
        await secure.login("user", "12345");
        await secure.protectData();
        await secure.command("TYPE I");
        assertBytesEqual(await secure.retr("f"), bytes, "PROT P over a native socket");
      } finally {
        secure.close();
      }
      assertEquals(dataPaths(logs), [
        "RETR sendfile (native socket)",
        "RETR sendfile (native socket)",
        "RETR stream (native socket)",
        "LIST stream (native socket)",
        "RETR stream (native socket, TLS)",
      ]);
    });
  },
});

Deno.test({
  name: "no sendfile from MemoryFS, with useSendfile: false, an overridden open or no kernel jail",
  ignore,
  async fn() {
    const bytes = randomBytes(200_000);
    const memory = new MemoryFS();
    class OwnOpen extends AbstractedFS {
      override open(path: string, options: Deno.OpenOptions) {
        return super.open(path, options);
      }
    }
    const cases = [
      ["MemoryFS", { abstractedFs: (root: string) => memory.view(root) }, "native"],
      ["useSendfile: false", { useSendfile: false }, "runtime"],
      [
        "open overridden",
        { abstractedFs: (root: string) => new OwnOpen(root) },
        "native",
      ],
      [
        "kernelJail: false",
        {
          abstractedFs: (root: string) => new AbstractedFS(root, undefined, { kernelJail: false }),
        },
        "native",
      ],
    ] as const;
    for (const [name, options, socket] of cases) {
      await withServer(options, async ({ port, home, logs }) => {
        await Deno.writeFile(`${home}/f`, bytes);
        const file = await memory.view(home).openWrite("/f", { truncate: true });
        await file.write(bytes);
        file.close();
        const client = await FtpClient.login(port);
        try {
          await client.command("TYPE I");
          assertBytesEqual(await client.retr("f"), bytes, name);
        } finally {
          client.close();
        }
        assertEquals(dataPaths(logs), [`RETR stream (${socket} socket)`], name);
      });
    }
  },
});

Deno.test({
  name: "fast path: STAT shows progress, and ABOR mid-download answers 426 then 226",
  ignore,
  async fn() {
    const [Handler, incomplete] = recordingHandler("onIncompleteFileSent");
    await withServer({ handler: Handler }, async ({ port, home, logs }) => {
      await sparseFile(`${home}/big`, 512 * MiB);
      const client = await FtpClient.login(port);
      try {
        await client.command("TYPE I");
        const data = await client.pasv();
        assertEquals((await client.command("RETR big")).code, 125);
        const soFar = async () => {
          const stat = await client.command("STAT");
          assertStringIncludes(stat.text, "transfer in progress: RETR");
          return Number(/\((\d+) bytes so far\)/.exec(stat.text)![1]);
        };
        const buffer = new Uint8Array(MiB);
        let read = 0;
        while (read < 8 * MiB) read += (await data.read(buffer))!;
        const first = await soFar();
        assert(first >= read, `${first} bytes counted, ${read} read`);
        while (read < first + 8 * MiB) read += (await data.read(buffer))!;
        const second = await soFar();
        assert(second > first, `progress: ${first}, then ${second}`);
        await client.send("ABOR");
        assertEquals((await client.reply()).code, 426);
        assertEquals((await client.reply()).code, 226);
        data.close();
        assertEquals((await client.command("NOOP")).code, 200);
      } finally {
        client.close();
      }
      await waitFor(() => incomplete.length === 1);
      assert(logs.some((line) => /RETR \S+\/big completed=0 bytes=\d+/.test(line)));
      assertEquals(dataPaths(logs), ["RETR sendfile (native socket)"]);
    });
  },
});

Deno.test({
  name: "fast path: REST + RETR sends from the offset, past 4 GiB too",
  ignore,
  async fn() {
    await withServer({}, async ({ port, home, logs }) => {
      const bytes = randomBytes(1_000_000);
      await Deno.writeFile(`${home}/f`, bytes);
      // A sparse 5 GiB file whose last bytes are known: an offset that needs 64 bits.
      const tail = randomBytes(1000);
      const far = 5 * 1024 * MiB - tail.length;
      await sparseFile(`${home}/huge`, far);
      await Deno.writeFile(`${home}/huge`, tail, { append: true });
      const client = await FtpClient.login(port);
      try {
        await client.command("TYPE I");
        await client.command("REST 300000");
        assertBytesEqual(await client.retr("f"), bytes.subarray(300_000));
        await client.command(`REST ${bytes.length}`);
        assertEquals((await client.retr("f")).length, 0, "REST at the end: nothing to send");
        await client.command(`REST ${far}`);
        assertBytesEqual(await client.retr("huge"), tail);
      } finally {
        client.close();
      }
      assertEquals(dataPaths(logs), Array(3).fill("RETR sendfile (native socket)"));
      const sizes = logs.flatMap((line) =>
        /RETR \S+ completed=1 bytes=(\d+)/.exec(line)?.[1] ?? []
      );
      assertEquals(sizes, ["700000", "0", "1000"], "the log lines count the bytes sent");
    });
  },
});

for (const placement of PLACEMENTS) {
  Deno.test({
    name:
      `splice writes TYPE I STOR, REST + STOR and STOU to the disk (${placement.where}); TYPE A and APPE stream`,
    ignore,
    fn: () =>
      placement.with(async (uploads) => {
        await withServer(uploads, async ({ port, home, logs }) => {
          const bytes = randomBytes(3 * MiB + 5);
          const client = await FtpClient.login(port);
          try {
            await client.command("TYPE I");
            await client.store("up", bytes);
            assertBytesEqual(await Deno.readFile(`${home}/up`), bytes);
            await client.store("up", bytes.subarray(0, 1000));
            assertBytesEqual(
              await Deno.readFile(`${home}/up`),
              bytes.subarray(0, 1000),
              "truncated",
            );
            assertEquals((await client.command("REST 600")).code, 350);
            await client.store("up", bytes.subarray(5000, 9000));
            const resumed = await Deno.readFile(`${home}/up`);
            assertBytesEqual(resumed.subarray(0, 600), bytes.subarray(0, 600), "kept before REST");
            assertBytesEqual(
              resumed.subarray(600),
              bytes.subarray(5000, 9000),
              "written from REST",
            );
            const [unique] = await client.store("", bytes, "STOU");
            const name = /FILE: (\S+)/.exec(unique.text)![1];
            assertBytesEqual(await Deno.readFile(`${home}/${name}`), bytes);
            await client.store("up", encoder.encode("!"), "APPE");
            assertEquals((await Deno.stat(`${home}/up`)).size, 4601, "appended");
            await client.command("TYPE A");
            await client.store("text", encoder.encode("one\r\ntwo\r\n"));
            assertEquals(await Deno.readTextFile(`${home}/text`), "one\ntwo\n");
          } finally {
            client.close();
          }
          assertEquals(dataPaths(logs), [
            ...Array(3).fill(`STOR ${placement.splice} (native socket)`),
            `STOU ${placement.splice} (native socket)`,
            "APPE stream (native socket)",
            "STOR stream (native socket)",
          ]);
          const sizes = logs.flatMap((line) =>
            /STOR \S+ completed=1 bytes=(\d+)/.exec(line)?.[1] ?? []
          );
          assertEquals(sizes, [String(bytes.length), "1000", "4000", "10"], "byte counts logged");
        });
      }),
  });
}

for (const placement of PLACEMENTS) {
  Deno.test({
    name:
      `fast path, direct mode (${placement.where}): ABOR mid-upload answers 426 then 226 and keeps what arrived; a stalled upload times out`,
    ignore,
    fn: () =>
      placement.with(async (uploads) => {
        const [Handler, incomplete] = recordingHandler("onIncompleteFileReceived");
        const options = {
          ...uploads,
          handler: Handler,
          dtp: { timeout: 0.5 },
          uploadMode: "direct" as const,
        };
        await withServer(options, async ({ port, home, logs }) => {
          const client = await FtpClient.login(port);
          try {
            await client.command("TYPE I");
            const data = await client.pasv();
            assertEquals((await client.command("STOR partial")).code, 125);
            const chunk = randomBytes(MiB);
            await writeAll(data, chunk);
            await waitFor(() => Deno.statSync(`${home}/partial`).size === MiB);
            await client.send("ABOR");
            assertEquals((await client.reply()).code, 426);
            assertEquals((await client.reply()).code, 226);
            data.close();
            assertBytesEqual(await Deno.readFile(`${home}/partial`), chunk, "what arrived is kept");

            const idle = await client.pasv();
            assertEquals((await client.command("STOR idle")).code, 125);
            const end = await client.reply();
            assertEquals(end.code, 426);
            assertStringIncludes(end.text, "timed out");
            idle.close();
            assertEquals((await client.command("NOOP")).code, 200, "the session goes on");
          } finally {
            client.close();
          }
          await waitFor(() => incomplete.length === 2);
          assertEquals(incomplete, [`${home}/partial`, `${home}/idle`]);
          assertEquals(dataPaths(logs), Array(2).fill(`STOR ${placement.splice} (native socket)`));
        });
      }),
  });
}

Deno.test({
  name:
    "fast path: uploads at once are shared between the main thread and an upload thread, every byte in place",
  ignore,
  async fn() {
    await withServer({ uploadThreads: 1 }, async ({ server, port, home, logs }) => {
      await server.uploads!.start();
      const files = Array.from({ length: 6 }, () => randomBytes(2 * MiB + 3));
      const clients = await Promise.all(files.map(() => FtpClient.login(port)));
      try {
        // Every upload starts before any byte is sent, so that all six run at once.
        const data = await Promise.all(clients.map(async (client, i) => {
          await client.command("TYPE I");
          const data = await client.pasv();
          assertEquals((await client.command(`STOR f${i}`)).code, 125);
          return data;
        }));
        await Promise.all(data.map((conn, i) => writeAndClose(conn, files[i])));
        for (const client of clients) assertEquals((await client.reply()).code, 226);
      } finally {
        for (const client of clients) client.close();
      }
      for (const [i, bytes] of files.entries()) {
        assertBytesEqual(await Deno.readFile(`${home}/f${i}`), bytes, `f${i}`);
      }
      const paths = dataPaths(logs).toSorted();
      assertEquals(paths, [
        ...Array(3).fill("STOR splice (native socket)"),
        ...Array(3).fill("STOR splice on an upload thread (native socket)"),
      ]);
    });
  },
});

Deno.test({
  name:
    "fast path: a closed server's upload threads end with its last session, their descriptors closed, and the process exits",
  ignore,
  async fn() {
    // Were a thread left running, the child would never exit.
    const script = new URL("./support/upload_threads_exit.ts", import.meta.url);
    const { code, killed, stdout, stderr } = await runScript(script, 20_000);
    assert(!killed, "the child did not exit by itself");
    assertEquals(code, 0, stderr);
    assertEquals(stdout.trim(), "uploaded on an upload thread; server closed");
  },
});

/** Whether this process may mount a tmpfs (root, where the container allows it). */
function canMount(): boolean {
  if (Deno.uid() !== 0) return false;
  const probe = Deno.makeTempDirSync({ prefix: "tsftpd-mount-probe-" });
  try {
    const mount = new Deno.Command("mount", {
      args: ["-t", "tmpfs", "-o", "size=64k", "tmpfs", probe],
    });
    if (!mount.outputSync().success) return false;
    new Deno.Command("umount", { args: [probe] }).outputSync();
    return true;
  } finally {
    Deno.removeSync(probe);
  }
}

for (const placement of PLACEMENTS) {
  Deno.test({
    name:
      `fast path (${placement.where}): a disk that fills during a spliced STOR answers 452, keeps no partial, and the session goes on`,
    ignore: ignore || !canMount(),
    fn: () =>
      placement.with(async (uploads) => {
        await withServer(uploads, async ({ port, home, logs }) => {
          const small = `${home}/small`;
          await Deno.mkdir(small);
          const mount = await new Deno.Command("mount", {
            args: ["-t", "tmpfs", "-o", "size=1m", "tmpfs", small],
          }).output();
          assert(mount.success, new TextDecoder().decode(mount.stderr));
          try {
            const client = await FtpClient.login(port);
            try {
              await client.command("TYPE I");
              const [, end] = await client.store("small/f", randomBytes(3 * MiB), "STOR", 452);
              assertStringIncludes(end.text, "No space left on device");
              assertEquals([...Deno.readDirSync(small)], [], "no partial of a refused write");
              await client.store("small/g", encoder.encode("fits"));
              assertEquals(await Deno.readTextFile(`${small}/g`), "fits");
            } finally {
              client.close();
            }
          } finally {
            await new Deno.Command("umount", { args: ["-l", small] }).output();
          }
          assertEquals(dataPaths(logs), Array(2).fill(`STOR ${placement.splice} (native socket)`));
        });
      }),
  });
}

Deno.test({
  name: "fast path: readLimit holds the upload rate",
  ignore,
  async fn() {
    const options = { dtp: { bufferSize: 64 * 1024, readLimit: 128 * 1024, timeout: 0.3 } };
    await withServer(options, async ({ port, home, logs }) => {
      const bytes = randomBytes(256 * 1024);
      const client = await FtpClient.login(port);
      try {
        await client.command("TYPE I");
        await client.store("f", bytes);
      } finally {
        client.close();
      }
      assertBytesEqual(await Deno.readFile(`${home}/f`), bytes, "received whole");
      assertEquals(dataPaths(logs), ["STOR splice (native socket)"]);
      // 256 KiB at 128 KiB/s take 1 s at the least after the first 128 KiB (a lower bound only).
      const line = logs.find((l) => l.includes("STOR") && l.includes("completed=1"));
      const seconds = Number(/seconds=([\d.]+)/.exec(line ?? "")?.[1]);
      assert(seconds >= 0.9, `took ${seconds} s: the limit was not kept`);
    });
  },
});

Deno.test({
  name: "fast path: a client that stops reading hits the data timeout (426)",
  ignore,
  async fn() {
    await withServer({ dtp: { timeout: 0.3 } }, async ({ port, home, logs }) => {
      await sparseFile(`${home}/big`, 512 * MiB);
      const client = await FtpClient.login(port);
      try {
        await client.command("TYPE I");
        const data = await client.pasv();
        assertEquals((await client.command("RETR big")).code, 125);
        const end = await client.reply();
        assertEquals(end.code, 426);
        assertStringIncludes(end.text, "timed out");
        data.close();
      } finally {
        client.close();
      }
      assertEquals(dataPaths(logs), ["RETR sendfile (native socket)"]);
    });
  },
});

Deno.test({
  name: "fast path: writeLimit holds the rate",
  ignore,
  async fn() {
    const options = { dtp: { bufferSize: 64 * 1024, writeLimit: 128 * 1024, timeout: 0.3 } };
    await withServer(options, async ({ port, home, logs }) => {
      const bytes = randomBytes(256 * 1024);
      await Deno.writeFile(`${home}/f`, bytes);
      const client = await FtpClient.login(port);
      try {
        await client.command("TYPE I");
        assertBytesEqual(await client.retr("f"), bytes, "sent whole, outliving the data timeout");
      } finally {
        client.close();
      }
      assertEquals(dataPaths(logs), ["RETR sendfile (native socket)"]);
      // 256 KiB at 128 KiB/s take 2 s at the least (a lower bound only).
      const line = logs.find((l) => l.includes("RETR") && l.includes("completed=1"));
      const seconds = Number(/seconds=([\d.]+)/.exec(line ?? "")?.[1]);
      assert(seconds >= 1.5, `took ${seconds} s: the limit was not kept`);
    });
  },
});

Deno.test({
  name:
    "fast path, direct mode: a client that resets its data connection gets 426, downloading or uploading",
  ignore,
  async fn() {
    const [Handler, incomplete] = recordingHandler("onIncompleteFileSent");
    await withServer({ handler: Handler, uploadMode: "direct" }, async ({ port, home, logs }) => {
      await sparseFile(`${home}/big`, 512 * MiB);
      const client = await FtpClient.login(port);
      try {
        await client.command("TYPE I");
        const download = await client.pasvAddress();
        const reset = receiveThenReset(download.port, MiB);
        assertEquals((await client.command("RETR big")).code, 150);
        assert(await reset >= MiB, "the client read before resetting");
        const end = await client.reply();
        assertEquals(end.lines, ["426 Data connection closed; transfer aborted."]);
        await waitFor(() => incomplete.length === 1);
        assertEquals(incomplete, [`${home}/big`]);

        const upload = await client.pasvAddress();
        const sent = sendThenReset(upload.port, 100_000);
        assertEquals((await client.command("STOR partial")).code, 150);
        await sent;
        assertEquals((await client.reply()).code, 426);
        assertEquals((await Deno.stat(`${home}/partial`)).size, 100_000, "what arrived is kept");
        assertEquals((await client.command("NOOP")).code, 200, "the session goes on");
      } finally {
        client.close();
      }
      assertEquals(dataPaths(logs), [
        "RETR sendfile (native socket)",
        "STOR splice (native socket)",
      ]);
    });
  },
});

Deno.test({
  name: "native sockets: a passive connection from a foreign address is refused; PORT connects out",
  ignore,
  async fn() {
    await withServer({}, async ({ port, home, logs }) => {
      await Deno.writeTextFile(`${home}/f`, "mine");
      const client = await FtpClient.login(port);
      const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      try {
        await client.command("TYPE I");
        const { port: dataPort } = await client.pasvAddress();
        assertEquals(await connectFrom("127.0.0.2", dataPort), "closed");
        assert(logs.some((line) => line.includes("foreign address 127.0.0.2")));
        const data = await Deno.connect({ hostname: "127.0.0.1", port: dataPort });
        assertEquals((await client.command("RETR f")).code, 125, "its own connection is taken");
        assertEquals(new TextDecoder().decode(await readAll(data)), "mine");
        assertEquals((await client.reply()).code, 226);

        const p = listener.addr.port;
        assertEquals((await client.command(`PORT 127,0,0,1,${p >> 8},${p & 255}`)).code, 200);
        assertEquals((await client.command("RETR f")).code, 150);
        assertEquals(new TextDecoder().decode(await readAll(await listener.accept())), "mine");
        assertEquals((await client.reply()).code, 226);
        assertEquals((await client.command(`PORT 127,0,0,1,${p >> 8},${p & 255}`)).code, 200);
        assertEquals((await client.command("STOR up")).code, 150);
        await writeAndClose(await listener.accept(), encoder.encode("uploaded"));
        assertEquals((await client.reply()).code, 226);
        assertEquals(await Deno.readTextFile(`${home}/up`), "uploaded");
      } finally {
        listener.close();
        client.close();
      }
      assertEquals(dataPaths(logs), [
        "RETR sendfile (native socket)",
        "RETR sendfile (native socket)",
        "STOR splice (native socket)",
      ]);
    });
  },
});

Deno.test({
  name: "native sockets over IPv6: EPSV and EPRT, both ways",
  ignore: ignore || !hasIPv6Loopback,
  async fn() {
    await withServer({ hostname: "::1" }, async ({ port, home, logs }) => {
      const bytes = randomBytes(2 * MiB);
      await Deno.writeFile(`${home}/f`, bytes);
      const client = await FtpClient.login(port, "user", "12345", { hostname: "::1" });
      const listener = Deno.listen({ hostname: "::1", port: 0 });
      try {
        await client.command("TYPE I");
        const epsv = async () => {
          const reply = await client.command("EPSV");
          return await Deno.connect({ hostname: "::1", port: epsvPort(reply.text) });
        };
        const down = await epsv();
        assertEquals((await client.command("RETR f")).code, 125);
        assertBytesEqual(await readAll(down), bytes);
        assertEquals((await client.reply()).code, 226);
        const up = await epsv();
        assertEquals((await client.command("STOR up")).code, 125);
        await writeAndClose(up, bytes);
        assertEquals((await client.reply()).code, 226);
        assertBytesEqual(await Deno.readFile(`${home}/up`), bytes);
        const eprt = `EPRT |2|::1|${listener.addr.port}|`;
        assertEquals((await client.command(eprt)).code, 200);
        assertEquals((await client.command("RETR up")).code, 150);
        assertBytesEqual(await readAll(await listener.accept()), bytes);
        assertEquals((await client.reply()).code, 226);
      } finally {
        listener.close();
        client.close();
      }
      assertEquals(dataPaths(logs), [
        "RETR sendfile (native socket)",
        "STOR splice (native socket)",
        "RETR sendfile (native socket)",
      ]);
    });
  },
});

Deno.test({
  name: "native sockets: 100 idle uploads and 40 stalled downloads leave the worker threads free",
  ignore,
  async fn() {
    // The runtime's file operations share 32 worker threads with non-blocking FFI
    // calls: were each waiting transfer to hold one, the fresh session below could
    // not open, list or write a file until they ended.
    await withServer({}, async ({ port, home, logs }) => {
      // Larger than what the sockets' buffers hold (some MiB each way), so the downloads wait.
      await sparseFile(`${home}/big`, 24 * MiB);
      await Deno.writeTextFile(`${home}/small`, "small");
      const idle: { client: FtpClient; data: Deno.Conn }[] = [];
      try {
        idle.push(
          ...await Promise.all(Array.from({ length: 140 }, async () => {
            const client = await FtpClient.login(port);
            return { client, data: await client.pasv() };
          })),
        );
        await Promise.all(idle.map(async ({ client }, i) => {
          await client.command("TYPE I");
          const start = await client.command(i < 100 ? `STOR up${i}` : "RETR big");
          assertEquals(start.code, 125, start.text);
        }));
        // Let the downloads fill their sockets' buffers and wait.
        await new Promise((resolve) => setTimeout(resolve, 300));
        const fresh = await FtpClient.login(port);
        let timer: ReturnType<typeof setTimeout> | undefined;
        const stalled = new Promise<"stalled">((resolve) => {
          timer = setTimeout(resolve, 10_000, "stalled");
        });
        const work = (async () => {
          await fresh.command("TYPE I");
          assertStringIncludes(await fresh.list(), "small");
          assertEquals(new TextDecoder().decode(await fresh.retr("small")), "small");
          await fresh.store("fresh", encoder.encode("fresh"));
          return "done" as const;
        })();
        try {
          const outcome = await Promise.race([work, stalled]);
          assertEquals(outcome, "done", "the fresh session's file operations were stalled");
        } finally {
          clearTimeout(timer);
          fresh.close();
          await work.catch(() => {});
        }
        await Promise.all(idle.map(async ({ client, data }, i) => {
          if (i < 100) await writeAndClose(data, encoder.encode(`upload ${i}`));
          else assertEquals((await readAll(data)).length, 24 * MiB);
          assertEquals((await client.reply()).code, 226);
        }));
      } finally {
        for (const { client, data } of idle) {
          client.close();
          try {
            data.close();
          } catch {
            // Closed by readAll or writeAndClose.
          }
        }
      }
      assertEquals(await Deno.readTextFile(`${home}/up99`), "upload 99");
      assertEquals(
        dataPaths(logs).filter((path) => path === "RETR sendfile (native socket)").length,
        41,
      );
    });
  },
});

Deno.test({
  name: "native sockets: thousands of transfers, aborted ones too, leave no descriptor open",
  ignore,
  async fn() {
    // In a process of its own: the tests of other files share this one's descriptors.
    const script = new URL("./support/descriptor_churn.ts", import.meta.url);
    // It takes seconds; a transfer that never ends would take for ever.
    const { code, killed, stdout, stderr } = await runScript(script, 120_000);
    assert(!killed, "killed after 120 s");
    assertEquals(code, 0, stderr);
    const report = JSON.parse(stdout);
    assert(report.transfers >= 2000, `${report.transfers} transfers`);
    assertEquals(report.sendfile, report.downloads, "every download went by sendfile");
    assertEquals(report.after, report.before, JSON.stringify(report));
  },
});

Deno.test({
  name: "native sockets: past the open-file limit transfers are refused, and the server goes on",
  ignore,
  async fn() {
    const home = await Deno.realPath(await Deno.makeTempDir({ prefix: "tsftpd-limit-" }));
    await sparseFile(`${home}/big`, 512 * MiB);
    await Deno.writeTextFile(`${home}/small`, "small");
    const script = new URL("./support/limited_server.ts", import.meta.url).pathname;
    // 160 descriptors: the runtime takes about 30 of them, a running download 4.
    const child = new Deno.Command("sh", {
      args: [
        "-c",
        'ulimit -n 160 && exec "$0" run --allow-all "$1" "$2"',
        Deno.execPath(),
        script,
        home,
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stderr = new Response(child.stderr).text();
    /** `step`'s result, or `"stuck"` after 3 s. */
    const within = <T>(step: Promise<T>) =>
      Promise.race([step, new Promise<"stuck">((r) => setTimeout(r, 3000, "stuck"))]);
    const connects: Promise<FtpClient | null>[] = [];
    const datas: Deno.Conn[] = [];
    const outcomes: string[] = [];
    try {
      const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      const port = Number((await lines.read()).value);
      lines.releaseLock();
      // 40 sessions fit (about 70 descriptors); 40 downloads (3 more each) do not.
      const clients: FtpClient[] = [];
      for (let i = 0; i < 40; i++) {
        const connecting = FtpClient.connect(port).catch(() => null);
        connects.push(connecting);
        const client = await connecting;
        assert(client, `session ${i} connected`);
        await client.login("user", "12345");
        await client.command("TYPE I");
        clients.push(client);
      }
      for (const client of clients) {
        const outcome = await within(
          (async () => {
            const epsv = await client.command("EPSV");
            if (epsv.code !== 229) return `EPSV ${epsv.code}`;
            // The server resets a data connection it has no descriptor to accept.
            const data = await Deno.connect({ hostname: "127.0.0.1", port: epsvPort(epsv.text) })
              .catch(() => null);
            if (data) datas.push(data);
            const start = await client.command("RETR big");
            if (start.code !== 125 && start.code !== 150) return `RETR ${start.code}`;
            // Started: running (the client reads nothing), or refused for want of a descriptor.
            const early = await Promise.race([
              client.reply(),
              new Promise<null>((r) => setTimeout(r, 200, null)),
            ]);
            return early ? `RETR then ${early.code}` : "running";
          })().catch((error) => `error ${error}`),
        );
        outcomes.push(outcome);
      }
      const summary = outcomes.join(", ");
      const running = outcomes.filter((outcome) => outcome === "running").length;
      assert(running >= 10, `some downloads run: ${summary}`);
      assert(running < outcomes.length, `the limit was reached: ${summary}`);
      for (const outcome of outcomes) {
        assert(
          /^(running|EPSV 550|RETR 550|RETR 425)$/.test(outcome),
          `each download runs or is refused plainly: ${summary}`,
        );
      }
      // At the limit, a passive listener waits for its connection (accept4 fails with
      // EMFILE even with no connection queued): a descriptor freed meanwhile serves it.
      const refused = outcomes.lastIndexOf("RETR 550");
      assert(refused >= 0, `a RETR found no descriptor for its file: ${summary}`);
      const waiting = clients[refused];
      assertEquals((await waiting.command("ABOR")).code, 225, "its connection is dropped");
      const epsv = await waiting.command("EPSV");
      assertEquals(epsv.code, 229, "the listener takes the descriptor just freed");
      datas.shift()!.close(); // The first download ends: three descriptors free.
      await new Promise((resolve) => setTimeout(resolve, 500));
      const late = await Deno.connect({ hostname: "127.0.0.1", port: epsvPort(epsv.text) });
      assertEquals((await waiting.command("RETR small")).code, 125);
      assertEquals(new TextDecoder().decode(await readAll(late)), "small");
      assertEquals((await waiting.reply()).code, 226);
      // Once the clients go, the server serves again, the fast path too.
      for (const data of datas.splice(0)) data.close();
      for (const connecting of connects.splice(0)) (await connecting)?.close();
      const fresh = await within(FtpClient.login(port));
      assert(fresh !== "stuck", "a new session is served");
      try {
        await fresh.command("TYPE I");
        assertEquals(new TextDecoder().decode(await fresh.retr("small")), "small");
      } finally {
        fresh.close();
      }
    } finally {
      for (const data of datas) data.close();
      await child.stdin.close();
      for (const connecting of connects) (await connecting)?.close();
      const status = await child.status;
      const log = await stderr;
      await Deno.remove(home, { recursive: true });
      assertEquals(status.code, 0, log);
      assert(/data path: sendfile/.test(log), "the fast path was taken");
      assert(!/unexpectedly|^\s+at /m.test(log), `no failure was a bug: ${log}`);
    }
  },
});

Deno.test({
  name: "a file opened without a descriptor to spare for sendfile is streamed, not refused",
  ignore,
  async fn() {
    const script = new URL("./support/reopen_limit.ts", import.meta.url).pathname;
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", script],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder();
    assertEquals(code, 0, text.decode(stderr));
    assertEquals(JSON.parse(text.decode(stdout)), { descriptor: null, read: "streamed" });
  },
});

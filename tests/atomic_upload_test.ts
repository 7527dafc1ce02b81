/**
 * Uploads that never lose a file: STOR writes a hidden temporary renamed over the
 * target once complete, so an interrupted overwrite leaves the old file and readers
 * never see half a file; a failed upload is kept as a partial that REST + STOR (or
 * APPE) resumes, or removed; leftovers expire. On the disk (the kernel's jail) and
 * in memory (`TSFTPD_TEST_FS=memory`).
 */

import { posix } from "node:path";
import { AbstractedFS, FTPHandler, isUploadTemporary, type RenameOptions } from "../mod.ts";
import { KernelResolver } from "../src/fs/resolver.ts";
import { nativeSocketsAvailable } from "../src/native/socket.ts";
import { writeAll } from "../src/transport.ts";
import { assert, assertBytesEqual, assertEquals, assertMatch } from "./support/assert.ts";
import { randomBytes } from "./support/data.ts";
import { FtpClient } from "./support/ftp_client.ts";
import { sendThenReset } from "./support/python.ts";
import { diskTest, onMemory, store, waitFor, withServer } from "./support/server.ts";

const MiB = 1024 * 1024;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A handler class that records what `onIncompleteFileReceived` is told: the file, and where its bytes are. */
function recordingHandler() {
  const calls: [string, string | null][] = [];
  class RecordingHandler extends FTPHandler {
    override onIncompleteFileReceived(file: string, partial: string | null) {
      calls.push([file, partial]);
    }
  }
  return [RecordingHandler, calls] as const;
}

/** The upload temporaries and partials in the directory `dir`. */
async function temporaries(dir: string): Promise<string[]> {
  return (await store.names(dir)).filter(isUploadTemporary);
}

/** Starts `STOR name` over a data connection that sends `bytes` zeros and then resets; resolves after 426. */
async function interruptedStore(client: FtpClient, name: string, bytes: number): Promise<void> {
  const { port } = await client.pasvAddress();
  const reset = sendThenReset(port, bytes);
  assertEquals((await client.command(`STOR ${name}`)).code, 150);
  await reset;
  assertEquals((await client.reply()).code, 426);
}

Deno.test("an interrupted overwrite leaves the old file whole; REST + STOR resumes the hidden partial", async () => {
  const [Handler, calls] = recordingHandler();
  await withServer({ handler: Handler }, async ({ port, home, logs }) => {
    const old = randomBytes(MiB);
    await store.writeFile(`${home}/latest.bin`, old);
    const client = await FtpClient.login(port);
    try {
      await client.command("TYPE I");
      await interruptedStore(client, "latest.bin", 4 * MiB);
      assertBytesEqual(
        await store.readFile(`${home}/latest.bin`),
        old,
        "the old version is intact",
      );
      assertBytesEqual(await client.retr("latest.bin"), old, "and served");

      await waitFor(() => calls.length === 1);
      const [[file, partial]] = calls;
      assertEquals(file, `${home}/latest.bin`);
      assertMatch(partial!, /\/\.latest\.bin\.tsftpd-[a-z0-9]{8}\.part$/);
      assertEquals(await temporaries(home), [partial!.slice(home.length + 1)]);
      assert(logs.some((line) => line.endsWith(`partial upload of ${file} kept as ${partial}`)));
      assertEquals((await client.list("NLST")).trim(), "latest.bin", "NLST hides the partial");
      assert(!(await client.list("LIST")).includes("tsftpd-"), "so does LIST");
      assert(!decoder.decode(await client.retrList("MLSD")).includes("tsftpd-"), "and MLSD");

      // The client resumes where the partial ends: the new version, whole.
      const received = (await store.stat(partial!)).size;
      assert(received > 0, "some bytes arrived before the reset");
      assertEquals((await client.command(`REST ${received}`)).code, 350);
      const rest = randomBytes(MiB);
      await client.store("latest.bin", rest);
      const whole = new Uint8Array(received + rest.length);
      whole.set(rest, received);
      assertBytesEqual(await store.readFile(`${home}/latest.bin`), whole);
      assertEquals(await temporaries(home), [], "the partial became the file");
    } finally {
      client.close();
    }
    if (!onMemory && nativeSocketsAvailable() && KernelResolver.available()) {
      assert(
        logs.some((line) =>
          line.endsWith(`STOR ${home}/latest.bin data path: splice (native socket)`)
        ),
        "atomic uploads keep the zero-copy path",
      );
    }
  });
});

Deno.test("readers during an upload see the old file, or nothing, under its name", async () => {
  await withServer({}, async ({ port, home }) => {
    await store.writeTextFile(`${home}/report.txt`, "old");
    const writer = await FtpClient.login(port);
    const reader = await FtpClient.login(port);
    try {
      await writer.command("TYPE I");
      await reader.command("TYPE I");
      for (const name of ["report.txt", "fresh.txt"]) {
        const data = await writer.pasv();
        assertEquals((await writer.command(`STOR ${name}`)).code, 125);
        await writeAll(data, new Uint8Array(256 * 1024).fill(65));
        const deadline = Date.now() + 10_000;
        while (!(await writer.command("STAT")).text.includes("(262144 bytes so far)")) {
          assert(Date.now() < deadline, "the server receives the bytes");
        }
        assertEquals((await reader.list("NLST")).trim().split(/\r?\n/), ["report.txt"]);
        if (name === "report.txt") {
          assertEquals(decoder.decode(await reader.retr(name)), "old", "the old file, whole");
          assertEquals((await reader.command(`SIZE ${name}`)).text, "3");
        } else {
          const pasv = await reader.pasv();
          assertEquals((await reader.command(`RETR ${name}`)).code, 550, "nothing yet");
          pasv.close();
        }
        await writeAll(data, encoder.encode("!"));
        data.close();
        assertEquals((await writer.reply()).code, 226);
        assertEquals((await reader.command(`SIZE ${name}`)).text, String(256 * 1024 + 1));
      }
    } finally {
      writer.close();
      reader.close();
    }
  });
});

Deno.test("uploadMode atomic removes a failed upload's bytes; direct writes the file itself, as pyftplib", async () => {
  for (const uploadMode of ["atomic", "direct"] as const) {
    const [Handler, calls] = recordingHandler();
    await withServer({ uploadMode, handler: Handler }, async ({ port, home }) => {
      await store.writeTextFile(`${home}/f`, "old");
      const client = await FtpClient.login(port);
      try {
        await client.command("TYPE I");
        await interruptedStore(client, "f", MiB);
        await waitFor(() => calls.length === 1);
        assertEquals(await temporaries(home), [], uploadMode);
        const content = await store.readFile(`${home}/f`);
        if (uploadMode === "atomic") {
          assertEquals(decoder.decode(content), "old");
          assertEquals(calls, [[`${home}/f`, null]]);
        } else {
          assert(content.length > 3 && content.every((byte) => byte === 0), "the new bytes, in f");
          assertEquals(calls, [[`${home}/f`, `${home}/f`]]);
        }
        await client.store("f", encoder.encode("new"));
        assertEquals(await store.readTextFile(`${home}/f`), "new");
      } finally {
        client.close();
      }
    });
  }
});

Deno.test("APPE appends in place; a missing file's APPE and SIZE go on from its partial", async () => {
  await withServer({}, async ({ port, home }) => {
    await store.writeTextFile(`${home}/log.txt`, "one\n");
    const client = await FtpClient.login(port);
    try {
      await client.command("TYPE I");
      await client.store("log.txt", encoder.encode("two\n"), "APPE");
      assertEquals(await store.readTextFile(`${home}/log.txt`), "one\ntwo\n");
      assertEquals(await temporaries(home), []);

      // curl resumes an upload with SIZE, then APPE of what is missing.
      await interruptedStore(client, "movie.bin", MiB);
      assertEquals((await client.command("SIZE movie.bin")).code, 213, "the partial's size");
      const size = Number((await client.command("SIZE movie.bin")).text);
      assert(size > 0);
      assertEquals((await client.list("NLST")).trim(), "log.txt", "the partial is not listed");
      await client.store("movie.bin", encoder.encode("end"), "APPE");
      const movie = await store.readFile(`${home}/movie.bin`);
      assertEquals(movie.length, size + 3);
      assertEquals(decoder.decode(movie.subarray(size)), "end");
      assertEquals(await temporaries(home), []);
    } finally {
      client.close();
    }
  });
});

Deno.test("REST + STOR onto a complete file keeps it whole until the new one is complete", async () => {
  await withServer({}, async ({ port, home }) => {
    await store.writeTextFile(`${home}/doc.txt`, "hello world");
    const client = await FtpClient.login(port);
    try {
      await client.command("TYPE I");
      assertEquals((await client.command("REST 5")).code, 350);
      const data = await client.pasv();
      assertEquals((await client.command("STOR doc.txt")).code, 125);
      await writeAll(data, encoder.encode(", there"));
      assertEquals(await store.readTextFile(`${home}/doc.txt`), "hello world", "untouched so far");
      data.close();
      assertEquals((await client.reply()).code, 226);
      assertEquals(await store.readTextFile(`${home}/doc.txt`), "hello, there");

      assertEquals((await client.command("REST 99")).code, 350);
      const past = await client.pasv();
      const reply = await client.command("STOR doc.txt");
      past.close();
      assertEquals(reply.code, 554, reply.text);
      assertEquals(await temporaries(home), []);
    } finally {
      client.close();
    }
  });
});

Deno.test("leftovers older than partialLifetime are removed when their directory is looked at; RMD sees past them", async () => {
  await withServer({ partialLifetime: 60 }, async ({ port, home }) => {
    await store.mkdir(`${home}/cam`);
    const stale = [".snap.jpg.tsftpd-abcdefgh.part", ".snap.jpg.tsftpd-crashed1"];
    for (const name of stale) {
      await store.writeTextFile(`${home}/cam/${name}`, "stale");
      await store.utime(`${home}/cam/${name}`, new Date(0), new Date(Date.now() - 3600_000));
    }
    await store.writeTextFile(`${home}/cam/.snap.jpg.tsftpd-fresh123.part`, "fresh");
    const client = await FtpClient.login(port);
    try {
      await client.command("TYPE I");
      assertEquals((await client.command("SIZE cam/snap.jpg")).text, "5", "the fresh partial");
      assertEquals(await temporaries(`${home}/cam`), [".snap.jpg.tsftpd-fresh123.part"]);
      assertEquals((await client.command("RMD cam")).code, 250, "only a partial was left in it");
    } finally {
      client.close();
    }
  });
});

diskTest("fsyncUploads flushes the upload, then its directory, before 226", async () => {
  const synced: string[] = [];
  class Recording extends AbstractedFS {
    override async sync(path: string): Promise<void> {
      synced.push(path);
      await super.sync(path);
    }
  }
  const abstractedFs = (root: string) => new Recording(root);
  for (const fsyncUploads of [true, false]) {
    synced.length = 0;
    await withServer({ fsyncUploads, abstractedFs }, async ({ port, home }) => {
      const client = await FtpClient.login(port);
      try {
        await client.command("TYPE I");
        await client.store("f.bin", randomBytes(1000));
        assertEquals((await store.stat(`${home}/f.bin`)).size, 1000);
      } finally {
        client.close();
      }
    });
    if (!fsyncUploads) assertEquals(synced, []);
    else {
      assertEquals(synced.length, 2);
      assertMatch(synced[0], /^\/\.f\.bin\.tsftpd-[a-z0-9]{8}$/);
      assertEquals(synced[1], "/");
    }
  }
});

diskTest("STOU never replaces a file another session made under its name meanwhile", async () => {
  /** Another session writes the STOU file's name just before the upload takes it. */
  class Raced extends AbstractedFS {
    override async rename(from: string, to: string, options?: RenameOptions) {
      if (isUploadTemporary(posix.basename(from)) && to.startsWith("/photo.")) {
        await Deno.writeTextFile(this.ftp2fs(to), "theirs");
      }
      return await super.rename(from, to, options);
    }
  }
  await withServer(
    { abstractedFs: (root, session) => new Raced(root, session) },
    async ({ port, home }) => {
      const client = await FtpClient.login(port);
      try {
        await client.command("TYPE I");
        const data = await client.pasv();
        const name = (await client.command("STOU photo")).text.slice("FILE: ".length);
        await writeAll(data, encoder.encode("mine"));
        data.close();
        const end = await client.reply();
        assertEquals(`${end.code} ${end.text}`, "451 Transfer aborted: File exists.");
        assertEquals(await Deno.readTextFile(`${home}/${name}`), "theirs");
        assertEquals(await temporaries(home), [], "the upload's temporary is removed");
      } finally {
        client.close();
      }
    },
  );
});

Deno.test("STOU announces its name and shows the file only once complete; curl overwrites atomically", async () => {
  await withServer({}, async ({ port, home }) => {
    const client = await FtpClient.login(port);
    try {
      await client.command("TYPE I");
      const data = await client.pasv();
      const start = await client.command("STOU photo");
      const name = start.text.slice("FILE: ".length);
      assertMatch(name, /^photo\.[a-z0-9]{8}$/);
      await writeAll(data, encoder.encode("jpeg"));
      assertEquals(await store.stat(`${home}/${name}`).catch(() => null), null, "not before 226");
      data.close();
      assertEquals((await client.reply()).code, 226);
      assertEquals(await store.readTextFile(`${home}/${name}`), "jpeg");
    } finally {
      client.close();
    }
    if (onMemory) return;
    const upload = await Deno.makeTempFile();
    try {
      await Deno.writeTextFile(upload, "curl's version");
      const { code } = await new Deno.Command("curl", {
        args: ["-sS", "-T", upload, `ftp://user:12345@127.0.0.1:${port}/${"from-curl.txt"}`],
      }).output();
      assertEquals(code, 0);
      assertEquals(await store.readTextFile(`${home}/from-curl.txt`), "curl's version");
      assertEquals(await temporaries(home), []);
    } finally {
      await Deno.remove(upload);
    }
  });
});

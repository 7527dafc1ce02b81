import { AbstractedFS, MemoryFS } from "../mod.ts";
import { FTPHandler } from "../mod.ts";
import {
  assert,
  assertBytesEqual,
  assertEquals,
  assertMatch,
  assertStringIncludes,
} from "./support/assert.ts";
import { randomBytes } from "./support/data.ts";
import { FtpClient, readAll, writeAndClose } from "./support/ftp_client.ts";
import { sendThenReset } from "./support/python.ts";
import { diskTest, onMemory, store, waitFor, withServer } from "./support/server.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A sparse file of `size` bytes: big enough that a transfer is still running when the test acts. */
function bigFile(path: string, size = 512 * 1024 * 1024): Promise<void> {
  return store.sparseFile(path, size);
}

/** The current user's or group's name, as `id` prints it (`-un`, `-gn`). */
async function idName(flag: string): Promise<string> {
  const { stdout } = await new Deno.Command("id", { args: [flag] }).output();
  return decoder.decode(stdout).trim();
}

/** A handler class that records the files passed to one of its callbacks. */
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

Deno.test("RETR and STOR are byte-exact: empty, small and 3 MB files", async () => {
  await withServer({}, async ({ port, home }) => {
    const client = await FtpClient.login(port);
    try {
      await client.command("TYPE I");
      for (
        const [name, size] of [["empty", 0], ["small", 5], ["large", 3 * 1024 * 1024 + 7]] as const
      ) {
        const bytes = randomBytes(size);
        const [start, end] = await client.store(name, bytes);
        assertEquals([start.code, end.code], [125, 226], "the client connected before STOR");
        assertBytesEqual(await store.readFile(`${home}/${name}`), bytes);
        assertBytesEqual(await client.retr(name), bytes);
      }
    } finally {
      client.close();
    }
  });
});

Deno.test("a transfer needs PASV or PORT first, and PASV serves one transfer", async () => {
  await withServer({}, async ({ port, home }) => {
    await store.writeTextFile(`${home}/f`, "x");
    const client = await FtpClient.login(port);
    try {
      assertEquals((await client.command("RETR f")).code, 425);
      assertEquals((await client.command("STOR g")).code, 425);
      assertEquals(decoder.decode(await client.retr("f")), "x");
      assertEquals((await client.command("RETR f")).code, 425, "the passive channel was used up");
      const data = await client.pasv();
      assertEquals((await client.command("RETR missing")).code, 550);
      assertEquals((await client.command("RETR /")).code, 550, "a directory is not retrieved");
      data.close();
    } finally {
      client.close();
    }
  });
});

Deno.test("REST + RETR resumes at the offset; an offset past the end is 554", async () => {
  await withServer({}, async ({ port, home }) => {
    const bytes = randomBytes(100_000);
    await store.writeFile(`${home}/f`, bytes);
    const client = await FtpClient.login(port);
    try {
      await client.command("TYPE I");
      assertEquals((await client.command("REST 40000")).text, "Restarting at position 40000.");
      assertBytesEqual(await client.retr("f"), bytes.subarray(40000));
      assertBytesEqual(await client.retr("f"), bytes, "REST applies to one transfer only");
      assertEquals((await client.command("REST -1")).code, 501);
      assertEquals((await client.command("REST abc")).code, 501);
      assertEquals((await client.command("REST 100001")).code, 350);
      const data = await client.pasv();
      assertEquals((await client.command("RETR f")).code, 554);
      data.close();
    } finally {
      client.close();
    }
  });
});

Deno.test("REST + STOR resumes an upload; APPE appends; APPE after REST is refused", async () => {
  await withServer({}, async ({ port, home }) => {
    const bytes = randomBytes(50_000);
    await store.writeFile(`${home}/f`, bytes.subarray(0, 20_000));
    const client = await FtpClient.login(port);
    try {
      await client.command("TYPE I");
      await client.command("REST 20000");
      await client.store("f", bytes.subarray(20_000));
      assertBytesEqual(await store.readFile(`${home}/f`), bytes);
      await client.store("f", encoder.encode("tail"), "APPE");
      assertEquals(await store.readTextFile(`${home}/f`).then((t) => t.slice(-4)), "tail");
      await client.store("new", encoder.encode("fresh"), "APPE");
      assertEquals(await store.readTextFile(`${home}/new`), "fresh");
      await client.command("REST 10");
      const data = await client.pasv();
      assertEquals((await client.command("APPE f")).code, 450);
      await client.command("REST 999999");
      assertEquals((await client.command("STOR f")).code, 554);
      data.close();
    } finally {
      client.close();
    }
  });
});

Deno.test("STOR over a longer file replaces it whole; REST + STOR drops what followed the offset", async () => {
  await withServer({}, async ({ port, home }) => {
    await store.writeTextFile(`${home}/f`, "hello world");
    const client = await FtpClient.login(port);
    try {
      await client.command("TYPE I");
      await client.store("f", encoder.encode("abc"));
      assertEquals(await store.readTextFile(`${home}/f`), "abc", "no tail of the old content");
      await store.writeTextFile(`${home}/f`, "0123456789");
      assertEquals((await client.command("REST 3")).code, 350);
      await client.store("f", encoder.encode("ab"));
      assertEquals(await store.readTextFile(`${home}/f`), "012ab", "nothing after the new bytes");
    } finally {
      client.close();
    }
  });
});

Deno.test("STOU answers 150 FILE: name and stores under that unique name", async () => {
  await withServer({}, async ({ port, home }) => {
    const client = await FtpClient.login(port);
    try {
      const [first, end] = await client.store("", encoder.encode("one"), "STOU");
      assertMatch(first.text, /^FILE: ftpd\.\S+$/);
      assertEquals(end.code, 226);
      const name = first.text.slice("FILE: ".length);
      assertEquals(await store.readTextFile(`${home}/${name}`), "one");
      const [second] = await client.store("report.txt", encoder.encode("two"), "STOU");
      assertMatch(second.text, /^FILE: report\.txt\.[a-z0-9]{8}$/);
      assert(second.text !== first.text);
      const [odd, oddEnd] = await client.store("a|b", encoder.encode("three"), "STOU");
      assertMatch(odd.text, /^FILE: a\|b\.[a-z0-9]{8}$/, "any character a name may have");
      assertEquals(oddEnd.code, 226);
      const data = await client.pasv();
      const long = await client.command(`STOU ${"x".repeat(300)}`);
      data.close();
      assertEquals(long.lines, ["550 File name too long."]);
    } finally {
      client.close();
    }
  });
});

Deno.test("TYPE A converts line endings both ways; TYPE I leaves bytes alone", async () => {
  await withServer({}, async ({ port, home }) => {
    await store.writeTextFile(`${home}/unix.txt`, "one\ntwo\n\nthree");
    await store.writeTextFile(`${home}/dos.txt`, "one\r\ntwo\r\n");
    const client = await FtpClient.login(port);
    try {
      await client.command("TYPE A");
      assertEquals(decoder.decode(await client.retr("unix.txt")), "one\r\ntwo\r\n\r\nthree");
      assertEquals(
        decoder.decode(await client.retr("dos.txt")),
        "one\r\ntwo\r\n",
        "CRLF is not doubled",
      );
      await client.store("up.txt", encoder.encode("a\r\nb\r\n\r\nc\rd"));
      assertEquals(await store.readTextFile(`${home}/up.txt`), "a\nb\n\nc\rd");
      await client.command("TYPE I");
      assertEquals(decoder.decode(await client.retr("unix.txt")), "one\ntwo\n\nthree");
      await client.store("bin.txt", encoder.encode("a\r\nb"));
      assertEquals(await store.readTextFile(`${home}/bin.txt`), "a\r\nb");
      await client.command("TYPE A");
      await client.store("cr.txt", encoder.encode("line\r\nlast\r"));
      assertEquals(
        await store.readTextFile(`${home}/cr.txt`),
        "line\nlast\r",
        "a final CR is kept",
      );
    } finally {
      client.close();
    }
  });
});

Deno.test("STAT answers while a transfer runs, and ABOR gives 426 then 226", async () => {
  await withServer({}, async ({ port, home, logs }) => {
    await bigFile(`${home}/big`);
    const client = await FtpClient.login(port);
    try {
      await client.command("TYPE I");
      const data = await client.pasv();
      assertEquals((await client.command("RETR big")).code, 125);
      // Read a little so the transfer is surely under way, then stop reading.
      await data.read(new Uint8Array(65536));
      const stat = await client.command("STAT");
      assertEquals(stat.code, 211);
      assertStringIncludes(stat.text, "transfer in progress: RETR");
      assertEquals((await client.command("NOOP")).code, 200);
      await client.send("ABOR");
      assertEquals((await client.reply()).lines, ["426 Transfer aborted."]);
      assertEquals((await client.reply()).lines, ["226 ABOR command successful."]);
      data.close();
      assertEquals((await client.command("ABOR")).code, 225, "nothing left to abort");
      assertEquals((await client.command("NOOP")).code, 200);
    } finally {
      client.close();
    }
    await waitFor(() => logs.some((line) => /RETR \S+\/big completed=0 bytes=\d+/.test(line)));
  });
});

Deno.test("commands sent during a transfer wait for it; QUIT lets it finish first", async () => {
  await withServer({}, async ({ port, home }) => {
    const bytes = randomBytes(2 * 1024 * 1024);
    await store.writeFile(`${home}/f`, bytes);
    const client = await FtpClient.login(port);
    try {
      await client.command("TYPE I");
      const data = await client.pasv();
      await client.send("RETR f");
      await client.send("PWD");
      await client.send("QUIT");
      const received = readAll(data);
      assertEquals((await client.reply()).code, 125);
      assertBytesEqual(await received, bytes);
      assertEquals((await client.reply()).code, 226);
      assertEquals((await client.reply()).code, 257);
      assertEquals((await client.reply()).code, 221);
      assert(await client.closedByServer());
    } finally {
      client.close();
    }
  });
});

Deno.test("direct mode: an upload whose data connection is reset is reported incomplete, never 226, its bytes kept", async () => {
  const [Handler, incomplete] = recordingHandler("onIncompleteFileReceived");
  await withServer({ handler: Handler, uploadMode: "direct" }, async ({ port, home, logs }) => {
    const client = await FtpClient.login(port);
    try {
      await client.command("TYPE I");
      const { port: dataPort } = await client.pasvAddress();
      const reset = sendThenReset(dataPort, 100_000);
      assertEquals((await client.command("STOR partial")).code, 150);
      await reset;
      const end = await client.reply();
      assertEquals(end.lines, ["426 Data connection closed; transfer aborted."]);
      assertEquals((await client.command("NOOP")).code, 200, "the session goes on");
      await waitFor(() => incomplete.length > 0);
      assertEquals(incomplete, [`${home}/partial`]);
      assert(logs.some((line) => /STOR \S+\/partial completed=0 bytes=100000 seconds=/.test(line)));
      const partial = await store.stat(`${home}/partial`);
      assertEquals(partial.size, 100_000, "every byte that arrived before the reset is kept");
    } finally {
      client.close();
    }
  });
});

Deno.test("a client that vanishes mid-transfer ends its session; the server goes on", async () => {
  const [Handler, incomplete] = recordingHandler("onIncompleteFileSent");
  await withServer({ handler: Handler }, async ({ port, home, logs, server }) => {
    await bigFile(`${home}/big`);
    const client = await FtpClient.login(port);
    await client.command("TYPE I");
    const data = await client.pasv();
    assertEquals((await client.command("RETR big")).code, 125);
    await data.read(new Uint8Array(65536));
    client.close();
    data.close();
    await waitFor(() => incomplete.length === 1 && server.connections === 0);
    assert(logs.some((line) => line.includes("FTP session closed (disconnect).")));
    const other = await FtpClient.login(port);
    try {
      assertEquals((await other.command("NOOP")).code, 200);
    } finally {
      other.close();
    }
  });
});

Deno.test("a stalled transfer times out with 426", async () => {
  await withServer({ dtp: { timeout: 0.3 } }, async ({ port, home }) => {
    await bigFile(`${home}/big`);
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
  });
});

Deno.test("a throttled transfer keeps to its rate and outlives the data and control timeouts", async () => {
  // 64 KiB chunks at 128 KiB/s: each chunk is followed by a pause longer than the
  // data timeout, and the whole transfer lasts longer than the control timeout.
  const options = {
    timeout: 0.6,
    dtp: { timeout: 0.3, bufferSize: 64 * 1024, readLimit: 128 * 1024, writeLimit: 128 * 1024 },
  };
  await withServer(options, async ({ port, home, logs }) => {
    const bytes = randomBytes(256 * 1024);
    await store.writeFile(`${home}/down`, bytes);
    const client = await FtpClient.login(port);
    try {
      await client.command("TYPE I");
      assertBytesEqual(await client.retr("down"), bytes, "sent whole, then 226");
      await client.store("up", bytes);
      assertBytesEqual(await store.readFile(`${home}/up`), bytes, "received whole, then 226");
    } finally {
      client.close();
    }
    // 256 KiB at 128 KiB/s take 2 s at the least, however fast the machine (a lower
    // bound only: a slow machine makes a transfer longer, never shorter).
    for (const command of ["RETR", "STOR"]) {
      const line = logs.find((l) => l.includes(`${command} ${home}`) && l.includes("completed=1"));
      const seconds = Number(/seconds=([\d.]+)/.exec(line ?? "")?.[1]);
      assert(seconds >= 1.5, `${command} took ${seconds} s: the limit was not kept`);
    }
  });
});

Deno.test("QUIT during a transfer lets it finish: every byte, then 226, then 221", async () => {
  await withServer({}, async ({ port, home }) => {
    const bytes = randomBytes(16 * 1024 * 1024);
    await store.writeFile(`${home}/f`, bytes);
    const client = await FtpClient.login(port);
    try {
      await client.command("TYPE I");
      const data = await client.pasv();
      assertEquals((await client.command("RETR f")).code, 125);
      // QUIT arrives while the server still waits for the client to read.
      await client.send("QUIT");
      await new Promise((resolve) => setTimeout(resolve, 100));
      assertBytesEqual(await readAll(data), bytes);
      assertEquals((await client.reply()).code, 226);
      assertEquals((await client.reply()).code, 221);
      assert(await client.closedByServer());
    } finally {
      client.close();
    }
  });
});

Deno.test("a client that never opens the data connection gets 425 alone after dataConnectTimeout", async () => {
  await withServer({ dataConnectTimeout: 0.3 }, async ({ port, home, logs }) => {
    await store.writeTextFile(`${home}/f`, "x");
    const client = await FtpClient.login(port);
    try {
      await client.pasvAddress();
      // No 150 first: the preliminary reply waits for the data connection (as vsftpd's).
      assertEquals((await client.command("RETR f")).lines, ["425 Can't open data connection."]);
      assert(
        logs.some((line) =>
          line.endsWith("data connection failed: no data connection from the client.")
        ),
      );
      assertEquals((await client.command("NOOP")).code, 200, "the session is free again");
    } finally {
      client.close();
    }
  });
});

Deno.test("ABOR and QUIT end the wait for a data connection that never comes", async () => {
  await withServer({ dataConnectTimeout: 20 }, async ({ port, home, logs }) => {
    await store.writeTextFile(`${home}/f`, "x");
    using client = await FtpClient.login(port);
    await client.pasvAddress();
    await client.send("RETR f");
    assertEquals(
      (await client.command("STAT")).lines[4],
      " Transfer waiting for its data connection: RETR.",
    );
    assertEquals((await client.command("ABOR")).lines, ["426 Transfer aborted."]);
    assertEquals((await client.reply()).lines, ["226 ABOR command successful."]);
    assertEquals((await client.command("NOOP")).code, 200, "the session is free again");
    assert(logs.some((line) => /RETR .*\/f completed=0 bytes=0/.test(line)));
    await client.pasvAddress();
    await client.send("STOR up");
    assertEquals((await client.command("QUIT")).lines, ["426 Transfer aborted."]);
    assertEquals((await client.reply()).code, 221);
    assert(await client.closedByServer());
  });
});

Deno.test("direct mode: an upload stopped by ABOR or a stall keeps the bytes that arrived", async () => {
  await withServer({ dtp: { timeout: 0.5 }, uploadMode: "direct" }, async ({ port, home }) => {
    const client = await FtpClient.login(port);
    try {
      await client.command("TYPE I");
      for (const stop of ["ABOR", "stall"]) {
        const data = await client.pasv();
        assertEquals((await client.command(`STOR ${stop}`)).code, 125);
        await data.write(new Uint8Array(100_000));
        const deadline = Date.now() + 5000;
        while (!(await client.command("STAT")).text.includes("(100000 bytes so far)")) {
          assert(Date.now() < deadline, "the server receives the 100,000 bytes");
        }
        if (stop === "ABOR") {
          await client.send("ABOR");
          assertEquals((await client.reply()).code, 426);
          assertEquals((await client.reply()).code, 226);
        } else {
          const end = await client.reply();
          assertEquals(end.code, 426);
          assertStringIncludes(end.text, "timed out");
        }
        data.close();
        assertEquals((await store.stat(`${home}/${stop}`)).size, 100_000, stop);
      }
    } finally {
      client.close();
    }
  });
});

Deno.test("a slow upload, a few bytes at a time for longer than the data timeout, is not taken for a stalled one", async () => {
  await withServer({ dtp: { timeout: 1 } }, async ({ port, home }) => {
    const client = await FtpClient.login(port);
    try {
      await client.command("TYPE I");
      const data = await client.pasv();
      assertEquals((await client.command("STOR slow")).code, 125);
      // 100 bytes every 200 ms for 3 s: never a batch, and a second is the data timeout.
      const bytes = randomBytes(1500);
      for (let offset = 0; offset < bytes.length; offset += 100) {
        await data.write(bytes.subarray(offset, offset + 100));
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      data.close();
      assertEquals((await client.reply()).code, 226);
      assertBytesEqual(await store.readFile(`${home}/slow`), bytes);
    } finally {
      client.close();
    }
  });
});

Deno.test("a full disk during STOR is answered with 452", async () => {
  class FullDisk extends AbstractedFS {
    override open(path: string, options: Deno.OpenOptions) {
      return options.write || options.append
        ? Deno.open("/dev/full", { write: true })
        : super.open(path, options);
    }
  }
  const full = new MemoryFS({ capacity: 50_000 });
  await withServer(
    {
      abstractedFs: onMemory
        ? (root) => full.view(root)
        : (root, session) => new FullDisk(root, session),
    },
    async ({ port }) => {
      const client = await FtpClient.login(port);
      try {
        const [, end] = await client.store("f", randomBytes(100_000), "STOR", 452);
        assertStringIncludes(end.text, "No space left on device");
      } finally {
        client.close();
      }
    },
  );
});

Deno.test("active mode: PORT connects to the client's port", async () => {
  await withServer({}, async ({ port, home }) => {
    await store.writeTextFile(`${home}/f`, "active bytes");
    const client = await FtpClient.login(port);
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    try {
      const p = listener.addr.port;
      assertEquals((await client.command(`PORT 127,0,0,1,${p >> 8},${p & 255}`)).code, 200);
      assertEquals((await client.command("RETR f")).code, 150);
      assertEquals(decoder.decode(await readAll(await listener.accept())), "active bytes");
      assertEquals((await client.reply()).code, 226);
      assertEquals((await client.command(`PORT 127,0,0,1,${p >> 8},${p & 255}`)).code, 200);
      assertEquals((await client.command("STOR up")).code, 150);
      await writeAndClose(await listener.accept(), encoder.encode("uploaded"));
      assertEquals((await client.reply()).code, 226);
      assertEquals(await store.readTextFile(`${home}/up`), "uploaded");
    } finally {
      listener.close();
      client.close();
    }
  });
});

Deno.test("active mode to a port nobody listens on gives 425", async () => {
  await withServer({}, async ({ port, home }) => {
    await store.writeTextFile(`${home}/f`, "x");
    const client = await FtpClient.login(port);
    try {
      const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const p = closed.addr.port;
      closed.close();
      assertEquals((await client.command(`PORT 127,0,0,1,${p >> 8},${p & 255}`)).code, 200);
      assertEquals((await client.command("RETR f")).code, 425, "no 150 before the connection");
      assertEquals((await client.command("NOOP")).code, 200);
    } finally {
      client.close();
    }
  });
});

Deno.test("SIZE and MDTM: refused in TYPE A and for directories", async () => {
  await withServer({}, async ({ port, home }) => {
    await store.writeTextFile(`${home}/f`, "12345");
    await store.utime(`${home}/f`, 0, new Date(Date.UTC(2024, 1, 29, 23, 5, 9)));
    const client = await FtpClient.login(port);
    try {
      assertEquals((await client.command("SIZE f")).code, 550, "TYPE A is the default");
      await client.command("TYPE I");
      assertEquals((await client.command("SIZE f")).text, "5");
      assertEquals((await client.command("SIZE /")).code, 550);
      assertEquals((await client.command("SIZE missing")).code, 550);
      assertEquals((await client.command("MDTM f")).lines, ["213 20240229230509"]);
      assertEquals((await client.command("MDTM /")).code, 550);
    } finally {
      client.close();
    }
  });
});

Deno.test("LIST is ls -l, NLST is names; both take a path and ignore ls options", async () => {
  await withServer({}, async ({ port, home }) => {
    await store.mkdir(`${home}/dir`);
    await store.writeTextFile(`${home}/dir/a.txt`, "12345");
    // MemoryFS has no symlinks, and no owners: LIST shows "owner" and "group".
    if (!onMemory) await Deno.symlink("a.txt", `${home}/dir/link`);
    const entries = onMemory ? 1 : 2;
    const client = await FtpClient.login(port);
    try {
      const list = await client.list("LIST", "-la dir");
      const lines = list.split("\r\n").filter(Boolean);
      assert(list.endsWith("\r\n"));
      assertEquals(lines.length, entries);
      const owner = onMemory ? "owner" : await idName("-un");
      const group = onMemory ? "group" : await idName("-gn");
      assertMatch(
        lines.find((l) => l.startsWith("-"))!,
        new RegExp(
          `^-rw-[r-][w-]-[r-][w-]- +1 ${owner} +${group} +5 [A-Z][a-z]{2} \\d\\d [\\d ]\\d:\\d\\d a\\.txt$`,
        ),
        "owner and group by name",
      );
      if (!onMemory) {
        assertMatch(lines.find((l) => l.includes("link"))!, /^l[rwx-]{9} .* link -> a\.txt$/);
        assertMatch(await client.list("LIST", "dir/link"), /^l[rwx-]{9} .* link -> a\.txt\r\n$/);
      }
      assertEquals(
        (await client.list("NLST", "dir")).split("\r\n").filter(Boolean).sort(),
        ["a.txt", "link"].slice(0, entries),
      );
      assertEquals(await client.list("NLST", "dir/a.txt"), "a.txt\r\n");
      assertEquals(
        await client.list("NLST", "-1 dir/a.txt"),
        "a.txt\r\n",
        "ls -1, as clients send it",
      );
      await client.command("CWD dir");
      assertEquals((await client.list("LIST")).split("\r\n").filter(Boolean).length, entries);
      const stat = await client.command("STAT a.txt");
      assertEquals(stat.code, 213, "RFC 959: 213 is a file's status");
      assertStringIncludes(stat.text, "a.txt");
      const dirStat = await client.command("STAT -la /dir");
      assertEquals(dirStat.code, 212, "RFC 959: 212 is a directory's status");
      assertEquals(dirStat.lines.length, 2 + entries);
      const data = await client.pasv();
      assertEquals((await client.command("LIST missing")).code, 550);
      data.close();
    } finally {
      client.close();
    }
  });
});

diskTest("every file a transfer opens is closed again, finished or refused", async () => {
  await withServer({}, async ({ port, home }) => {
    await store.writeTextFile(`${home}/f`, "content");
    // Counted by path: other test files run in this process and open their own.
    const openInHome = () =>
      [...Deno.readDirSync("/proc/self/fd")].filter(({ name }) => {
        try {
          return Deno.readLinkSync(`/proc/self/fd/${name}`).startsWith(`${home}/`);
        } catch {
          return false;
        }
      }).length;
    const client = await FtpClient.login(port);
    try {
      for (let i = 0; i < 10; i++) {
        await client.retr("f");
        await client.store(`up${i}`, new TextEncoder().encode("x"));
        await client.store("f", new TextEncoder().encode("content"), "APPE");
      }
      await waitFor(() => openInHome() === 0, 2000).catch(() => {});
      assertEquals(openInHome(), 0);
    } finally {
      client.close();
    }
  });
});

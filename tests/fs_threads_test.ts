/**
 * `FilesystemThreads`: a filesystem that blocks its thread (synchronously, for
 * 2 s) stalls its own session only; the other sessions' commands, those that touch
 * their filesystem included, are answered meanwhile. And the filesystem works
 * through the thread as on the server's: listings, transfers both ways, errors.
 */

import { FilesystemThreads } from "../mod.ts";
import { assert, assertEquals } from "./support/assert.ts";
import { BLOCKING_CHANNEL } from "./support/blocking_fs.ts";
import { randomBytes } from "./support/data.ts";
import { FtpClient } from "./support/ftp_client.ts";
import { PASSWORD, USER, withServer } from "./support/server.ts";
import { withTempDir } from "./support/temp_dir.ts";

const MODULE = new URL("./support/blocking_fs.ts", import.meta.url);

Deno.test("a filesystem blocked in its thread stalls its own session, not another's", async () => {
  using threads = new FilesystemThreads(MODULE, { threads: 2 });
  await withServer({ abstractedFs: threads.factory }, async ({ port, home }) => {
    await Deno.writeTextFile(`${home}/slow.txt`, "slow\n");
    await Deno.writeTextFile(`${home}/fast.txt`, "fast\n");
    const blocked = await FtpClient.login(port, USER, PASSWORD);
    const other = await FtpClient.login(port, USER, PASSWORD);
    const channel = new BroadcastChannel(BLOCKING_CHANNEL);
    try {
      await blocked.expect("TYPE I", 200);
      await other.expect("TYPE I", 200);
      const blocking = new Promise<string>((resolve) =>
        channel.onmessage = () => resolve("blocking")
      );
      const answered: string[] = [];
      const slow = blocked.command("SIZE slow.txt").then((reply) => {
        answered.push("SIZE slow.txt");
        return reply;
      });
      // The filesystem says it blocks before it does (a refusal instead would end the wait too).
      assertEquals(await Promise.race([blocking, slow.then((reply) => reply.text)]), "blocking");
      for (let i = 0; i < 10; i++) {
        assertEquals((await other.command("NOOP")).code, 200);
        answered.push("NOOP");
      }
      assertEquals((await other.command("SIZE fast.txt")).text, "5");
      answered.push("SIZE fast.txt");
      assertEquals((await slow).text, "5");
      assertEquals(answered, [...Array(10).fill("NOOP"), "SIZE fast.txt", "SIZE slow.txt"]);
    } finally {
      channel.close();
      blocked.close();
      other.close();
    }
  });
});

Deno.test("a filesystem in a thread: listings, uploads, downloads and errors as on the server's", async () => {
  using threads = new FilesystemThreads(MODULE, { threads: 1 });
  await withServer({ abstractedFs: threads.factory }, async ({ port, home }) => {
    const client = await FtpClient.login(port, USER, PASSWORD);
    try {
      await client.expect("TYPE I", 200);
      const bytes = randomBytes(300_000);
      await client.store("up.bin", bytes);
      assertEquals(await Deno.readFile(`${home}/up.bin`), bytes);
      assertEquals(await client.retr("up.bin"), bytes);
      await client.expect("REST 100000", 350);
      assertEquals(await client.retr("up.bin"), bytes.subarray(100_000));
      await client.expect("MKD sub", 257);
      for (let i = 0; i < 600; i++) await Deno.writeTextFile(`${home}/sub/f${i}`, "");
      const names = (await client.list("NLST", "sub")).trim().split("\r\n");
      assertEquals(names.length, 600, "a listing longer than one batch");
      const missing = await client.command("SIZE nothing-here");
      assertEquals([missing.code, missing.text], [550, "No such file or directory."]);
      const escape = await client.command("SIZE ../../../../etc/passwd");
      assert(escape.code === 550, escape.text);
      await client.expect("RNFR up.bin", 350);
      await client.expect("RNTO moved.bin", 250);
      await client.expect("DELE moved.bin", 250);
      assert(!(await Deno.stat(`${home}/moved.bin`).then(() => true, () => false)));
    } finally {
      client.close();
    }
  });
});

Deno.test("a filesystem in a thread: a rename told not to replace refuses an existing target; sync reaches it", async () => {
  using threads = new FilesystemThreads(MODULE, { threads: 1 });
  await withTempDir(async (home) => {
    const session = {
      remoteIp: "127.0.0.1",
      remotePort: 1,
      localIp: "127.0.0.1",
      localPort: 21,
      username: USER,
      authenticated: true,
      tlsControl: false,
    };
    const fs = threads.factory(home, session);
    await Deno.writeTextFile(`${home}/mine`, "mine");
    await Deno.writeTextFile(`${home}/theirs`, "theirs");
    const refused = await fs.rename("/mine", "/theirs", { replace: false }).catch((e) => e);
    assertEquals(String(refused?.message), "File exists.");
    assertEquals(await Deno.readTextFile(`${home}/theirs`), "theirs");
    await fs.rename("/mine", "/theirs");
    assertEquals(await Deno.readTextFile(`${home}/theirs`), "mine");
    // fsyncUploads reaches the thread's filesystem.
    assert(fs.sync, "a threaded filesystem can sync");
    await fs.sync("/theirs");
    assertEquals(
      String(await fs.sync("/none").catch((e) => e?.message)),
      "No such file or directory.",
    );
  });
});

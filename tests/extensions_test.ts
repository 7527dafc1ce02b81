import { Client } from "basic-ftp";
import { assert, assertEquals, assertMatch, assertStringIncludes } from "./support/assert.ts";
import { FtpClient, readAll } from "./support/ftp_client.ts";
import { python } from "./support/python.ts";
import { diskTest, onMemory, PASSWORD, store, USER, withServer } from "./support/server.ts";
import { hasIPv6Loopback } from "./support/ipv6.ts";

const decoder = new TextDecoder();

/** Parses a 229 reply's port. */
function epsvPort(text: string): number {
  const match = /\(\|\|\|(\d+)\|\)/.exec(text);
  assert(match, `not an EPSV reply: ${text}`);
  return Number(match[1]);
}

Deno.test("FEAT lists every extension, one per line with a leading space (RFC 2389)", async () => {
  await withServer({}, async ({ port }) => {
    const client = await FtpClient.connect(port);
    try {
      const feat = await client.command("FEAT");
      assertEquals(feat.code, 211);
      assertEquals(feat.lines, [
        "211-Features supported:",
        " EPRT",
        " EPSV",
        " MDTM",
        " MFMT",
        " MLST type*;size*;modify*;perm*;unique*;unix.mode;unix.uid;unix.gid;",
        " REST STREAM",
        " SIZE",
        " TVFS",
        " UTF8",
        "211 End FEAT.",
      ]);
      assertEquals((await client.command("OPTS UTF8 ON")).code, 200);
      assertEquals((await client.command("OPTS utf8 off")).code, 504);
      assertEquals((await client.command("OPTS NOPE x")).code, 501);
    } finally {
      client.close();
    }
  });
});

Deno.test("OPTS MLST selects the facts MLST reports and FEAT stars", async () => {
  await withServer({}, async ({ port, home }) => {
    await store.writeTextFile(`${home}/f`, "12345");
    const client = await FtpClient.login(port);
    try {
      assertEquals(
        (await client.command("OPTS MLST size;Type;bogus;unix.mode;")).text,
        "MLST OPTS type;size;unix.mode;",
      );
      const feat = await client.command("FEAT");
      assert(
        feat.lines.includes(" MLST type*;size*;modify;perm;unique;unix.mode*;unix.uid;unix.gid;"),
      );
      const mlst = await client.command("MLST f");
      assertMatch(mlst.lines[1], /^ type=file;size=5;unix\.mode=0[0-7]{3}; \/f$/);
      assertEquals((await client.command("OPTS MLST")).text, "MLST OPTS ");
      assertEquals(
        (await client.command("MLST f")).lines[1],
        "  /f",
        "no facts: a space, then the name after a space",
      );
    } finally {
      client.close();
    }
  });
});

Deno.test("MLST and MLSD follow RFC 3659's grammar: facts, perm letters, cdir and pdir", async () => {
  await withServer({}, async ({ port, home, authorizer }) => {
    await store.mkdir(`${home}/dir/sub`, { recursive: true });
    await store.writeTextFile(`${home}/dir/f.txt`, "abc");
    await store.utime(`${home}/dir/f.txt`, 0, new Date(Date.UTC(2023, 6, 4, 5, 6, 7)));
    if (!onMemory) {
      await Deno.symlink("/etc", `${home}/dir/outside`);
      await Deno.symlink("sub", `${home}/dir/inside`);
    }
    authorizer.addUser("reader", "pw", home, { perm: "elr" });
    const client = await FtpClient.login(port);
    try {
      const mlst = await client.command("MLST dir/f.txt");
      assertEquals(mlst.code, 250);
      assertEquals(mlst.lines.length, 3);
      assertMatch(
        mlst.lines[1],
        /^ type=file;size=3;modify=20230704050607;perm=adfrw;unique=[0-9a-z]+; \/dir\/f\.txt$/,
      );
      assertMatch(
        (await client.command("MLST")).lines[1],
        /^ type=dir;modify=\d{14};perm=cdeflmp;unique=\w+; \/$/,
      );
      const lines = decoder.decode(await client.retrList("MLSD dir")).split("\r\n");
      assertEquals(lines.pop(), "");
      const byName = new Map(lines.map((line) => [line.slice(line.indexOf(" ") + 1), line]));
      const links = onMemory ? [] : ["inside", "outside"];
      assertEquals([...byName.keys()].sort(), [".", "..", "f.txt", ...links, "sub"]);
      assertMatch(byName.get(".")!, /^type=cdir;/);
      assertMatch(byName.get("..")!, /^type=pdir;/);
      assertMatch(byName.get("sub")!, /^type=dir;modify=\d{14};perm=cdeflmp;/);
      if (!onMemory) {
        assertMatch(
          byName.get("inside")!,
          /^type=dir;/,
          "a symlink inside the jail is described by its target",
        );
        assertMatch(
          byName.get("outside")!,
          /^type=OS\.unix=slink;size=4;modify=\d{14};perm=;unique=\w+; outside$/,
          "the link itself is described: nothing is told of what is outside",
        );
      }
      const root = decoder.decode(await client.retrList("MLSD")).split("\r\n");
      assert(!root.some((line) => line.startsWith("type=pdir")), "no parent above the root");
      const data = await client.pasv();
      assertEquals((await client.command("MLSD dir/f.txt")).code, 501);
      data.close();
    } finally {
      client.close();
    }
    const reader = await FtpClient.login(port, "reader", "pw");
    try {
      assertMatch((await reader.command("MLST dir/f.txt")).lines[1], /;perm=r;/);
      assertMatch((await reader.command("MLST dir")).lines[1], /;perm=el;/);
    } finally {
      reader.close();
    }
    // RFC 3659 7.5.5: "c" (create files in a directory) is STOR's permission, w.
    authorizer.addUser("storer", "pw", home, { perm: "elw" });
    authorizer.addUser("appender", "pw", home, { perm: "elra" });
    for (const [user, dirPerm, filePerm] of [["storer", "cel", "w"], ["appender", "el", "ar"]]) {
      const other = await FtpClient.login(port, user, "pw");
      try {
        assertMatch((await other.command("MLST dir")).lines[1], new RegExp(`;perm=${dirPerm};`));
        assertMatch(
          (await other.command("MLST dir/f.txt")).lines[1],
          new RegExp(`;perm=${filePerm};`),
        );
      } finally {
        other.close();
      }
    }
    const modes = await FtpClient.login(port);
    try {
      await store.chmod(`${home}/dir/f.txt`, 0o4755);
      await store.chmod(`${home}/dir/sub`, 0o1777);
      await modes.command("OPTS MLST type;unix.mode;");
      assertEquals(
        (await modes.command("MLST dir/f.txt")).lines[1],
        " type=file;unix.mode=04755; /dir/f.txt",
      );
      assertEquals(
        (await modes.command("MLST dir/sub")).lines[1],
        " type=dir;unix.mode=01777; /dir/sub",
      );
    } finally {
      reader.close();
    }
  });
});

Deno.test("MDTM reports GMT by default and local time when useGmtTimes is false", async () => {
  const mtime = new Date(Date.UTC(2024, 1, 29, 23, 5, 9));
  const local = [
    mtime.getFullYear(),
    mtime.getMonth() + 1,
    mtime.getDate(),
    mtime.getHours(),
    mtime.getMinutes(),
    mtime.getSeconds(),
  ]
    .map((n, i) => String(n).padStart(i === 0 ? 4 : 2, "0")).join("");
  for (const [useGmtTimes, expected] of [[true, "20240229230509"], [false, local]] as const) {
    await withServer({ useGmtTimes }, async ({ port, home }) => {
      await store.writeTextFile(`${home}/f`, "x");
      await store.utime(`${home}/f`, mtime, mtime);
      const client = await FtpClient.login(port);
      try {
        assertEquals((await client.command("MDTM f")).text, expected);
      } finally {
        client.close();
      }
    });
  }
});

Deno.test("MFMT and SITE MFMT set the modification time (permission T)", async () => {
  await withServer({}, async ({ port, home, authorizer }) => {
    await store.writeTextFile(`${home}/f`, "x");
    authorizer.addUser("no-t", "pw", home, { perm: "elradfmw" });
    const client = await FtpClient.login(port);
    try {
      assertEquals((await client.command("MFMT 20200102030405 f")).lines, [
        "213 Modify=20200102030405; /f",
      ]);
      assertEquals(
        (await store.stat(`${home}/f`)).mtime?.toISOString(),
        "2020-01-02T03:04:05.000Z",
      );
      assertEquals((await client.command("SITE MFMT 19991231235959 f")).code, 213);
      assertEquals(
        (await store.stat(`${home}/f`)).mtime?.toISOString(),
        "1999-12-31T23:59:59.000Z",
      );
      for (const time of ["19700101000000", "20090909090909", "20101010101010", "20991231235959"]) {
        assertEquals((await client.command(`MFMT ${time} f`)).lines, [`213 Modify=${time}; /f`]);
        assertEquals((await client.command("MDTM f")).lines, [`213 ${time}`]);
      }
      for (const bad of ["MFMT 20201301000000 f", "MFMT 2020 f", "MFMT 20200102030405", "MFMT f"]) {
        assertEquals((await client.command(bad)).code, 501, bad);
      }
      assertEquals((await client.command("MFMT 20200102030405 missing")).code, 550);
    } finally {
      client.close();
    }
    const limited = await FtpClient.login(port, "no-t", "pw");
    try {
      assertEquals((await limited.command("MFMT 20200102030405 f")).text, "Not enough privileges.");
    } finally {
      limited.close();
    }
  });
});

Deno.test("EPSV: 229 with the port, protocol checks, and EPSV ALL locks the session to it", async () => {
  await withServer({}, async ({ port, home }) => {
    await store.writeTextFile(`${home}/f`, "via epsv");
    const client = await FtpClient.login(port);
    try {
      const reply = await client.command("EPSV");
      assertMatch(reply.text, /^Entering extended passive mode \(\|\|\|\d+\|\)\.$/);
      const data = await Deno.connect({ hostname: "127.0.0.1", port: epsvPort(reply.text) });
      assertEquals((await client.command("RETR f")).code, 125);
      assertEquals(decoder.decode(await readAll(data)), "via epsv");
      assertEquals((await client.reply()).code, 226);
      assertEquals((await client.command("EPSV 1")).code, 229);
      assertEquals(
        (await client.command("EPSV 2")).text,
        "Network protocol not supported, use (1).",
      );
      assertEquals((await client.command("EPSV 2")).code, 522);
      assertEquals((await client.command("EPSV x")).code, 501);
      assertEquals((await client.command("EPSV ALL")).code, 200);
      for (const command of ["PASV", "PORT 127,0,0,1,4,1", "EPRT |1|127.0.0.1|1025|"]) {
        assertEquals((await client.command(command)).code, 501, command);
      }
      assertEquals((await client.command("EPSV")).code, 229);
    } finally {
      client.close();
    }
  });
});

Deno.test("EPRT: active transfers, bounce protection, malformed and unknown protocols", async () => {
  await withServer({}, async ({ port, home }) => {
    await store.writeTextFile(`${home}/f`, "via eprt");
    const client = await FtpClient.login(port);
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    try {
      assertEquals((await client.command(`EPRT |1|127.0.0.1|${listener.addr.port}|`)).code, 200);
      assertEquals((await client.command("RETR f")).code, 150);
      assertEquals(decoder.decode(await readAll(await listener.accept())), "via eprt");
      assertEquals((await client.reply()).code, 226);
      assertEquals((await client.command("EPRT |1|10.0.0.1|5000|")).code, 501);
      assertEquals((await client.command("EPRT |1|127.0.0.1|21|")).code, 501);
      for (const other of ["|3|127.0.0.1|5000|", "|2|::1|5000|"]) {
        assertEquals(
          (await client.command(`EPRT ${other}`)).lines,
          ["522 Network protocol not supported, use (1)."],
          `${other}: what clients read to fall back`,
        );
      }
      for (
        const bad of [
          "|1|127.0.0.1|",
          "|1|127.0.0.1|99999|",
          "1|127.0.0.1|5000|",
          "|1|::1|5000|",
          "|2|1.2.3.4|5000|",
        ]
      ) {
        assertEquals((await client.command(`EPRT ${bad}`)).code, 501, bad);
      }
    } finally {
      listener.close();
      client.close();
    }
  });
});

Deno.test({
  name: hasIPv6Loopback
    ? "IPv6: a server on :: serves ::1 (EPSV, EPRT; PASV refused) and IPv4 clients alike"
    : "IPv6: skipped, this machine has no IPv6 loopback (::1)",
  ignore: !hasIPv6Loopback,
  async fn() {
    await withServer({ hostname: "::" }, async ({ port, home }) => {
      await store.writeTextFile(`${home}/f`, "over ipv6");
      const client = await FtpClient.connect(port, { hostname: "::1" });
      const listener = Deno.listen({ hostname: "::1", port: 0 });
      try {
        await client.command(`USER ${USER}`);
        assertEquals((await client.command(`PASS ${PASSWORD}`)).code, 230);
        assertEquals(
          (await client.command("PASV")).lines,
          ["425 PASV can't be used over IPv6; use EPSV."],
        );
        assertEquals(
          (await client.command("EPSV 1")).text,
          "Network protocol not supported, use (2).",
        );
        const reply = await client.command("EPSV");
        const data = await Deno.connect({ hostname: "::1", port: epsvPort(reply.text) });
        assertEquals((await client.command("RETR f")).code, 125);
        assertEquals(decoder.decode(await readAll(data)), "over ipv6");
        assertEquals((await client.reply()).code, 226);
        assertEquals(
          (await client.command(`EPRT |2|0:0:0:0:0:0:0:1|${listener.addr.port}|`)).code,
          200,
        );
        assertEquals((await client.command("RETR f")).code, 150);
        assertEquals(decoder.decode(await readAll(await listener.accept())), "over ipv6");
        assertEquals((await client.reply()).code, 226);
        assertEquals(
          (await client.command("EPRT |1|127.0.0.1|5000|")).lines,
          ["522 Network protocol not supported, use (2)."],
          "an IPv6 control connection serves IPv6 data connections",
        );
      } finally {
        listener.close();
        client.close();
      }
      const v4 = await FtpClient.login(port);
      try {
        assertEquals(
          decoder.decode(await v4.retr("f")),
          "over ipv6",
          "dual stack: IPv4 clients too",
        );
      } finally {
        v4.close();
      }
    });
  },
});

Deno.test("UTF-8 path names everywhere; a name that is not UTF-8 does not break listings", async () => {
  await withServer({}, async ({ port, home }) => {
    // Only a disk holds a name that is not UTF-8.
    const odd = onMemory ? null : "caf\uFFFD.bin";
    if (!onMemory) {
      await python(
        `import sys; open(sys.argv[1].encode() + b"/caf\\xe9.bin", "wb").write(b"x")`,
        home,
      );
    }
    const client = await FtpClient.login(port);
    try {
      assertEquals((await client.command("MKD café ☕")).text, '"/café ☕" directory created.');
      assertEquals((await client.command("CWD café ☕")).code, 250);
      await client.store("日本.txt", new TextEncoder().encode("nihon"));
      assertEquals(await store.readTextFile(`${home}/café ☕/日本.txt`), "nihon");
      assertEquals(decoder.decode(await client.retr("/café ☕/日本.txt")), "nihon");
      assertStringIncludes(await client.list("NLST"), "日本.txt");
      await client.command("CWD /");
      if (odd) {
        const names = (await client.list("NLST")).split("\r\n");
        assert(names.includes(odd), "shown with a replacement character");
        assertStringIncludes(await client.list("LIST"), odd);
        assertStringIncludes(decoder.decode(await client.retrList("MLSD")), ` ${odd}`);
      }
      assertStringIncludes((await client.command("STAT /")).text, "café ☕");
      assertEquals((await client.command("NOOP")).code, 200);
    } finally {
      client.close();
    }
  });
});

Deno.test("hostile arguments: NUL, CR (as CR NUL), 4 KiB names, ../ chains", async () => {
  await withServer({}, async ({ port, home }) => {
    const client = await FtpClient.login(port);
    try {
      assertEquals((await client.command("MKD a\0b")).code, 501);
      await client.sendRaw(new TextEncoder().encode("MKD cr\r\0name\r\n"));
      const made = await client.reply();
      assertEquals(made.code, 257);
      assertEquals(
        made.lines[0],
        '257 "/cr\r\0name" directory created.',
        "a CR in a reply is sent as CR NUL",
      );
      assert((await store.stat(`${home}/cr\rname`)).isDirectory);
      assertEquals(
        (await client.command("MKD " + "n".repeat(4096))).text,
        "Command line too long.",
      );
      assertEquals(
        (await client.command("CWD " + "../".repeat(500))).text,
        '"/" is the current directory.',
      );
      assertEquals((await client.command("MLST " + "../".repeat(500) + "etc/passwd")).code, 550);
      assertEquals(
        (await client.command("SITE CHMOD 755 " + "../".repeat(50))).code,
        200,
        "clamped to the home",
      );
    } finally {
      client.close();
    }
  });
});

Deno.test("a SITE command is one table entry (the README's SITE RMTREE)", async () => {
  const { protoCmds } = await import("../mod.ts");
  const { siteRmtree } = await import("../examples/site_command.ts");
  const commands = new Map(protoCmds).set("SITE RMTREE", siteRmtree);
  await withServer({ commands }, async ({ port, home }) => {
    await store.mkdir(`${home}/tree/deep`, { recursive: true });
    const client = await FtpClient.login(port);
    try {
      assertStringIncludes((await client.command("SITE HELP")).text, "RMTREE");
      assertStringIncludes(
        (await client.command("SITE HELP RMTREE")).text,
        "remove directory tree",
      );
      assertEquals((await client.command("SITE RMTREE tree")).code, 250);
      assertEquals(await store.stat(`${home}/tree`).catch(() => null), null);
      assertEquals(
        (await client.command("SITE RMTREE ../../..")).code,
        550,
        "../../.. is the home itself",
      );
      assertEquals((await client.command("SITE RMTREE missing")).code, 550);
    } finally {
      client.close();
    }
  });
});

Deno.test("passive ports are picked at random within the range", async () => {
  const free = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const base = Math.min(free.addr.port, 65535 - 200);
  free.close();
  const ports = Array.from({ length: 200 }, (_, i) => base + i);
  await withServer({ passivePorts: ports }, async ({ port }) => {
    const client = await FtpClient.login(port);
    try {
      const picked: number[] = [];
      for (let i = 0; i < 40; i++) picked.push((await client.pasvAddress()).port);
      assert(picked.every((p) => ports.includes(p)), "inside the range");
      const sequential = picked.every((p, i) => i === 0 || p === picked[i - 1] + 1);
      assert(!sequential, `predictable sequence: ${picked}`);
      // 40 picks out of 200 ports: a uniform choice repeats a few at most.
      assert(new Set(picked).size >= 30, `ports repeat: ${picked}`);
      const spread = Math.max(...picked) - Math.min(...picked);
      assert(spread >= 100, `the picks stay in one corner of the range: ${picked}`);
    } finally {
      client.close();
    }
    // Each session's first pick too, while every port of the range is free.
    const firsts: number[] = [];
    for (let i = 0; i < 8; i++) {
      const fresh = await FtpClient.login(port);
      try {
        firsts.push((await fresh.pasvAddress()).port);
      } finally {
        fresh.close();
      }
    }
    assert(new Set(firsts).size >= 4, `the first pick is predictable: ${firsts}`);
  });
});

Deno.test("clients parse the MLSD listing: basic-ftp and lftp", async () => {
  await withServer({}, async ({ port, home }) => {
    await store.mkdir(`${home}/dir`);
    await store.writeTextFile(`${home}/file.txt`, "1234567");
    const client = new Client(10_000);
    try {
      await client.access({ host: "127.0.0.1", port, user: USER, password: PASSWORD });
      const entries = await client.list();
      const file = entries.find((entry) => entry.name === "file.txt");
      assertEquals(file?.size, 7);
      assert(file?.isFile);
      assert(entries.find((entry) => entry.name === "dir")?.isDirectory);
      assert(!entries.some((entry) => entry.name === "." || entry.name === ".."));
    } finally {
      client.close();
    }
    const { code, stdout } = await new Deno.Command("lftp", {
      args: [
        "-c",
        `set net:max-retries 1; set ftp:use-mlsd on; open -u ${USER},${PASSWORD} ftp://127.0.0.1:${port}; cls -l --sort=name`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(code, 0);
    const lines = decoder.decode(stdout).trim().split("\n");
    assertEquals(lines.length, 2);
    assertMatch(lines[0], /^d.* dir\/$/);
    assertMatch(lines[1], /^-rw.* 7 .* file\.txt$/);
  });
});

diskTest("MFMT sets the modification time and leaves the access time alone", async () => {
  await withServer({}, async ({ port, home }) => {
    await Deno.writeTextFile(`${home}/f`, "x");
    const accessed = new Date("2019-05-06T07:08:09Z");
    await Deno.utime(`${home}/f`, accessed, accessed);
    const client = await FtpClient.login(port);
    try {
      assertEquals((await client.command("MFMT 20200102030405 f")).code, 213);
      const info = await Deno.stat(`${home}/f`);
      assertEquals(info.mtime?.toISOString(), "2020-01-02T03:04:05.000Z");
      assertEquals(info.atime?.toISOString(), accessed.toISOString());
    } finally {
      client.close();
    }
  });
});

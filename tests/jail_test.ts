import { assert, assertEquals, assertMatch, assertStringIncludes } from "./support/assert.ts";
import { AbstractedFS } from "../mod.ts";
import { FtpClient } from "./support/ftp_client.ts";
import { diskTest, store, withServer } from "./support/server.ts";

async function withOutside(body: (outside: string) => Promise<void>): Promise<void> {
  const outside = await Deno.realPath(await Deno.makeTempDir({ prefix: "tsftpd-outside-" }));
  await store.writeTextFile(`${outside}/secret`, "secret");
  try {
    await body(outside);
  } finally {
    await Deno.remove(outside, { recursive: true });
  }
}

Deno.test("the client sees / at its home and .. never leaves it", async () => {
  await withServer({}, async ({ port, home }) => {
    await store.mkdir(`${home}/sub`);
    const client = await FtpClient.login(port);
    try {
      assertEquals((await client.command("CWD ..")).text, '"/" is the current directory.');
      assertEquals((await client.command("CWD ../../../..")).text, '"/" is the current directory.');
      assertEquals(
        (await client.command("CWD sub/../../sub")).text,
        '"/sub" is the current directory.',
      );
      assertEquals((await client.command("CDUP")).code, 200);
      assertEquals((await client.command("CDUP")).text, '"/" is the current directory.');
      for (
        const path of [
          "../../../../etc/passwd",
          "/etc/passwd",
          "/../etc/passwd",
          "sub/../../etc/passwd",
        ]
      ) {
        const data = await client.pasv();
        assertEquals((await client.command(`RETR ${path}`)).code, 550, path);
        data.close();
      }
      assertEquals((await client.command("CWD /etc")).code, 550);
      assertEquals((await client.command("MKD ../../escaped")).code, 257, "made inside the home");
      assertEquals((await store.stat(`${home}/escaped`)).isDirectory, true);
    } finally {
      client.close();
    }
  });
});

diskTest("symlinks that resolve outside the home are refused, never followed", async () => {
  await withOutside(async (outside) => {
    await withServer({}, async ({ port, home, logs }) => {
      await Deno.symlink(outside, `${home}/out-dir`);
      await Deno.symlink(`${outside}/secret`, `${home}/out-file`);
      await Deno.symlink(`${outside}/not-yet`, `${home}/dangling`);
      await store.mkdir(`${home}/in`);
      await store.writeTextFile(`${home}/in/ok`, "inside");
      await Deno.symlink(`${home}/in`, `${home}/in-link`);
      const client = await FtpClient.login(port);
      try {
        const cwd = await client.command("CWD out-dir");
        assertEquals(cwd.code, 550);
        assertStringIncludes(cwd.text, "outside the home directory");
        assert(
          logs.some((line) =>
            line.startsWith("[W") &&
            line.endsWith('CWD refused: "/out-dir" points to a path outside the home directory.')
          ),
          "the operator hears of it",
        );
        for (
          const command of [
            "RETR out-file",
            "RETR out-dir/secret",
            "STOR dangling",
            "STOR out-dir/new",
            "LIST out-dir",
          ]
        ) {
          const data = await client.pasv();
          assertEquals((await client.command(command)).code, 550, command);
          data.close();
        }
        for (
          const command of [
            "DELE out-dir/secret",
            "MKD out-dir/x",
            "RNFR out-dir/secret",
            "STAT out-dir",
            "SITE CHMOD 777 out-file",
          ]
        ) {
          assertEquals((await client.command(command)).code, 550, command);
        }
        assertEquals(await store.readTextFile(`${outside}/secret`), "secret");
        assertEquals(
          await Deno.lstat(`${outside}/not-yet`).catch(() => null),
          null,
          "nothing created outside",
        );
        assertEquals((await client.command("RNFR in/ok")).code, 350);
        assertEquals(
          (await client.command("RNTO out-dir/stolen")).code,
          550,
          "no rename out of the jail",
        );
        assertEquals(
          new TextDecoder().decode(await client.retr("in-link/ok")),
          "inside",
          "links inside are followed",
        );
      } finally {
        client.close();
      }
    });
  });
});

for (const kernelJail of [true, false]) {
  const jail = kernelJail ? "the kernel's jail" : "paths checked";
  diskTest(
    `a link to outside is removed and renamed as an entry of its directory (${jail})`,
    async () => {
      await withOutside(async (outside) => {
        const abstractedFs = (root: string) => new AbstractedFS(root, undefined, { kernelJail });
        await withServer({ abstractedFs }, async ({ port, home }) => {
          await store.mkdir(`${home}/sub`);
          await Deno.symlink(`${outside}/secret`, `${home}/sub/out-file`);
          await Deno.symlink(outside, `${home}/out-dir`);
          using client = await FtpClient.login(port);
          assertEquals((await client.command("DELE sub/out-file")).code, 250);
          assertEquals(await Deno.lstat(`${home}/sub/out-file`).catch(() => null), null);
          assertEquals(await store.readTextFile(`${outside}/secret`), "secret", "the target stays");
          assertEquals((await client.command("RNFR out-dir")).code, 350);
          assertEquals((await client.command("RNTO sub/moved")).code, 250);
          assert((await Deno.lstat(`${home}/sub/moved`)).isSymlink);
          // What it points to is still out of reach under its new name.
          for (const command of ["RETR sub/moved/secret", "STOR sub/moved/new"]) {
            const data = await client.pasv();
            assertEquals((await client.command(command)).code, 550, command);
            data.close();
          }
          assertEquals((await client.command("DELE sub/moved/secret")).code, 550);
          assertEquals(await store.readTextFile(`${outside}/secret`), "secret");
          assertEquals(await Deno.lstat(`${outside}/new`).catch(() => null), null);
        });
      });
    },
  );
}

Deno.test("hostile path arguments: NUL, long names, odd separators", async () => {
  await withServer({}, async ({ port, logs }) => {
    const client = await FtpClient.login(port);
    try {
      assertEquals((await client.command("CWD a\0b")).code, 501);
      const long = await client.command("MKD " + "x".repeat(1000));
      assertEquals([long.code, long.text], [550, "File name too long."]);
      assert(
        logs.some((line) =>
          line.startsWith("[I") && line.endsWith("MKD refused: File name too long.")
        ),
      );
      const data = await client.pasv();
      assertEquals((await client.command("STOR " + "y".repeat(256))).text, "File name too long.");
      data.close();
      assert(!logs.some((line) => line.includes("outside the home")), "not taken for an escape");
      assertEquals((await client.command("MKD ./a//b/")).code, 550, "no parent");
      assertEquals((await client.command("MKD ./a//")).text, '"/a" directory created.');
      assertEquals((await client.command("CWD //a/./")).text, '"/a" is the current directory.');
      assertEquals((await client.command("NOOP")).code, 200);
    } finally {
      client.close();
    }
  });
});

Deno.test("permission letters are enforced per command", async () => {
  await withServer({ perm: "el" }, async ({ port, home }) => {
    await store.writeTextFile(`${home}/f`, "x");
    await store.mkdir(`${home}/d`);
    const client = await FtpClient.login(port);
    try {
      for (const command of ["MKD n", "RMD d", "DELE f", "RNFR f", "SITE CHMOD 600 f"]) {
        assertEquals((await client.command(command)).text, "Not enough privileges.", command);
      }
      for (const command of ["RETR f", "STOR g", "APPE f", "STOU"]) {
        const data = await client.pasv();
        assertEquals((await client.command(command)).text, "Not enough privileges.", command);
        data.close();
      }
      assertEquals((await client.command("CWD d")).code, 250);
      assertEquals((await client.list("NLST", "/")).includes("f"), true);
    } finally {
      client.close();
    }
  });
  await withServer({ perm: "r" }, async ({ port, home }) => {
    await store.mkdir(`${home}/d`);
    const client = await FtpClient.login(port);
    try {
      assertEquals((await client.command("CWD d")).code, 550);
      const data = await client.pasv();
      assertEquals((await client.command("LIST")).code, 550);
      data.close();
      assertEquals((await client.command("STAT /")).code, 550);
    } finally {
      client.close();
    }
  });
});

Deno.test("overridePerm grants per directory, recursively or not", async () => {
  await withServer({ perm: "elr" }, async ({ port, home, authorizer }) => {
    await store.mkdir(`${home}/upload/deep`, { recursive: true });
    await store.mkdir(`${home}/upload2`);
    await store.mkdir(`${home}/tree2`);
    await store.mkdir(`${home}/tree/deep`, { recursive: true });
    await store.mkdir(`${home}/tree/ro/deeper`, { recursive: true });
    await store.writeTextFile(`${home}/upload/victim`, "x");
    authorizer.overridePerm("user", `${home}/upload`, "elrwd");
    authorizer.overridePerm("user", `${home}/tree/ro`, "elr", true);
    authorizer.overridePerm("user", `${home}/tree`, "elrwm", true);
    const client = await FtpClient.login(port);
    const storeCode = async (path: string) => {
      const data = await client.pasv();
      const reply = await client.command(`STOR ${path}`);
      data.close();
      if (reply.code === 150 || reply.code === 125) await client.reply();
      return reply.code;
    };
    try {
      assertEquals(
        await storeCode("upload/a"),
        125,
        "non-recursive: files directly in the directory",
      );
      assertEquals(await storeCode("upload/deep/a"), 550, "non-recursive: not in subdirectories");
      assertEquals(await storeCode("tree/deep/a"), 125, "recursive: the whole tree");
      assertEquals(await storeCode("a"), 550, "outside the overrides the user's own letters apply");
      assertEquals((await client.command("MKD tree/deep/x")).code, 257);
      assertEquals((await client.command("MKD upload/x")).code, 550);
      assertEquals(await storeCode("upload2/a"), 550, "/upload's override is not /upload2's");
      assertEquals(await storeCode("tree2/a"), 550, "/tree's recursive override is not /tree2's");
      assertEquals(
        await storeCode("tree/ro/a"),
        550,
        "the nested override wins over the outer one",
      );
      assertEquals(
        await storeCode("tree/ro/deeper/a"),
        550,
        "the nested override is recursive too",
      );
      assertEquals((await client.command("MKD tree/ro/x")).code, 550);
      assertEquals((await client.command("RMD upload/deep")).code, 550, "a subdirectory itself");
      assertEquals((await client.command("DELE upload/victim")).code, 250, "a file directly in it");
    } finally {
      client.close();
    }
  });
});

Deno.test("an overridePerm on a subdirectory grants every write command there and nowhere else", async () => {
  await withServer({ perm: "elr" }, async ({ port, home, authorizer }) => {
    await store.mkdir(`${home}/sub`);
    await store.mkdir(`${home}/dir`);
    await store.writeTextFile(`${home}/file`, "x");
    authorizer.overridePerm("user", `${home}/sub`, "elradfmwMT", true);
    const client = await FtpClient.login(port);
    const bytes = new TextEncoder().encode("data");
    const refused = async (line: string) => {
      const data = await client.pasv();
      const reply = await client.command(line);
      data.close();
      assertEquals(reply.text, "Not enough privileges.", line);
    };
    try {
      await client.store("sub/a", bytes);
      await refused("STOR a");
      await client.store("sub/a", bytes, "APPE");
      assertEquals(await store.readTextFile(`${home}/sub/a`), "datadata");
      await refused("APPE file");
      assertEquals((await client.command("CWD sub")).code, 250);
      const [unique] = await client.store("", bytes, "STOU");
      assertMatch(unique.text, /^FILE: ftpd\./);
      assertEquals((await client.command("CWD /")).code, 250);
      await refused("STOU");
      assertEquals((await client.command("RNFR sub/a")).code, 350);
      assertEquals((await client.command("RNTO sub/b")).code, 250);
      assertEquals((await client.command("RNFR file")).text, "Not enough privileges.");
      assertEquals((await client.command("SITE CHMOD 600 sub/b")).code, 200);
      assertEquals((await store.stat(`${home}/sub/b`)).mode! & 0o777, 0o600);
      assertEquals((await client.command("SITE CHMOD 600 file")).text, "Not enough privileges.");
      assertEquals((await client.command("MFMT 20200102030405 sub/b")).code, 213);
      assertEquals(
        (await client.command("MFMT 20200102030405 file")).text,
        "Not enough privileges.",
      );
      assertEquals((await client.command("MKD sub/d")).code, 257);
      assertEquals((await client.command("MKD d")).text, "Not enough privileges.");
      assertEquals((await client.command("RMD sub/d")).code, 250);
      assertEquals((await client.command("RMD dir")).text, "Not enough privileges.");
      assertEquals((await client.command("DELE sub/b")).code, 250);
      assertEquals((await client.command("DELE file")).text, "Not enough privileges.");
    } finally {
      client.close();
    }
  });
});

Deno.test("an overridePerm on the home itself applies to the home's root", async () => {
  await withServer({ perm: "r" }, async ({ port, home, authorizer }) => {
    authorizer.overridePerm("user", home, "elr", false);
    const client = await FtpClient.login(port);
    try {
      assertEquals((await client.command("CWD /")).code, 250, "e on the root itself");
      assertEquals((await client.command("STAT /")).code, 212, "l on the root itself");
    } finally {
      client.close();
    }
  });
});

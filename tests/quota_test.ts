/**
 * Quotas per user: bytes and files, counted at login by walking the home, checked
 * before an upload (552 at once) and during it (552 at the limit, its bytes
 * removed, the old file whole), kept right by overwrites, APPE, DELE, RNTO and
 * RMD, and shared by the user's sessions. On the disk and in memory.
 */

import { Client } from "basic-ftp";
import { Readable } from "node:stream";
import {
  DummyAuthorizer,
  isUploadTemporary,
  type QuotaLimits,
  type SessionInfo,
  type UserSession,
  UsersFileAuthorizer,
} from "../mod.ts";
import { hashPassword } from "../src/auth/hashes.ts";
import { assert, assertEquals, assertMatch, assertStringIncludes } from "./support/assert.ts";
import { randomBytes } from "./support/data.ts";
import { FtpClient } from "./support/ftp_client.ts";
import { onMemory, PASSWORD, store, USER, withServer } from "./support/server.ts";

const KiB = 1024;

/** The test server's users, `user` granted `limits`. */
class QuotaAuthorizer extends DummyAuthorizer {
  readonly #limits: QuotaLimits;

  constructor(limits: QuotaLimits) {
    super();
    this.#limits = limits;
  }

  startSession(_username: string, _session: SessionInfo): Promise<UserSession> {
    return Promise.resolve({ quota: this.#limits });
  }
}

/** Runs `body` with a server whose `user` (all permissions) has `limits`, the home holding `files`. */
async function withQuota(
  limits: QuotaLimits,
  files: Record<string, number>,
  body: (port: number, home: string) => Promise<void>,
): Promise<void> {
  const authorizer = new QuotaAuthorizer(limits);
  await withServer({ authorizer }, async ({ port, home }) => {
    authorizer.addUser(USER, PASSWORD, home, { perm: "elradfmwMT" });
    for (const [name, size] of Object.entries(files)) {
      if (name.includes("/")) {
        await store.mkdir(`${home}/${name.split("/")[0]}`, { recursive: true });
      }
      await store.writeFile(`${home}/${name}`, randomBytes(size));
    }
    await body(port, home);
  });
}

/** Logs in as `user`, in TYPE I. */
async function login(port: number): Promise<FtpClient> {
  const client = await FtpClient.login(port);
  await client.command("TYPE I");
  return client;
}

/** The reply to `STOR`/`APPE` of `path` refused before any data moves. */
async function refusedAtOnce(client: FtpClient, command: string): Promise<string> {
  const data = await client.pasv();
  const reply = await client.command(command);
  data.close();
  assertEquals(reply.code, 552, reply.text);
  return reply.text;
}

Deno.test("quota: the bytes the home holds at login count; an upload past them is stopped with 552 and removed", async () => {
  await withQuota(
    { bytes: 100 * KiB },
    { "old.bin": 60 * KiB, "sub/b.bin": 30 * KiB },
    async (port, home) => {
      const client = await login(port);
      try {
        const [, end] = await client.store("new.bin", randomBytes(20 * KiB), "STOR", 552);
        assertMatch(end.text, /^Transfer aborted: Quota exceeded: /);
        assertEquals((await store.names(home)).filter(isUploadTemporary), [], "nothing kept");
        assertEquals((await client.command("SIZE new.bin")).code, 550);
        const [, over] = await client.store("old.bin", randomBytes(120 * KiB), "STOR", 552);
        assertStringIncludes(over.text, "Quota exceeded");
        assertEquals((await store.stat(`${home}/old.bin`)).size, 60 * KiB, "the old file, whole");
        await client.store("small.bin", randomBytes(10 * KiB));
        const text = await refusedAtOnce(client, "STOR more.bin");
        assertEquals(
          text,
          "Quota exceeded: 100K of 100K used.",
          "at the limit: refused before 150",
        );
      } finally {
        client.close();
      }
    },
  );
});

Deno.test("quota: an overwrite releases the old file's bytes; DELE and RNTO over a file release theirs", async () => {
  await withQuota({ bytes: 100 * KiB }, { "a.bin": 60 * KiB }, async (port, home) => {
    const client = await login(port);
    try {
      await client.store("a.bin", randomBytes(90 * KiB)); // 90K, not 150K
      assertEquals((await store.stat(`${home}/a.bin`)).size, 90 * KiB);
      await client.store("b.bin", randomBytes(10 * KiB));
      await refusedAtOnce(client, "STOR c.bin");
      assertEquals((await client.command("RNFR b.bin")).code, 350);
      assertEquals((await client.command("RNTO moved.bin")).code, 250, "a rename frees nothing");
      await refusedAtOnce(client, "STOR c.bin");
      assertEquals((await client.command("DELE moved.bin")).code, 250);
      await client.store("c.bin", randomBytes(10 * KiB));
      assertEquals((await client.command("RNFR c.bin")).code, 350);
      assertEquals((await client.command("RNTO a.bin")).code, 250, "replacing 90K by 10K");
      await client.store("d.bin", randomBytes(90 * KiB));
      await refusedAtOnce(client, "APPE a.bin");
      await refusedAtOnce(client, "STOR d.bin"); // at the limit, even an overwrite waits for a DELE
      assertEquals((await client.command("DELE a.bin")).code, 250);
      await client.store("d.bin", randomBytes(10 * KiB)); // 90K replaced by 10K
      await client.store("e.bin", randomBytes(80 * KiB));
    } finally {
      client.close();
    }
  });
});

Deno.test("quota: what failed uploads left counts, and RMD of the directory they are in frees it", async () => {
  const files = { "a.bin": 15 * KiB, "tmp/.x.tsftpd-abcdefgh.part": 85 * KiB };
  await withQuota({ bytes: 100 * KiB }, files, async (port) => {
    const client = await login(port);
    try {
      await refusedAtOnce(client, "APPE a.bin");
      assertEquals((await client.list("NLST", "tmp")).trim(), "", "it looks empty");
      assertEquals((await client.command("RMD tmp")).code, 250);
      await client.store("a.bin", randomBytes(80 * KiB), "APPE");
      const [, end] = await client.store("a.bin", randomBytes(20 * KiB), "APPE", 552);
      assertStringIncludes(end.text, "Quota exceeded");
    } finally {
      client.close();
    }
  });
});

Deno.test("quota: files are counted; at the limit a new file is refused, an overwrite is not", async () => {
  await withQuota({ files: 2 }, { "one": 1, "dir/two": 1 }, async (port) => {
    const client = await login(port);
    try {
      assertEquals(await refusedAtOnce(client, "STOR three"), "Quota exceeded: 2 of 2 files used.");
      await refusedAtOnce(client, "STOU");
      await refusedAtOnce(client, "APPE three");
      await client.store("one", randomBytes(5000), "STOR");
      assertEquals((await client.command("DELE dir/two")).code, 250);
      await client.store("three", randomBytes(5), "STOR");
      await refusedAtOnce(client, "STOR four");
    } finally {
      client.close();
    }
  });
});

Deno.test("quota: the user's sessions share one count (basic-ftp)", async () => {
  await withQuota({ bytes: 100 * KiB }, {}, async (port) => {
    const first = await login(port);
    const second = new Client(10_000);
    try {
      await second.access({ host: "127.0.0.1", port, user: USER, password: PASSWORD });
      await first.store("first.bin", randomBytes(70 * KiB));
      const upload = second.uploadFrom(Readable.from([randomBytes(40 * KiB)]), "second.bin");
      const error = await upload.then(() => null, (error: Error) => error);
      assert(error !== null, "the second session sees the first one's bytes");
      assertStringIncludes(error.message, "552");
      await second.uploadFrom(Readable.from([randomBytes(20 * KiB)]), "second.bin");
    } finally {
      first.close();
      second.close();
    }
  });
});

Deno.test({
  name: "quota: a users file's quota_bytes and quota_files are granted at login",
  ignore: onMemory,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const password = await hashPassword("secret");
      await Deno.mkdir(`${dir}/home`);
      await Deno.writeTextFile(
        `${dir}/users.toml`,
        `[[user]]\nname = "cam"\npassword = "${password}"\nhome = "home"\nperm = "elrw"\n` +
          `quota_bytes = "64K"\nquota_files = 10\n`,
      );
      using authorizer = await UsersFileAuthorizer.load(`${dir}/users.toml`);
      await withServer({ authorizer }, async ({ port }) => {
        const client = await FtpClient.login(port, "cam", "secret");
        try {
          await client.command("TYPE I");
          await client.store("a.jpg", randomBytes(60 * KiB));
          const [, end] = await client.store("b.jpg", randomBytes(10 * KiB), "STOR", 552);
          assertStringIncludes(end.text, "64K");
        } finally {
          client.close();
        }
      });
      await Deno.writeTextFile(
        `${dir}/users.toml`,
        `[[user]]\nname = "cam"\npassword = "${password}"\nhome = "home"\nquota_files = "ten"\n`,
      );
      const error = await authorizer.reload().then(() => null, (error: Error) => error);
      assertMatch(String(error), /users\.toml:5: user "cam": quota_files must be a whole number/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

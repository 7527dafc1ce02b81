/**
 * Accounts in PostgreSQL: a real database started for the test (Debian's
 * `postgresql`, as an unprivileged account), the schema made by two `tsftpd db
 * init` at once, accounts managed with `tsftpd user ...`, logins through real
 * servers with {@linkcode DatabaseAuthorizer}: changes seen at the next login, a
 * most-sessions limit across two nodes, the database stopped and started again.
 *
 * @module
 */

import { DatabaseAuthorizer, DatabaseBanStore, Defender, Logger, SCHEMA_VERSION } from "../mod.ts";
import { connectDatabase } from "../src/db/database.ts";
import { assert, assertEquals, assertMatch, assertStringIncludes } from "./support/assert.ts";
import { runCli } from "./support/cli.ts";
import { FtpClient } from "./support/ftp_client.ts";
import { postgresMissing, TestPostgres } from "./support/postgres.ts";
import { withServer } from "./support/server.ts";

const quiet = new Logger({ sink: () => {} });
const missing = postgresMissing();
if (missing) console.warn(`database_test skipped: ${missing}`);

/** Logs in as `user`, resolving to the reply to PASS (the client is closed unless it got 230). */
async function tryLogin(port: number, user: string, password: string) {
  const client = await FtpClient.connect(port);
  assertEquals((await client.command(`USER ${user}`)).code, 331);
  const reply = await client.command(`PASS ${password}`);
  if (reply.code !== 230) client.close();
  return { client, reply };
}

async function cli(args: string[], stdin?: string) {
  const outcome = await runCli(args, stdin === undefined ? {} : { stdin });
  return outcome;
}

Deno.test({
  name:
    "accounts in PostgreSQL: schema, user commands, logins, limits across nodes, the database down",
  ignore: missing !== null,
  async fn(t) {
    await using db = await TestPostgres.start();
    const url = db.url;
    // Carol's home outlives each server of the steps, as shared storage would.
    const shared = await Deno.realPath(await Deno.makeTempDir({ prefix: "tsftpd-shared-" }));
    await using _shared = { [Symbol.asyncDispose]: () => Deno.remove(shared, { recursive: true }) };

    await t.step("db init: two at once make the schema once; again, nothing to do", async () => {
      const both = await Promise.all([
        cli(["db", "init", "--db", url]),
        cli(["db", "init", "--db", url]),
      ]);
      for (const outcome of both) assertEquals(outcome.code, 0, outcome.stderr);
      const said = both.map((outcome) => outcome.stdout.trim()).sort();
      assertEquals(said, [
        `schema created (version ${SCHEMA_VERSION})`,
        `schema up to date (version ${SCHEMA_VERSION})`,
      ]);
      const again = await cli(["db", "init", "--db", url]);
      assertEquals(again.stdout.trim(), `schema up to date (version ${SCHEMA_VERSION})`);
      assertEquals(await db.psql("select count(*) from tsftpd_schema"), "1");
    });

    await t.step(
      "the defender's state is shared: points add up across nodes, a ban is seen by all",
      async () => {
        const nodes = await Promise.all([0, 1].map(() => connectDatabase(url)));
        try {
          const [one, two] = nodes.map((sql) =>
            new Defender({
              store: new DatabaseBanStore(sql),
              allowList: [],
              threshold: 4,
              logger: quiet,
            })
          );
          await one.score("192.0.2.7", "loginFailed");
          assertEquals(await two.isBanned("192.0.2.7"), false, "2 points of 4");
          await two.score("192.0.2.7", "loginFailed");
          assert(await one.isBanned("192.0.2.7"), "both nodes' points counted");
          assert(await two.isBanned("192.0.2.7"), "the ban is seen by the other node");
          assertEquals(await two.isBanned("192.0.2.8"), false, "another address is not");
          assertEquals((await one.bans()).map((ban) => ban.key), ["192.0.2.7"]);
          assert(await two.unban("192.0.2.7"));
          assertEquals(await one.isBanned("192.0.2.7"), false, "unbanned everywhere");
          assertEquals(await db.psql("select count(*) from tsftpd_ban_points"), "0");
        } finally {
          await Promise.all(nodes.map((sql) => sql.end({ timeout: 1 })));
        }
      },
    );

    await t.step("user commands: refusals are clear and touch nothing", async () => {
      const noHome = await cli(["user", "add", "bob", "--db", url], "pw\n");
      assertEquals(noHome.code, 2);
      assertStringIncludes(noHome.stderr, "user add needs --home DIR");
      const badPerm = await cli([
        "user",
        "add",
        "bob",
        "--home",
        "/tmp",
        "--perm",
        "elrx",
        "--db",
        url,
      ], "pw\n");
      assertEquals(badPerm.code, 2);
      assertStringIncludes(badPerm.stderr, 'bad permission letter "x"');
      const noDb = await cli(["user", "list"]);
      assertEquals(noDb.code, 2);
      assertStringIncludes(noDb.stderr, "--db URL is needed");
      const unknown = await cli(["user", "passwd", "nobody", "--db", url], "pw\n");
      assertEquals(unknown.code, 1);
      assertStringIncludes(unknown.stderr, 'no user "nobody"');
      assertEquals(await db.psql("select count(*) from tsftpd_users"), "0");
    });

    const nodeLogs: string[][] = [];
    const node = async (
      body: (server: { port: number; home: string; logs: string[] }) => Promise<void>,
    ) => {
      await using authorizer = await DatabaseAuthorizer.connect(url, {
        heartbeat: 1,
        warn: () => {},
        notice: () => {},
      });
      await withServer({ authorizer, authFailedTimeout: 0.01 }, async ({ port, home, logs }) => {
        nodeLogs.push(logs);
        await body({ port, home, logs });
      });
    };

    await t.step(
      "an account added, changed, disabled and removed is seen at the next login",
      async () => {
        await node(async ({ port, home, logs }) => {
          const added = await cli([
            "user",
            "add",
            "alice",
            "--home",
            home,
            "--perm",
            "elrw",
            "--db",
            url,
          ], "secret\n");
          assertEquals(added.code, 0, added.stderr);
          assertEquals(added.stdout.trim(), 'user "alice" added');
          const twice = await cli(
            ["user", "add", "alice", "--home", home, "--db", url],
            "secret\n",
          );
          assertEquals(twice.code, 1);
          assertStringIncludes(twice.stderr, 'user "alice" exists');

          const first = await tryLogin(port, "alice", "secret");
          assertEquals(first.reply.code, 230, first.reply.text);
          await first.client.store("a.txt", new TextEncoder().encode("alice's"));
          // elrw: no delete.
          assertEquals((await first.client.command("DELE a.txt")).code, 550);
          first.client.close();

          assertEquals((await cli(["user", "passwd", "alice", "--db", url], "better\n")).code, 0);
          assertEquals((await tryLogin(port, "alice", "secret")).reply.code, 530);
          const renewed = await tryLogin(port, "alice", "better");
          assertEquals(renewed.reply.code, 230);
          renewed.client.close();

          assertEquals((await cli(["user", "disable", "alice", "--db", url])).code, 0);
          assertEquals((await tryLogin(port, "alice", "better")).reply.code, 530);
          const listed = await cli(["user", "list", "--db", url]);
          assertMatch(listed.stdout, /^alice\s+\S+\s+elrw\s+-\s+disabled$/m);
          assertEquals((await cli(["user", "enable", "alice", "--db", url])).code, 0);
          const back = await tryLogin(port, "alice", "better");
          assertEquals(back.reply.code, 230);
          back.client.close();

          assertEquals((await cli(["user", "remove", "alice", "--db", url])).code, 0);
          assertEquals((await tryLogin(port, "alice", "better")).reply.code, 530);
          assert(!logs.join("\n").includes("better"), "no password in the log");
        });
      },
    );

    await t.step(
      "user import: a users file's accounts, overrides and limits included",
      async () => {
        await node(async ({ port }) => {
          const home = shared;
          await Deno.mkdir(`${home}/drop`);
          const hash = (await cli(["hash-password"], "carol-pw\n")).stdout.trim();
          const file = await Deno.makeTempFile({ suffix: ".toml" });
          try {
            await Deno.writeTextFile(
              file,
              `[[user]]\nname = "carol"\npassword = "${hash}"\nhome = "${home}"\nperm = "elr"\n` +
                `max_sessions = 1\nmsg_login = "Hello carol."\n` +
                `[[user.override]]\npath = "drop"\nperm = "elrw"\n`,
            );
            const imported = await cli(["user", "import", file, "--db", url]);
            assertEquals(imported.code, 0, imported.stderr);
            assertStringIncludes(imported.stdout, "1 user added, 0 replaced");
            const again = await cli(["user", "import", file, "--db", url]);
            assertStringIncludes(again.stdout, "0 users added, 1 replaced");
          } finally {
            await Deno.remove(file);
          }
          const { client, reply } = await tryLogin(port, "carol", "carol-pw");
          assertEquals(reply.code, 230);
          assertEquals(reply.text, "Hello carol.");
          await client.store("drop/in.txt", new TextEncoder().encode("x"));
          // elr at the top: the permission is refused before any data connection is asked for.
          assertEquals((await client.command("STOR top.txt")).code, 550);
          client.close();
        });
      },
    );

    await t.step("an account's quota from the database: 552 past it, nothing kept", async () => {
      await node(async ({ port, home }) => {
        const flags = ["--home", home, "--perm", "elrw", "--quota-bytes", "10K"];
        const added = await cli(["user", "add", "quinn", ...flags, "--db", url], "q-pw\n");
        assertEquals(added.code, 0, added.stderr);
        const { client, reply } = await tryLogin(port, "quinn", "q-pw");
        try {
          assertEquals(reply.code, 230, reply.text);
          await client.command("TYPE I");
          await client.store("small", new Uint8Array(4 * 1024));
          const [, refused] = await client.store("big", new Uint8Array(20 * 1024), "STOR", 552);
          assertStringIncludes(refused.text, "uota");
          assertEquals([...Deno.readDirSync(home)].map((entry) => entry.name), ["small"]);
        } finally {
          client.close();
        }
        assertEquals((await cli(["user", "remove", "quinn", "--db", url])).code, 0);
      });
    });

    await t.step("max_sessions holds across two nodes", async () => {
      await node(async (a) => {
        await node(async (b) => {
          const first = await tryLogin(a.port, "carol", "carol-pw");
          assertEquals(first.reply.code, 230);
          const second = await tryLogin(b.port, "carol", "carol-pw");
          assertEquals(second.reply.code, 530);
          assertStringIncludes(second.reply.text, "Too many sessions for this user (at most 1)");
          assert(
            b.logs.some((line) => line.includes("1 session already logged in across the nodes")),
          );
          assertEquals((await first.client.command("QUIT")).code, 221);
          first.client.close();
          // The session's end reaches the database a moment after QUIT.
          const deadline = Date.now() + 10_000;
          let third = await tryLogin(b.port, "carol", "carol-pw");
          while (third.reply.code !== 230 && Date.now() < deadline) {
            await new Promise((resolve) => setTimeout(resolve, 50));
            third = await tryLogin(b.port, "carol", "carol-pw");
          }
          assertEquals(third.reply.code, 230);
          third.client.close();
        });
      });
    });

    await t.step(
      "the database down: logins 421, a running session goes on; back: logins work",
      async () => {
        await node(async ({ port, logs }) => {
          const running = await tryLogin(port, "carol", "carol-pw");
          assertEquals(running.reply.code, 230);
          await db.stop();
          try {
            const refused = await tryLogin(port, "carol", "carol-pw");
            assertEquals(refused.reply.code, 421);
            assert(await refused.client.closedByServer());
            refused.client.close();
            const line = logs.find((line) => line.includes("not logged in: accounts database"))!;
            assertMatch(
              line,
              /USER 'carol' not logged in: accounts database postgres:\/\/tsftpd@127\.0\.0\.1:\d+\/tsftpd unavailable: /,
            );
            // The session logged in before goes on: listings and transfers need no database.
            assertStringIncludes(await running.client.list("NLST", "drop"), "in.txt");
            await running.client.store(
              "drop/while-down.txt",
              new TextEncoder().encode("still here"),
            );
          } finally {
            await db.startAgain();
          }
          assertEquals((await running.client.command("QUIT")).code, 221);
          running.client.close();
          const deadline = Date.now() + 10_000;
          let back = await tryLogin(port, "carol", "carol-pw");
          // max_sessions 1: the quit session's row may linger until the next heartbeat.
          while (back.reply.code !== 230 && Date.now() < deadline) {
            await new Promise((resolve) => setTimeout(resolve, 100));
            back = await tryLogin(port, "carol", "carol-pw");
          }
          assertEquals(back.reply.code, 230, back.reply.text);
          back.client.close();
        });
      },
    );
  },
});

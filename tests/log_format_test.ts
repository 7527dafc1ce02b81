/**
 * The JSON log format against a real server and client: one object a line, the
 * fields the README documents, every file transfer one line; and no password in
 * any format, at debug level.
 *
 * @module
 */

import { type LogFormat, Logger } from "../mod.ts";
import { assert, assertEquals, assertMatch } from "./support/assert.ts";
import { randomBytes } from "./support/data.ts";
import { FtpClient } from "./support/ftp_client.ts";
import { store, withServer } from "./support/server.ts";

/** A JSON log line, parsed. */
type Record = { [field: string]: string | number | boolean | null };

/** A debug logger in `format` whose lines are kept in `lines`. */
function keeping(format: LogFormat, lines: string[]): Logger {
  return new Logger({ level: "debug", format, sink: (line) => lines.push(line) });
}

Deno.test("JSON lines: a session with a login, an upload, a download and an aborted upload; each transfer one line with its fields", async () => {
  const lines: string[] = [];
  await withServer({ logger: keeping("json", lines) }, async ({ port, home }) => {
    const client = await FtpClient.login(port);
    const clientPort = (client.conn.localAddr as Deno.NetAddr).port;
    try {
      await client.command("TYPE I");
      const bytes = randomBytes(5000);
      await client.store("up.bin", bytes);
      assertEquals((await client.retr("up.bin")).length, 5000);
      const data = await client.pasv();
      assertEquals((await client.command("STOR cut.bin")).code, 125);
      await data.write(new Uint8Array(100_000));
      const deadline = Date.now() + 5000;
      while (!(await client.command("STAT")).text.includes("(100000 bytes so far)")) {
        assert(Date.now() < deadline, "the server receives the 100,000 bytes");
      }
      await client.send("ABOR");
      assertEquals((await client.reply()).code, 426);
      assertEquals((await client.reply()).code, 226);
      data.close();
      assertEquals((await client.command("QUIT")).code, 221);
      await client.closedByServer();
    } finally {
      client.close();
    }
    const records: Record[] = lines.map((line) => JSON.parse(line));
    for (const record of records) {
      assertEquals(Object.keys(record).slice(0, 3), ["time", "level", "message"]);
      assertMatch(String(record.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert(["debug", "info", "warning", "error"].includes(String(record.level)));
    }
    const session = records.filter((record) => record.remote_port === clientPort);
    assert(session.length > 10, "the session's lines carry its client's port");
    const id = session[0].session;
    assertEquals(typeof id, "number");
    for (const record of session) {
      assertEquals([record.session, record.remote_ip], [id, "127.0.0.1"], String(record.message));
    }
    const events = session.filter((record) => record.event !== undefined);
    assertEquals(events.map((record) => [record.event, record.username]), [
      ["connect", ""],
      ["login", "user"],
      ["transfer", "user"],
      ["transfer", "user"],
      ["transfer", "user"],
      ["partial", "user"],
      ["logout", "user"],
      ["disconnect", ""],
    ]);
    const transfers = events.filter((record) => record.event === "transfer");
    const fields = ["level", "command", "path", "direction", "bytes", "completed", "result"];
    assertEquals(transfers.map((record) => fields.map((field) => record[field])), [
      ["info", "STOR", `${home}/up.bin`, "upload", 5000, true, "completed"],
      ["info", "RETR", `${home}/up.bin`, "download", 5000, true, "completed"],
      ["warning", "STOR", `${home}/cut.bin`, "upload", 100_000, false, "aborted"],
    ]);
    for (const record of transfers) {
      assertEquals(typeof record.seconds, "number");
      const completed = record.completed ? 1 : 0;
      assertEquals(
        record.message,
        `${record.command} ${record.path} completed=${completed} bytes=${record.bytes} ` +
          `seconds=${Number(record.seconds).toFixed(3)}`,
        "the message is the text format's",
      );
    }
    const commands = session.filter((record) => String(record.message).startsWith("<- "));
    assertEquals(commands.map((record) => record.command).slice(0, 4), [
      "USER",
      "PASS",
      "TYPE",
      "PASV",
    ]);
    const [partial] = events.filter((record) => record.event === "partial");
    assertEquals(partial.path, `${home}/cut.bin`);
    assertMatch(String(partial.partial), /\/\.cut\.bin\.tsftpd-[a-z0-9]{8}\.part$/);
    assertEquals((await store.stat(String(partial.partial))).size, 100_000, "kept to resume");
  });
});

Deno.test("JSON lines: a failed login and a connection refused at the limit, each an event", async () => {
  const lines: string[] = [];
  await withServer({ logger: keeping("json", lines), maxConsPerIp: 1 }, async ({ port }) => {
    const client = await FtpClient.connect(port);
    try {
      assertEquals((await client.command("USER user")).code, 331);
      assertEquals((await client.command("PASS wrong")).code, 530);
      const refused = await FtpClient.connect(port);
      assertEquals(refused.greeting.code, 421);
      const refusedPort = (refused.conn.localAddr as Deno.NetAddr).port;
      refused.close();
      const records: Record[] = lines.map((line) => JSON.parse(line));
      const failed = records.find((record) => record.event === "login_failed")!;
      assertEquals([failed.level, failed.username, failed.message], [
        "info",
        "user",
        "USER 'user' failed login.",
      ]);
      const limit = records.find((record) => record.event === "connection_refused")!;
      assertEquals(
        [limit.remote_ip, limit.remote_port, limit.reason, limit.session],
        ["127.0.0.1", refusedPort, "max_cons_per_ip", undefined],
      );
    } finally {
      client.close();
    }
  });
});

Deno.test("no password in any log format at debug level: logins right and wrong, PASS masked", async () => {
  const secret = "s3cret-Pa55-phrase";
  const wrong = "wr0ng-Pa55-phrase";
  for (const format of ["text", "json"] as const) {
    const lines: string[] = [];
    await withServer({ logger: keeping(format, lines) }, async ({ port, home, authorizer }) => {
      authorizer.addUser("alice", secret, home, { perm: "elrw" });
      const failed = await FtpClient.connect(port);
      assertEquals((await failed.command("USER alice")).code, 331);
      assertEquals((await failed.command(`PASS ${wrong}`)).code, 530);
      failed.close();
      const client = await FtpClient.login(port, "alice", secret);
      await client.store("f", new Uint8Array(10));
      client.close();
    });
    const log = lines.join("\n");
    assert(!log.includes(secret) && !log.includes(wrong), `${format}: a password in the log`);
    const masked = lines.filter((line) => line.includes("<- PASS ******"));
    assertEquals(masked.length, 2, `${format}: both PASS lines are logged, masked`);
    if (format === "json") {
      assertEquals(masked.map((line) => JSON.parse(line).command), ["PASS", "PASS"]);
    } else assertMatch(masked[0], /^\[D [^\]]+\] 127\.0\.0\.1:\d+-\[alice\] <- PASS \*{6}$/);
  }
});

/**
 * `--log-file` and `--log-format` on the real command line: lines appended to the
 * file, the file re-opened on SIGHUP after logrotate moved it (with the users
 * file re-read by the same hangup), JSON lines from the process.
 *
 * @module
 */

import { assert, assertEquals, assertMatch } from "./support/assert.ts";
import { runCli, type RunningCli, spawnCli, START_TIMEOUT_MS } from "./support/cli.ts";
import { FtpClient } from "./support/ftp_client.ts";
import { withTempDir } from "./support/temp_dir.ts";
import { ARGON } from "./support/users_errors.ts";

const STARTUP = />>> starting FTP server on 127\.0\.0\.1:(\d+), pid=\d+ <<</;

/** The text of `path`; "" while it does not exist. */
async function readLog(path: string): Promise<string> {
  return await Deno.readTextFile(path).catch((error) => {
    if (error instanceof Deno.errors.NotFound) return "";
    throw error;
  });
}

/** Resolves to the text of `path` once it matches `pattern`; throws, with the text, if it does not in time. */
async function waitForFile(path: string, pattern: RegExp | string): Promise<string> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const text = await readLog(path);
    if (typeof pattern === "string" ? text.includes(pattern) : pattern.test(text)) return text;
    if (Date.now() > deadline) throw new Error(`${path} never matched ${pattern}:\n${text}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * Starts `tsftpd args` in `dir`, which log to the file `log`, waits for the
 * start-up lines in the file, runs `body` with the port, then stops it with
 * SIGTERM, asserting it exited 0 and wrote nothing to stderr.
 */
async function withLoggingCli(
  args: string[],
  dir: string,
  log: string,
  body: (running: RunningCli) => Promise<void>,
): Promise<void> {
  const running = spawnCli(args, dir);
  let stopped = false;
  try {
    running.port = Number(STARTUP.exec(await waitForFile(log, STARTUP))![1]);
    await waitForFile(log, "passive ports: ");
    await body(running);
    const status = await running.stop("SIGTERM");
    stopped = true;
    assertEquals(status.code, 0, "exit status after SIGTERM");
    assertEquals(running.log, "", "nothing goes to stderr");
  } finally {
    if (!stopped) await running.stop("SIGKILL");
  }
}

/** The lines of a log's text. */
function lines(text: string): string[] {
  return text.split("\n").filter((line) => line !== "");
}

Deno.test("--log-file: lines appended; after mv and SIGHUP every later line is in a new file, none in the old; a path that cannot be re-opened keeps the old file", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/share`);
    await Deno.writeTextFile(`${dir}/share/f.txt`, "content");
    await Deno.mkdir(`${dir}/logs`);
    const log = `${dir}/logs/ftpd.log`;
    const rotated = `${dir}/logs/ftpd.log.1`;
    await Deno.writeTextFile(log, "a line from before\n");
    const flags = ["-d", "share", "-w", "-u", "alice", "-P", "pw", "--log-file", log];
    await withLoggingCli(flags, dir, log, async ({ child, port }) => {
      const first = await FtpClient.login(port, "alice", "pw");
      try {
        await first.command("TYPE I");
        await first.retr("f.txt");
        await waitForFile(log, "RETR ");
        // logrotate: move the file away; until the hangup, lines still go to it.
        await Deno.rename(log, rotated);
        const second = await FtpClient.login(port, "alice", "pw");
        second.close();
        await waitForFile(rotated, /logged in\.[^]*logged in\./);
        child.kill("SIGHUP");
        await waitForFile(log, "log file re-opened");
        await first.store("up.txt", new TextEncoder().encode("uploaded"));
        await waitForFile(log, "STOR ");
      } finally {
        first.close();
      }
      // The directory goes away: the path cannot be opened, the old file is kept.
      await Deno.rename(`${dir}/logs`, `${dir}/gone`);
      child.kill("SIGHUP");
      await waitForFile(`${dir}/gone/ftpd.log`, "not re-opened");
      const third = await FtpClient.login(port, "alice", "pw");
      third.close();
      // Its session's end logged before the server's: the last line is the server's.
      await waitForFile(`${dir}/gone/ftpd.log`, /not re-opened[^]*logged in\.[^]*session closed/);
    });
    const before = lines(await Deno.readTextFile(`${dir}/gone/ftpd.log.1`));
    const after = lines(await Deno.readTextFile(`${dir}/gone/ftpd.log`));
    assertEquals(before[0], "a line from before", "appended, not truncated");
    assertMatch(before[1], /^\[I [^\]]+\] >>> starting FTP server on 127\.0\.0\.1:\d+/);
    assertEquals(before.filter((line) => line.includes("USER 'alice' logged in.")).length, 2);
    assert(before.some((line) => / RETR \S+\/share\/f\.txt completed=1 bytes=7 /.test(line)));
    assert(!before.some((line) => /re-opened|STOR/.test(line)), "nothing after the re-open");
    assertMatch(after[0], /^\[I [^\]]+\] log file re-opened: \S+\/logs\/ftpd\.log$/);
    assert(after.some((line) => / STOR \S+\/share\/up\.txt completed=1 bytes=8 /.test(line)));
    assertMatch(
      after.find((line) => line.includes("not re-opened"))!,
      /^\[E [^\]]+\] log file \S+\/logs\/ftpd\.log not re-opened, still writing to the one open: No such file or directory$/,
    );
    assertMatch(after.at(-1)!, /^\[I [^\]]+\] >>> shutting down FTP server <<<$/);
    for (const line of before.slice(1).concat(after)) assertMatch(line, /^\[[DIWE] /);
  });
});

Deno.test("--log-format json with --log-file and --users: one SIGHUP re-opens the log, then re-reads the users file, logged in the new file", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/home`);
    const users = `${dir}/users.toml`;
    await Deno.writeTextFile(
      users,
      `[[user]]\nname = "alice"\npassword = "${ARGON}"\nhome = "home"\n`,
    );
    const log = `${dir}/ftpd.log`;
    const args = ["--users", users, "--log-format", "json", "--log-file", log];
    await withLoggingCli(args, dir, log, async ({ child }) => {
      await Deno.rename(log, `${dir}/ftpd.log.1`);
      child.kill("SIGHUP");
      await waitForFile(log, "users file reloaded");
    });
    const parse = (text: string) => lines(text).map((line) => JSON.parse(line));
    const before = parse(await Deno.readTextFile(`${dir}/ftpd.log.1`));
    const after = parse(await Deno.readTextFile(log));
    assertEquals(before[0].message, `users: ${users}: 1 user, 0 overrides`);
    assert(before.some((record) => record.message.startsWith(">>> starting FTP server on ")));
    assertEquals(after.map((record) => [record.level, record.message]).slice(0, 2), [
      ["info", `log file re-opened: ${log}`],
      ["info", `users file reloaded: ${users}: 1 user, 0 overrides`],
    ]);
    for (const record of [...before, ...after]) {
      assertEquals(Object.keys(record).slice(0, 3), ["time", "level", "message"]);
      assertEquals(new Date(record.time).toISOString(), record.time, "ISO-8601 times");
    }
  });
});

Deno.test("a config file's [log] file (taken from the file's directory) and format", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/etc`);
    await Deno.mkdir(`${dir}/logs`);
    const config = `${dir}/etc/tsftpd.toml`;
    await Deno.writeTextFile(config, `[log]\nfile = "../logs/ftpd.log"\nformat = "json"\n`);
    const log = `${dir}/logs/ftpd.log`;
    await withLoggingCli(["--config", config, "-d", dir], "/", log, async () => {});
    const records = lines(await Deno.readTextFile(log)).map((line) => JSON.parse(line));
    assert(records.some((record) => record.message.startsWith(">>> starting FTP server on ")));
  });
});

Deno.test("--log-file that cannot be opened: exit status 1 and why", async () => {
  const outcome = await runCli(["--log-file", "/nonexistent-tsftpd-dir/ftpd.log"]);
  assertEquals(outcome, {
    code: 1,
    stdout: "",
    stderr:
      "tsftpd: cannot open the log file /nonexistent-tsftpd-dir/ftpd.log: No such file or directory\n",
  });
});

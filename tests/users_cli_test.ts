/**
 * The command line's users file: `--users FILE`, SIGHUP, `hash-password` and
 * `check-config`, run for real as child processes against real clients.
 *
 * @module
 */

import { PasswordVerifier } from "../mod.ts";
import { assert, assertEquals, assertMatch, assertStringIncludes } from "./support/assert.ts";
import { type Outcome, runCli, withCli } from "./support/cli.ts";
import { FtpClient, type Reply } from "./support/ftp_client.ts";
import { python } from "./support/python.ts";
import { withTempDir } from "./support/temp_dir.ts";
import { ARGON, ERROR_CASES } from "./support/users_errors.ts";

const HINT = "Try 'tsftpd --help' for more information.";
/** The password of {@linkcode ARGON}. */
const ARGON_PASSWORD = "argon2 password";

/** A `[[user]]` table with `fields`. */
function user(fields: Record<string, string | number>): string {
  const lines = Object.entries(fields).map(([key, value]) => `${key} = ${JSON.stringify(value)}`);
  return `[[user]]\n${lines.join("\n")}\n`;
}

/** Logs in on a new connection; returns the client (to close) and the PASS reply. */
async function login(port: number, name: string, password: string): Promise<[FtpClient, Reply]> {
  const client = await FtpClient.connect(port);
  assertEquals((await client.command(`USER ${name}`)).code, 331);
  return [client, await client.command(`PASS ${password}`)];
}

/** The PASS reply of a login on a connection closed afterwards. */
async function passReply(port: number, name: string, password: string): Promise<Reply> {
  const [client, reply] = await login(port, name, password);
  client.close();
  return reply;
}

/** Asserts one `tsftpd: ` line on stderr matching `message`, nothing on stdout, status 2, no hint. */
function assertFileRefused(outcome: Outcome, message: string | RegExp): void {
  const context = `exit ${outcome.code}, stderr:\n${outcome.stderr}`;
  assertEquals(outcome.code, 2, context);
  assertEquals(outcome.stdout, "", context);
  const lines = outcome.stderr.split("\n").filter((line) => line !== "");
  assertEquals(lines.length, 1, `one line; ${context}`);
  if (typeof message === "string") assertEquals(lines[0], message, context);
  else assertMatch(lines[0], message, context);
}

// --- --users ----------------------------------------------------------------------------

Deno.test("--users: the file's accounts log in, no one else; the start-up log says how many", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/alice`);
    await Deno.writeTextFile(`${dir}/alice/hello.txt`, "alice's file");
    await Deno.writeTextFile(
      `${dir}/users.toml`,
      user({ name: "alice", password: ARGON, home: "alice", perm: "elr" }) +
        user({ name: "anonymous", home: "alice" }),
    );
    const log = await withCli(["--users", "users.toml"], dir, async ({ port, log }) => {
      assertMatch(
        log,
        /^\[I [^\]]+\] users: users\.toml: 2 users \(anonymous among them\), 0 overrides$/m,
      );
      const [client, reply] = await login(port, "alice", ARGON_PASSWORD);
      try {
        assertEquals(reply.code, 230, reply.text);
        assertEquals(new TextDecoder().decode(await client.retr("hello.txt")), "alice's file");
      } finally {
        client.close();
      }
      assertEquals((await passReply(port, "anonymous", "x")).code, 230);
      assertEquals((await passReply(port, "alice", "wrong")).code, 530);
      assertEquals((await passReply(port, "user", "12345")).code, 530);
    });
    assertStringIncludes(log, "USER 'alice' logged in.");
  });
});

Deno.test("--users excludes -u, -P, -w and -d: exit 2 with one message and the hint", async (t) => {
  const safe = ["-i", "127.0.0.1", "-p", "0", "--users", "users.toml"];
  const cases: [string[], RegExp][] = [
    [["-u", "alice", "-P", "x"], /^tsftpd: --users and -u\/--username exclude each other/],
    [["-w"], /^tsftpd: --users and -w\/--write exclude each other/],
    [["-d", "/tmp"], /^tsftpd: --users and -d\/--directory exclude each other/],
  ];
  for (const [args, message] of cases) {
    await t.step(args.join(" "), async () => {
      const outcome = await runCli([...safe, ...args]);
      assertEquals(outcome.code, 2, outcome.stderr);
      const lines = outcome.stderr.trimEnd().split("\n");
      assertEquals(lines.length, 2, outcome.stderr);
      assertMatch(lines[0], message);
      assertEquals(lines[1], HINT);
    });
  }
});

Deno.test("a broken users file: one message naming the file, line and user; exit 2 (--users and check-config)", async (t) => {
  await withTempDir(async (dir) => {
    for (const [name, text, line, userLabel, reason] of ERROR_CASES) {
      await t.step(name, async () => {
        const file = `${dir}/users.toml`;
        await Deno.writeTextFile(file, text.replaceAll("HOME", dir));
        const place = line === null ? file : `${file}:${line}`;
        const prefix = `tsftpd: ${place}: ${userLabel === null ? "" : `${userLabel}: `}`;
        const escaped = prefix.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
        const anchored = reason.source.startsWith("^");
        const expected = new RegExp(
          `^${escaped}${anchored ? reason.source.slice(1) : `.*${reason.source}`}`,
        );
        assertFileRefused(await runCli(["check-config", file]), expected);
        assertFileRefused(
          await runCli(["--users", file, "-i", "127.0.0.1", "-p", "0"]),
          expected,
        );
      });
    }
    await t.step("a file that does not exist", async () => {
      assertFileRefused(
        await runCli(["check-config", `${dir}/missing.toml`]),
        `tsftpd: ${dir}/missing.toml: cannot read the file: No such file or directory`,
      );
      assertFileRefused(
        await runCli(["--users", `${dir}/missing.toml`]),
        `tsftpd: ${dir}/missing.toml: cannot read the users file: No such file or directory`,
      );
    });
  });
});

// --- SIGHUP -----------------------------------------------------------------------------

Deno.test("SIGHUP re-reads the users file: the logged-in session stays, new logins see the change; a broken file keeps the accounts", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/home`);
    await Deno.writeTextFile(`${dir}/home/f.txt`, "content");
    const file = `${dir}/users.toml`;
    await Deno.writeTextFile(file, user({ name: "alice", password: ARGON, home: "home" }));
    await withCli(["--users", file], dir, async (running) => {
      const { port } = running;
      const [alice, reply] = await login(port, "alice", ARGON_PASSWORD);
      try {
        assertEquals(reply.code, 230);
        assertEquals((await passReply(port, "anonymous", "x")).code, 530, "no anonymous yet");
        // alice leaves the file, anonymous arrives.
        await Deno.writeTextFile(file, user({ name: "anonymous", home: "home" }));
        let from = running.log.length;
        running.child.kill("SIGHUP");
        await running.waitForLog(/users file reloaded: .*: 1 user \(anonymous among them\)/, from);
        assertEquals((await alice.command("NOOP")).code, 200, "the session is not dropped");
        assertEquals(new TextDecoder().decode(await alice.retr("f.txt")), "content");
        assertEquals((await passReply(port, "anonymous", "x")).code, 230, "a new login sees it");
        assertEquals((await passReply(port, "alice", ARGON_PASSWORD)).code, 530, "alice is gone");

        // A broken file: logged, and the accounts in place stay.
        await Deno.writeTextFile(file, user({ name: "bob", password: "plain", home: "home" }));
        from = running.log.length;
        running.child.kill("SIGHUP");
        await running.waitForLog("users file not reloaded", from);
        assertMatch(
          running.log.slice(from),
          new RegExp(
            `^\\[E [^\\]]+\\] users file not reloaded, keeping the 1 accounts read before: ` +
              `${file.replace(/[.]/g, "\\.")}:3: user "bob": the password is not a hash`,
            "m",
          ),
        );
        assertEquals((await passReply(port, "anonymous", "x")).code, 230, "old accounts kept");
        assertEquals((await passReply(port, "bob", "plain")).code, 530);
        assertEquals((await alice.command("NOOP")).code, 200, "still there");
      } finally {
        alice.close();
      }
    });
  });
});

// --- hash-password, check-config ---------------------------------------------------------

Deno.test("hash-password reads one line of stdin and prints an argon2id hash of it", async () => {
  const outcome = await runCli(["hash-password"], { stdin: "correct horse\r\nsecond line\n" });
  assertEquals([outcome.code, outcome.stderr], [0, ""]);
  const lines = outcome.stdout.split("\n");
  assertEquals(lines.length, 2, outcome.stdout);
  assertEquals(lines[1], "");
  assertMatch(
    lines[0],
    /^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/,
  );
  using verifier = new PasswordVerifier();
  assert(await verifier.verify(lines[0], "correct horse"), "the hash is of the first line");
  assert(!await verifier.verify(lines[0], "correct horse\r"));
  // Without a line ending, the whole input is the password.
  const bare = await runCli(["hash-password"], { stdin: "no newline" });
  assert(await verifier.verify(bare.stdout.trim(), "no newline"), bare.stderr);
});

Deno.test("hash-password refuses empty input, an empty password and arguments (exit 2)", async () => {
  assertFileRefused(
    await runCli(["hash-password"], { stdin: "" }),
    "tsftpd: no password on standard input",
  );
  assertFileRefused(
    await runCli(["hash-password"], { stdin: "\n" }),
    "tsftpd: the password is empty",
  );
  const extra = await runCli(["hash-password", "secret"]);
  assertEquals(extra.code, 2);
  assertMatch(extra.stderr, /^tsftpd: hash-password takes no arguments/);
  assertStringIncludes(extra.stderr, HINT);
});

Deno.test("hash-password at a terminal: asks twice without echo, prints the hash", async () => {
  const script = `
import os, pty, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
out = b""
def read_until(marker):
    global out
    while marker not in out:
        chunk = os.read(fd, 1024)
        if not chunk:
            raise SystemExit("ended before " + repr(marker) + ": " + repr(out))
        out += chunk
read_until(b"Password: ")
os.write(fd, b"tty secret\\r")
read_until(b"Again: ")
os.write(fd, b"tty secret\\r")
try:
    while True:
        chunk = os.read(fd, 1024)
        if not chunk:
            break
        out += chunk
except OSError:
    pass
_, status = os.waitpid(pid, 0)
sys.stdout.write(str(os.waitstatus_to_exitcode(status)) + "\\n" + out.decode())
`;
  const main = new URL("../main.ts", import.meta.url).pathname;
  const output = await python(
    script,
    Deno.execPath(),
    "run",
    "--allow-all",
    main,
    "hash-password",
  );
  const [code, ...rest] = output.split("\n");
  const transcript = rest.join("\n");
  assertEquals(code, "0", transcript);
  assert(!transcript.includes("tty secret"), `the password was echoed: ${transcript}`);
  const hash = /\$argon2id\$\S+/.exec(transcript)?.[0];
  assert(hash, transcript);
  using verifier = new PasswordVerifier();
  assert(await verifier.verify(hash, "tty secret"), transcript);
});

Deno.test("check-config: exit 0 and a one-line summary; the server does not start", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/home/in`, { recursive: true });
    const file = `${dir}/users.toml`;
    await Deno.writeTextFile(
      file,
      user({ name: "alice", password: ARGON, home: "home" }) +
        `[[user.override]]\npath = "in"\nperm = "elrw"\n` +
        user({ name: "bob", password: ARGON, home: "home" }),
    );
    const outcome = await runCli(["check-config", file]);
    assertEquals([outcome.code, outcome.stderr], [0, ""]);
    assertEquals(outcome.stdout, `${file}: 2 users, 1 override: OK\n`);
    const usage = await runCli(["check-config"]);
    assertEquals(usage.code, 2);
    assertMatch(usage.stderr, /^tsftpd: check-config takes one argument/);
  });
});

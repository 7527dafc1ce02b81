/**
 * `UsersFileAuthorizer` behind a real server on loopback, with real clients: each
 * hash format, overrides, the per-user rate limits and session limit, the client
 * networks, reloading, and every error a users file can have.
 *
 * @module
 */

import {
  FTPServer,
  type FTPServerOptions,
  hashPassword,
  Logger,
  LoginRefused,
  parseUsersFile,
  PasswordVerifier,
  UsersFileAuthorizer,
  UsersFileError,
} from "../mod.ts";
import { assert, assertEquals, assertMatch, assertStringIncludes } from "./support/assert.ts";
import { randomBytes } from "./support/data.ts";
import { FtpClient, type Reply } from "./support/ftp_client.ts";
import { hasIPv6Loopback } from "./support/ipv6.ts";
import { waitFor } from "./support/server.ts";
import { VECTORS } from "./support/hash_vectors.ts";
import { ARGON, ERROR_CASES } from "./support/users_errors.ts";

/** A server whose accounts come from a users file in a temporary directory. */
interface UsersServer {
  port: number;
  /** The temporary directory: the users file, and the homes under it. */
  dir: string;
  file: string;
  authorizer: UsersFileAuthorizer;
  logs: string[];
}

/**
 * Writes `toml(dir)` as `${dir}/users.toml` (with `${dir}/home` made first, and
 * `homes` under the directory), serves it on 127.0.0.1 (or `options.hostname`),
 * runs `body`, then closes everything.
 */
async function withUsers(
  toml: (dir: string) => string,
  options: Partial<FTPServerOptions>,
  body: (t: UsersServer) => Promise<void>,
  homes: string[] = [],
): Promise<void> {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "tsftpd-users-" }));
  try {
    for (const home of ["home", ...homes]) await Deno.mkdir(`${dir}/${home}`, { recursive: true });
    const file = `${dir}/users.toml`;
    await Deno.writeTextFile(file, toml(dir));
    const logs: string[] = [];
    using authorizer = await UsersFileAuthorizer.load(file, { warn: (m) => logs.push(m) });
    const server = new FTPServer({
      hostname: "127.0.0.1",
      port: 0,
      authFailedTimeout: 0.05,
      logger: new Logger({ level: "info", sink: (line) => logs.push(line) }),
      ...options,
      authorizer,
    });
    const serving = server.serve();
    try {
      await body({ port: server.addr.port, dir, file, authorizer, logs });
    } finally {
      await server.closeAll();
      await serving;
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Connects (to `hostname`), sends USER and PASS, and returns the client and the PASS reply. */
async function login(
  port: number,
  user: string,
  password: string,
  hostname = "127.0.0.1",
): Promise<[FtpClient, Reply]> {
  const client = await FtpClient.connect(port, { hostname });
  assertEquals(client.greeting.code, 220);
  assertEquals((await client.command(`USER ${user}`)).code, 331);
  return [client, await client.command(`PASS ${password}`)];
}

/** The PASS reply of a login, the connection closed afterwards. */
async function passReply(
  port: number,
  user: string,
  password: string,
  hostname?: string,
): Promise<Reply> {
  const [client, reply] = await login(port, user, password, hostname);
  client.close();
  return reply;
}

/** A `[[user]]` table. */
function user(fields: Record<string, string | number | boolean | string[]>): string {
  const lines = Object.entries(fields).map(([key, value]) => `${key} = ${JSON.stringify(value)}`);
  return `[[user]]\n${lines.join("\n")}\n`;
}

// --- Hash formats ------------------------------------------------------------------------

Deno.test("every hash format logs in with its password and refuses a wrong one", async () => {
  const made = await hashPassword("made by hash-password");
  assertMatch(made, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
  const accounts = [
    { name: "argon2id-made", hash: made, password: "made by hash-password" },
    ...VECTORS.map(({ format, hash, password }, i) => ({ name: `${format}-${i}`, hash, password })),
  ];
  await withUsers(
    (dir) =>
      accounts.map(({ name, hash }) => user({ name, password: hash, home: `${dir}/home` })).join(
        "\n",
      ),
    {},
    async ({ port }) => {
      await Promise.all(accounts.map(async ({ name, password }) => {
        const right = await passReply(port, name, password);
        assertEquals(right.code, 230, `${name} with its password: ${right.text}`);
        const wrong = await passReply(port, name, password + "!");
        assertEquals(wrong.code, 530, `${name} with a wrong password: ${wrong.text}`);
        assertEquals(wrong.text, "Authentication failed.");
      }));
      const unknown = await passReply(port, "nobody", "x");
      assertEquals([unknown.code, unknown.text], [530, "Authentication failed."], "unknown user");
    },
  );
});

Deno.test("PasswordVerifier: the published vectors of each format verify, off the event loop", async () => {
  using verifier = new PasswordVerifier({ concurrency: 2 });
  for (const { format, hash, password } of VECTORS) {
    assert(await verifier.verify(hash, password), `${format}: ${hash}`);
    assert(!await verifier.verify(hash, password.slice(1)), `${format}, wrong password: ${hash}`);
  }
  assertEquals(await verifier.verifyNobody("anything"), false);
});

Deno.test("anonymous logs in with any password; its write permissions are warned about", async () => {
  await withUsers(
    (dir) => user({ name: "anonymous", home: `${dir}/home`, perm: "elrw" }),
    {},
    async ({ port, logs }) => {
      assertEquals((await passReply(port, "anonymous", "guest@example.com")).code, 230);
      assertStringIncludes(logs.join("\n"), "write permissions assigned to anonymous user.");
    },
  );
});

// --- Permissions, messages ------------------------------------------------------------------

Deno.test("perm, overrides (recursive or not), msg_login and msg_quit apply to the user", async () => {
  const password = "override password";
  const hash = await hashPassword(password);
  await withUsers(
    (dir) =>
      `${
        user({
          name: "alice",
          password: hash,
          home: `${dir}/home`,
          perm: "elr",
          msg_login: "Welcome, Alice.",
          msg_quit: "Bye, Alice.",
        })
      }
[[user.override]]
path = "incoming"
perm = "elrw"
recursive = true

[[user.override]]
path = "/flat"
perm = "elrw"
`,
    {},
    async ({ port, dir }) => {
      const [client, reply] = await login(port, "alice", password);
      try {
        assertEquals([reply.code, reply.text], [230, "Welcome, Alice."]);
        // Binary: random bytes in TYPE A would lose the CR of any CR LF they hold.
        assertEquals((await client.command("TYPE I")).code, 200);
        const bytes = randomBytes(1000);
        for (const path of ["incoming/a", "incoming/deep/b", "flat/c"]) {
          await client.store(path, bytes);
        }
        for (const path of ["d", "flat/deep/e"]) {
          const data = await client.pasv();
          const refused = await client.command(`STOR ${path}`);
          data.close();
          assertEquals(refused.code, 550, `STOR ${path}: ${refused.text}`);
        }
        assertEquals((await client.command("QUIT")).text, "Bye, Alice.");
      } finally {
        client.close();
      }
      for (const path of ["incoming/a", "incoming/deep/b", "flat/c"]) {
        assertEquals((await Deno.stat(`${dir}/home/${path}`)).size, 1000, path);
      }
    },
    ["home/incoming/deep", "home/flat/deep"],
  );
});

// --- Rate limits ---------------------------------------------------------------------------

/** The seconds of the logged transfer `command` of `path`. */
function loggedSeconds(logs: string[], command: string, path: string): number {
  const line = logs.find((l) => l.includes(`${command} ${path}`) && l.includes("completed=1"));
  assert(line, `no completed ${command} ${path} in the log:\n${logs.join("\n")}`);
  return Number(/seconds=([\d.]+)/.exec(line)![1]);
}

Deno.test("upload_rate and download_rate limit that user's sessions, and replace the server's", async () => {
  const password = "rate password";
  const hash = await hashPassword(password);
  const size = 256 * 1024;
  await withUsers(
    (dir) =>
      user({
        name: "slow",
        password: hash,
        home: `${dir}/home`,
        perm: "elrw",
        upload_rate: "128K",
        download_rate: "128K",
      }) +
      user({ name: "free", password: hash, home: `${dir}/home`, perm: "elrw", download_rate: 0 }),
    // The server's own limit (64 KiB/s) is what a user without download_rate gets.
    { dtp: { bufferSize: 64 * 1024, writeLimit: 64 * 1024 } },
    async ({ port, dir, logs }) => {
      const bytes = randomBytes(size);
      await Deno.writeFile(`${dir}/home/down`, bytes);
      for (const name of ["slow", "free"]) {
        const [client, reply] = await login(port, name, password);
        try {
          assertEquals(reply.code, 230, reply.text);
          await client.command("TYPE I");
          assertEquals((await client.retr("down")).length, size);
          if (name === "slow") await client.store(`up-${name}`, bytes);
        } finally {
          client.close();
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
      const home = `${dir}/home`;
      // 256 KiB at 128 KiB/s take 2 s at the least, however fast the machine.
      const slowDown = loggedSeconds(logs, "RETR", `${home}/down`);
      assert(slowDown >= 1.5, `slow's download took ${slowDown} s: its limit was not kept`);
      const slowUp = loggedSeconds(logs, "STOR", `${home}/up-slow`);
      assert(slowUp >= 1.5, `slow's upload took ${slowUp} s: its limit was not kept`);
      // download_rate = 0 lifts the server's 64 KiB/s (4 s for 256 KiB) for "free".
      const freeLine = logs.filter((l) => l.includes(`RETR ${home}/down`))[1];
      const freeDown = Number(/seconds=([\d.]+)/.exec(freeLine ?? "")?.[1]);
      assert(freeDown < 3, `free's download took ${freeDown} s: the server's limit applied`);
    },
  );
});

Deno.test("a user's rate is one budget for all its sessions: two downloads at once share it", async () => {
  const password = "shared password";
  const hash = await hashPassword(password);
  const size = 128 * 1024;
  await withUsers(
    (dir) =>
      user({
        name: "pair",
        password: hash,
        home: `${dir}/home`,
        perm: "elr",
        download_rate: "128K",
      }),
    {},
    async ({ port, dir, logs }) => {
      const bytes = randomBytes(size);
      await Deno.writeFile(`${dir}/home/a`, bytes);
      await Deno.writeFile(`${dir}/home/b`, bytes);
      const download = async (name: string) => {
        const [client, reply] = await login(port, "pair", password);
        try {
          assertEquals(reply.code, 230, reply.text);
          await client.command("TYPE I");
          assertEquals((await client.retr(name)).length, size);
        } finally {
          client.close();
        }
      };
      await Promise.all([download("a"), download("b")]);
      await new Promise((resolve) => setTimeout(resolve, 100));
      // 256 KiB in all at 128 KiB/s take 2 s at the least; a limit per session would take 1 s.
      const seconds = ["a", "b"].map((name) => loggedSeconds(logs, "RETR", `${dir}/home/${name}`));
      assert(Math.max(...seconds) >= 1.5, `the two downloads took ${seconds} s: not one budget`);
    },
  );
});

// --- Sessions -------------------------------------------------------------------------------

Deno.test("max_sessions: one more login is refused with 530 and a log line, until one ends", async () => {
  const password = "session password";
  const hash = await hashPassword(password);
  await withUsers(
    (dir) =>
      user({ name: "bob", password: hash, home: `${dir}/home`, max_sessions: 2 }) +
      user({ name: "other", password: hash, home: `${dir}/home`, max_sessions: 1 }),
    { maxLoginAttempts: 5 },
    async ({ port, logs, authorizer }) => {
      const [first] = await login(port, "bob", password);
      const [second, secondReply] = await login(port, "bob", password);
      assertEquals(secondReply.code, 230);
      assertEquals(authorizer.sessions("bob"), 2);
      const [third, refused] = await login(port, "bob", password);
      try {
        assertEquals(
          [refused.code, refused.text],
          [530, "Too many sessions for this user (at most 2); try again later."],
        );
        assertMatch(
          logs.join("\n"),
          /\[W [^\]]+\] 127\.0\.0\.1:\d+-\[bob\] USER 'bob' refused: 2 sessions already logged in, max_sessions is 2\.$/m,
        );
        // Another user's limit is their own.
        assertEquals((await passReply(port, "other", password)).code, 230);
        // QUIT frees a place: the refused client tries again on the same connection.
        assertEquals((await first.command("QUIT")).code, 221);
        assertEquals((await third.command("USER bob")).code, 331);
        assertEquals((await third.command(`PASS ${password}`)).code, 230, "after a QUIT");
        // A connection dropped without QUIT frees its place too, once the server sees it.
        second.close();
        await waitFor(() => authorizer.sessions("bob") === 1);
        assertEquals((await passReply(port, "bob", password)).code, 230, "after a drop");
        await waitFor(() => authorizer.sessions("bob") === 1);
        // REIN ends the login too.
        assertEquals((await third.command("REIN")).code, 220);
        assertEquals(authorizer.sessions("bob"), 0);
      } finally {
        first.close();
        third.close();
      }
    },
  );
});

// --- Networks ---------------------------------------------------------------------------------

Deno.test("allow_from: a client outside is refused with 530 before its password is checked", async () => {
  // The server listens on 127.0.0.2; the kernel connects the client from 127.0.0.1.
  const hostname = "127.0.0.2";
  const password = "network password";
  const hash = await hashPassword(password);
  // Checking a password against this hash would take half an hour: if the network
  // were not checked first, the refusal below would never come in time.
  const endless =
    "$6$rounds=999999999$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1";
  await withUsers(
    (dir) =>
      user({ name: "inside", password: hash, home: `${dir}/home`, allow_from: ["127.0.0.0/8"] }) +
      user({
        name: "outside",
        password: endless,
        home: `${dir}/home`,
        allow_from: ["10.0.0.0/8", "127.0.0.2", "::1"],
      }) +
      user({ name: "single", password: hash, home: `${dir}/home`, allow_from: ["127.0.0.1"] }),
    { hostname },
    async ({ port, logs, authorizer }) => {
      assertEquals((await passReply(port, "inside", password, hostname)).code, 230);
      assertEquals((await passReply(port, "single", password, hostname)).code, 230);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<"late">((resolve) => timer = setTimeout(resolve, 10_000, "late"));
      const refused = await Promise.race([passReply(port, "outside", "any", hostname), late]);
      clearTimeout(timer);
      // Closing the authorizer ends the verification, so that the server can close.
      if (refused === "late") authorizer.close();
      assert(refused !== "late", "the password was checked before the network");
      assertEquals([refused.code, refused.text], [530, "Authentication failed."]);
      assertMatch(
        logs.join("\n"),
        /\[W [^\]]+\] 127\.0\.0\.1:\d+-\[outside\] USER 'outside' refused: client address 127\.0\.0\.1 is not in allow_from \(10\.0\.0\.0\/8, 127\.0\.0\.2, ::1\)\.$/m,
      );
    },
  );
});

Deno.test({
  name: "allow_from over IPv6: ::1 and IPv4 clients of one dual-stack listener",
  ignore: !hasIPv6Loopback,
  async fn() {
    const password = "ipv6 password";
    const hash = await hashPassword(password);
    await withUsers(
      (dir) =>
        user({ name: "six", password: hash, home: `${dir}/home`, allow_from: ["::1/128"] }) +
        user({ name: "four", password: hash, home: `${dir}/home`, allow_from: ["127.0.0.0/8"] }) +
        user({
          name: "mapped",
          password: hash,
          home: `${dir}/home`,
          allow_from: ["::ffff:127.0.0.0/104"],
        }) +
        user({ name: "any4", password: hash, home: `${dir}/home`, allow_from: ["0.0.0.0/0"] }),
      { hostname: "::" },
      async ({ port }) => {
        assertEquals((await passReply(port, "six", password, "::1")).code, 230);
        assertEquals((await passReply(port, "six", password, "127.0.0.1")).code, 530);
        assertEquals((await passReply(port, "four", password, "127.0.0.1")).code, 230);
        assertEquals((await passReply(port, "four", password, "::1")).code, 530);
        assertEquals((await passReply(port, "mapped", password, "127.0.0.1")).code, 230);
        assertEquals((await passReply(port, "mapped", password, "::1")).code, 530);
        // Every IPv4 address is not every address.
        assertEquals((await passReply(port, "any4", password, "127.0.0.1")).code, 230);
        assertEquals((await passReply(port, "any4", password, "::1")).code, 530);
      },
    );
  },
});

// --- Reloading --------------------------------------------------------------------------------

Deno.test("reload: a logged-in session keeps its account, new logins see the file; a broken file changes nothing", async () => {
  const password = "reload password";
  const hash = await hashPassword(password);
  const before = (dir: string) =>
    user({ name: "alice", password: hash, home: `${dir}/home`, perm: "elrw" }) +
    user({ name: "bob", password: hash, home: `${dir}/home` });
  await withUsers(before, {}, async ({ port, dir, file, authorizer }) => {
    const [alice, reply] = await login(port, "alice", password);
    try {
      assertEquals(reply.code, 230);
      await Deno.writeTextFile(
        file,
        user({ name: "alice", password: hash, home: `${dir}/home`, perm: "elr" }) +
          user({ name: "carol", password: hash, home: `${dir}/home`, msg_login: "Hi, Carol." }),
      );
      assertEquals((await authorizer.reload()).users, 2);
      // The running session keeps the write permission it logged in with.
      await alice.store("kept", randomBytes(10));
      assertEquals((await alice.command("NOOP")).code, 200);
      // New logins see the file as it is now.
      assertEquals((await passReply(port, "bob", password)).code, 530, "bob was removed");
      assertEquals((await passReply(port, "carol", password)).text, "Hi, Carol.");
      const [again, againReply] = await login(port, "alice", password);
      try {
        assertEquals(againReply.code, 230);
        const data = await again.pasv();
        assertEquals((await again.command("STOR refused")).code, 550, "alice's new perm");
        data.close();
      } finally {
        again.close();
      }
      // A broken file is refused; the accounts in place stay.
      await Deno.writeTextFile(file, `${user({ name: "dave", password: "plain", home: dir })}`);
      let error: unknown = null;
      await authorizer.reload().catch((e) => error = e);
      assert(error instanceof UsersFileError, String(error));
      assertEquals([error.line, error.user], [3, 'user "dave"']);
      assertEquals((await passReply(port, "carol", password)).code, 230, "carol still logs in");
      assertEquals((await passReply(port, "dave", "plain")).code, 530);
      assertEquals(authorizer.summary.users, 2);
    } finally {
      alice.close();
    }
  });
});

Deno.test("LoginRefused is an AuthenticationFailed with a reply text", () => {
  const refused = new LoginRefused("why, for the log");
  assertEquals([refused.name, refused.message, refused.reply], [
    "LoginRefused",
    "why, for the log",
    "Authentication failed.",
  ]);
  assertEquals(new LoginRefused("x", "Go away.").reply, "Go away.");
});

// --- Errors ------------------------------------------------------------------------------------

Deno.test("every users-file error is a UsersFileError naming the file, the line and the user", async (t) => {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "tsftpd-users-errors-" }));
  try {
    for (const [name, text, line, userLabel, reason] of ERROR_CASES) {
      await t.step(name, async () => {
        const file = `${dir}/users.toml`;
        await Deno.writeTextFile(file, text.replaceAll("HOME", dir));
        let error: unknown = null;
        try {
          (await UsersFileAuthorizer.load(file)).close();
        } catch (e) {
          error = e;
        }
        assert(error instanceof UsersFileError, `${name}: ${error}`);
        assertEquals([error.file, error.line, error.user], [file, line, userLabel], error.message);
        assertMatch(error.reason, reason);
        const place = line === null ? file : `${file}:${line}`;
        assertEquals(
          error.message,
          `${place}: ${userLabel === null ? "" : `${userLabel}: `}${error.reason}`,
        );
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("parseUsersFile: sizes, networks and defaults as the file gives them", async () => {
  const [alice, anonymous] = await parseUsersFile(
    `[[user]]
name = "alice"
password = "${ARGON}"
home = "rel/home"
upload_rate = "1.5M"
download_rate = 2048
max_sessions = 3
allow_from = "192.168.0.0/16"

[[user]]
name = "anonymous"
home = "/srv/pub"
`,
    "/etc/tsftpd/users.toml",
    { checkHomes: false },
  );
  assertEquals(alice.home, "/etc/tsftpd/rel/home", "relative to the file's directory");
  assertEquals([alice.uploadRate, alice.downloadRate, alice.maxSessions], [1572864, 2048, 3]);
  assertEquals(alice.allowFrom?.map((network) => network.text), ["192.168.0.0/16"]);
  assertEquals([alice.perm, alice.password?.format, alice.line], ["elr", "argon2", 1]);
  assertEquals([anonymous.password, anonymous.allowFrom, anonymous.line], [null, null, 10]);
});

Deno.test("the README's example users file is valid and means what the README says", async () => {
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  const example = /## Users file[\s\S]*?```toml\n([\s\S]*?)```/.exec(readme)?.[1];
  assert(example, "the README has a toml example under Users file");
  const [alice, anonymous] = await parseUsersFile(example, "users.toml", { checkHomes: false });
  assertEquals([alice.name, alice.home, alice.perm], ["alice", "/srv/ftp/alice", "elradfmwMT"]);
  assertEquals([alice.msgLogin, alice.msgQuit], ["Welcome, Alice.", "Goodbye."]);
  assertEquals([alice.uploadRate, alice.downloadRate, alice.maxSessions], [
    512 * 1024,
    2 * 1024 * 1024,
    3,
  ]);
  assertEquals(alice.allowFrom?.length, 3);
  assertEquals(alice.overrides, [{ path: "incoming", perm: "elrw", recursive: true }]);
  using verifier = new PasswordVerifier();
  assert(await verifier.verify(alice.password!, "argon2 password"));
  assertEquals([anonymous.name, anonymous.password], ["anonymous", null]);
});

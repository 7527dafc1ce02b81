/**
 * `UnixAuthorizer` and `--system-users` behind a real server on loopback, with
 * throw-away system accounts and a real client: each hash format the machine
 * writes, the refusals (wrong password, rejected user, invalid shell, locked,
 * expired, root), and privilege separation: what each session may read and
 * write is what its user may, supplementary groups included, in a process of
 * its own that ends with the session. Root only (CI is root): skipped otherwise.
 *
 * @module
 */

import {
  FTPServer,
  Logger,
  UnixAuthorizer,
  type UnixAuthorizerOptions,
  type UnixUserOverride,
} from "../mod.ts";
import {
  type Account,
  HASH_FORMATS,
  type HashFormat,
  isRoot,
  makeAccount,
  processesOf,
  run,
  shadowHash,
} from "./support/accounts.ts";
import { assert, assertEquals, assertMatch, assertStringIncludes } from "./support/assert.ts";
import { withCli } from "./support/cli.ts";
import { FtpClient } from "./support/ftp_client.ts";
import { waitFor } from "./support/server.ts";

if (!isRoot) {
  console.warn(
    "system_users_test: skipped: it must run as root (it makes and removes system accounts)",
  );
}

/** A test that makes system accounts: root only. */
function rootTest(name: string, fn: () => Promise<void>): void {
  Deno.test({ name: `system accounts: ${name}`, ignore: !isRoot, fn });
}

/** A running server of the system's accounts. */
interface UnixServer {
  port: number;
  /** The server's log lines and the authorizer's warnings. */
  logs: string[];
}

async function withUnixServer(
  options: UnixAuthorizerOptions & { overrides?: Record<string, UnixUserOverride> },
  body: (server: UnixServer) => Promise<void>,
): Promise<void> {
  const logs: string[] = [];
  const authorizer = new UnixAuthorizer({ warn: (message) => logs.push(message), ...options });
  for (const [name, override] of Object.entries(options.overrides ?? {})) {
    authorizer.overrideUser(name, override);
  }
  const server = new FTPServer({
    hostname: "127.0.0.1",
    port: 0,
    authorizer,
    authFailedTimeout: 0.05,
    logger: new Logger({ level: "debug", sink: (line) => logs.push(line) }),
  });
  const serving = server.serve();
  try {
    await body({ port: server.addr.port, logs });
  } finally {
    await server.closeAll();
    await serving;
  }
}

/** The final reply to `PASS password` for `user`, on a fresh connection. */
async function login(port: number, user: string, password: string): Promise<number> {
  const client = await FtpClient.connect(port);
  try {
    assertEquals((await client.command(`USER ${user}`)).code, 331);
    return (await client.command(`PASS ${password}`)).code;
  } finally {
    client.close();
  }
}

/** Logs in as `account`, switches to TYPE I, runs `body`, then quits. */
async function session<T>(
  port: number,
  account: Account,
  body: (client: FtpClient) => Promise<T>,
): Promise<T> {
  const client = await FtpClient.login(port, account.name, account.password);
  try {
    await client.expect("TYPE I", 200);
    const result = await body(client);
    await client.command("QUIT");
    return result;
  } finally {
    client.close();
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

rootTest("each hash format the system writes logs in; a wrong password gets 530", async () => {
  const formats = Object.keys(HASH_FORMATS) as HashFormat[];
  await using made = new AsyncDisposableStack();
  const accounts: Account[] = [];
  for (const format of formats) accounts.push(made.use(await makeAccount({ format })));
  await withUnixServer({}, async ({ port, logs }) => {
    for (const [i, account] of accounts.entries()) {
      const prefix = HASH_FORMATS[formats[i]];
      assert((await shadowHash(account.name)).startsWith(prefix), `${formats[i]} stored`);
      assertEquals(await login(port, account.name, account.password), 230, formats[i]);
      assertEquals(await login(port, account.name, account.password + "x"), 530, formats[i]);
    }
    assertEquals(await login(port, "tsftpd-nobody-such", "x"), 530);
    const failed = logs.filter((line) => line.includes("failed login"));
    assertEquals(failed.length, formats.length + 1);
    const passwords = accounts.map((account) => account.password);
    assert(!logs.some((line) => passwords.some((p) => line.includes(p))), "a password logged");
  });
});

rootTest("rejected and not allowed users, root, and the seed's refusals", async () => {
  await using alice = await makeAccount();
  await using bob = await makeAccount();
  await withUnixServer({ rejectedUsers: [alice.name] }, async ({ port, logs }) => {
    assertEquals(await login(port, alice.name, alice.password), 530);
    assertEquals(await login(port, bob.name, bob.password), 230);
    assertEquals(await login(port, "root", "whatever"), 530);
    assertEquals(await login(port, "anonymous", "guest@"), 530);
    assertStringIncludes(logs.join("\n"), `USER '${alice.name}' refused: not an allowed user.`);
    assertStringIncludes(logs.join("\n"), "USER 'root' refused: root may not log in.");
    assertStringIncludes(
      logs.join("\n"),
      "USER 'anonymous' refused: anonymous login is not enabled.",
    );
  });
  await withUnixServer({ allowedUsers: [alice.name] }, async ({ port }) => {
    assertEquals(await login(port, alice.name, alice.password), 230);
    assertEquals(await login(port, bob.name, bob.password), 530);
  });
  await withUnixServer({ anonymousUser: bob.name }, async ({ port }) => {
    const anonymous = { ...bob, name: "anonymous", password: "guest@" };
    await session(port, anonymous, async (client) => {
      assertEquals((await client.command("PWD")).text, `"${bob.home}" is the current directory.`);
      const upload = await client.command("MKD nope");
      assertEquals([upload.code, upload.text], [550, "Not enough privileges."]);
    });
  });
  const overrides = { [alice.name]: { password: "ftp-only", perm: "elr", msgLogin: "Hi." } };
  await withUnixServer({ overrides }, async ({ port }) => {
    assertEquals(await login(port, alice.name, alice.password), 530, "the system's password");
    const client = await FtpClient.connect(port);
    try {
      await client.expect(`USER ${alice.name}`, 331);
      assertEquals((await client.command("PASS ftp-only")).text, "Hi.");
      assertEquals((await client.command("MKD nope")).code, 550);
    } finally {
      client.close();
    }
  });
  const refused = (options: UnixAuthorizerOptions) => {
    try {
      new UnixAuthorizer(options);
    } catch (error) {
      return (error as Error).message;
    }
    throw new Error("accepted");
  };
  assertEquals(
    refused({ allowedUsers: [alice.name], rejectedUsers: [bob.name] }),
    "allowedUsers and rejectedUsers exclude each other",
  );
  assertEquals(
    refused({ rejectedUsers: ["tsftpd-nobody-such"] }),
    "no such user: tsftpd-nobody-such",
  );
  assertEquals(refused({ anonymousUser: "root" }), "anonymousUser may not be root");
});

rootTest("a uid 0 account is refused unless allowRoot", async () => {
  const name = `tsftpr${Deno.pid % 1000}`;
  const password = `pw-${crypto.randomUUID()}`;
  await run("useradd", ["-o", "-u", "0", "-g", "0", "-M", "-d", "/tmp", "-s", "/bin/bash", name]);
  try {
    await run("chpasswd", [], `${name}:${password}\n`);
    await withUnixServer({}, async ({ port }) => {
      assertEquals(await login(port, name, password), 530);
    });
    await withUnixServer({ allowRoot: true }, async ({ port }) => {
      assertEquals(await login(port, name, password), 230);
    });
  } finally {
    // -f: every root process "uses" a uid 0 account.
    await run("userdel", ["-f", name]);
  }
});

rootTest("an invalid shell, a locked account, an expired one, an expired password", async () => {
  await using noShell = await makeAccount({ shell: "/usr/sbin/nologin" });
  await using locked = await makeAccount();
  await using expired = await makeAccount();
  await using aged = await makeAccount();
  await run("usermod", ["-L", locked.name]);
  await run("usermod", ["-e", "1970-01-05", expired.name]);
  await run("chage", ["-d", "2001-01-01", "-M", "30", aged.name]);
  await withUnixServer({}, async ({ port, logs }) => {
    for (const account of [noShell, locked, expired, aged]) {
      assertEquals(await login(port, account.name, account.password), 530, account.name);
    }
    const log = logs.join("\n");
    assertStringIncludes(
      log,
      `USER '${noShell.name}' refused: the shell "/usr/sbin/nologin" is not in /etc/shells.`,
    );
    assertStringIncludes(log, `USER '${locked.name}' refused: the account is locked.`);
    assertStringIncludes(log, `USER '${expired.name}' refused: the account has expired.`);
    assertStringIncludes(log, `USER '${aged.name}' refused: the account has an expired password.`);
  });
  await withUnixServer({ requireValidShell: false }, async ({ port }) => {
    assertEquals(await login(port, noShell.name, noShell.password), 230);
  });
});

rootTest(
  "the session sees the disk as its user: 550 where it may not read, its groups",
  async () => {
    const group = `tsftpg${Deno.pid % 1000}`;
    await using alice = await makeAccount({ groups: [group] });
    await Deno.writeTextFile(`${alice.home}/secret`, "root's\n");
    await Deno.chmod(`${alice.home}/secret`, 0o600);
    await Deno.writeTextFile(`${alice.home}/shared`, "the group's\n");
    await run("chown", [`root:${group}`, `${alice.home}/shared`]);
    await Deno.chmod(`${alice.home}/shared`, 0o640);
    await withUnixServer({}, async ({ port }) => {
      await session(port, alice, async (client) => {
        assertEquals(
          (await client.command("PWD")).text,
          `"${alice.home}" is the current directory.`,
        );
        assertEquals(await client.retr("shared").then((b) => decoder.decode(b)), "the group's\n");
        const data = await client.pasv();
        assertEquals((await client.command("RETR secret")).code, 550);
        data.close();
        const denied = await client.command("MLST /root/.profile");
        assertEquals([denied.code, denied.text], [550, "Permission denied."]);
        assertEquals((await client.command("DELE /etc/hostname")).code, 550);
        assertEquals(await client.retr("/etc/hostname").then((b) => b.length > 0), true);
      });
    });
  },
);

rootTest("uploads and directories are owned by the user's uid and gid", async () => {
  await using alice = await makeAccount();
  await withUnixServer({}, async ({ port }) => {
    await session(port, alice, async (client) => {
      await client.store("up.bin", encoder.encode("uploaded"));
      await client.expect("MKD made", 257);
      const [start] = await client.store("", encoder.encode("unique"), "STOU");
      assertMatch(start.text, /FILE: /);
    });
    for (const name of ["up.bin", "made"]) {
      const info = await Deno.stat(`${alice.home}/${name}`);
      assertEquals([info.uid, info.gid], [alice.uid, alice.gid], name);
    }
    assertEquals(await Deno.readTextFile(`${alice.home}/up.bin`), "uploaded");
  });
});

rootTest("two users at once, each seeing only what it may", async () => {
  await using alice = await makeAccount();
  await using bob = await makeAccount();
  await Deno.writeTextFile(`${alice.home}/a.txt`, "alice's");
  await run("chown", [`${alice.uid}:${alice.gid}`, `${alice.home}/a.txt`]);
  await Deno.writeTextFile(`${bob.home}/b.txt`, "bob's");
  await run("chown", [`${bob.uid}:${bob.gid}`, `${bob.home}/b.txt`]);
  await withUnixServer({}, async ({ port }) => {
    const a = await FtpClient.login(port, alice.name, alice.password);
    const b = await FtpClient.login(port, bob.name, bob.password);
    /** What a session reads of its own file and of the other's, and whether it may upload. */
    const look = async (client: FtpClient, own: string, other: Account, theirs: string) => {
      await client.expect("TYPE I", 200);
      const mine = decoder.decode(await client.retr(own));
      const denied = await client.command(`SIZE ${other.home}/${theirs}`);
      const upload = await client.store(`from-${own}`, encoder.encode("x"));
      return [mine, denied.code, upload[1].code];
    };
    try {
      const [seenByA, seenByB] = await Promise.all([
        look(a, "a.txt", bob, "b.txt"),
        look(b, "b.txt", alice, "a.txt"),
      ]);
      assertEquals(seenByA, ["alice's", 550, 226]);
      assertEquals(seenByB, ["bob's", 550, 226]);
      assertEquals((await b.command(`SIZE ${alice.home}/from-a.txt`)).code, 550);
      assertEquals((await a.command(`SIZE ${alice.home}/from-a.txt`)).code, 213);
    } finally {
      a.close();
      b.close();
    }
  });
});

rootTest("jail: the user is confined to the home, which is /", async () => {
  await using alice = await makeAccount();
  await Deno.writeTextFile(`${alice.home}/in.txt`, "inside");
  await withUnixServer({ jail: true }, async ({ port }) => {
    await session(port, alice, async (client) => {
      assertEquals((await client.command("PWD")).text, '"/" is the current directory.');
      assertEquals(decoder.decode(await client.retr("in.txt")), "inside");
      assertEquals((await client.command("CWD /etc")).code, 550);
      assertEquals((await client.command("CWD ../..")).code, 250, "the jail's root");
      assertEquals((await client.command("PWD")).text, '"/" is the current directory.');
    });
  });
});

/** The socket inodes this process has open. */
function socketsOf(pid: number | "self"): Set<string> {
  const sockets = new Set<string>();
  for (const entry of Deno.readDirSync(`/proc/${pid}/fd`)) {
    try {
      const target = Deno.readLinkSync(`/proc/${pid}/fd/${entry.name}`);
      if (target.startsWith("socket:")) sockets.add(target);
    } catch {
      // Closed meanwhile (the listing's own descriptor among them).
    }
  }
  return sockets;
}

rootTest(
  "one process per session, as its user; it leaks no socket, ends with the session, and its death is a 421",
  async () => {
    const group = `tsftph${Deno.pid % 1000}`;
    await using alice = await makeAccount({ groups: [group] });
    await withUnixServer({}, async ({ port, logs }) => {
      const client = await FtpClient.login(port, alice.name, alice.password);
      try {
        const [pid] = processesOf(alice.uid);
        assertEquals(processesOf(alice.uid).length, 1);
        const status = await Deno.readTextFile(`/proc/${pid}/status`);
        assertMatch(status, new RegExp(`^Gid:\\s+${alice.gid}\\s`, "m"));
        const groupId = Number((await run("getent", ["group", group])).split(":")[2]);
        assertMatch(status, new RegExp(`^Groups:.*\\b${groupId}\\b`, "m"));
        assertMatch(status, /^NoNewPrivs:\s+1$/m);
        const shared = [...socketsOf(pid)].filter((socket) => socketsOf("self").has(socket));
        assertEquals(shared, [], "no socket of the server reaches the user's process");
        Deno.kill(pid, "SIGKILL");
        await waitFor(() => logs.some((line) => line.includes(`${pid} killed by SIGKILL`)));
        const reply = await client.command("CWD /tmp");
        assertEquals(reply.code, 421);
        await client.reply().then(() => assert(false, "still open"), () => {});
      } finally {
        client.close();
      }
      await waitFor(() => processesOf(alice.uid).length === 0);
      await session(port, alice, async (again) => {
        assertEquals((await again.command("CWD /tmp")).code, 250, "the server still serves");
        assertEquals(processesOf(alice.uid).length, 1);
      });
      await waitFor(() => processesOf(alice.uid).length === 0);
    });
    assertEquals(processesOf(alice.uid), []);
  },
);

rootTest("--system-users serves the accounts from the command line, with --msg-login", async () => {
  await using alice = await makeAccount();
  await Deno.writeTextFile(`${alice.home}/hello.txt`, "hello\n");
  const args = ["--system-users", "--msg-login", "Hello, system user."];
  const log = await withCli(args, "/", async ({ port }) => {
    const client = await FtpClient.connect(port);
    try {
      await client.expect(`USER ${alice.name}`, 331);
      assertEquals(
        (await client.expect(`PASS ${alice.password}`, 230)).text,
        "Hello, system user.",
      );
      await client.expect("TYPE I", 200);
      assertEquals(decoder.decode(await client.retr("hello.txt")), "hello\n");
    } finally {
      client.close();
    }
    assertEquals(await login(port, alice.name, "wrong"), 530);
  });
  assertStringIncludes(log, "users: the system's accounts");
  assertStringIncludes(log, `USER '${alice.name}' logged in.`);
});

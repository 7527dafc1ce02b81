/**
 * `SystemAuthorizer`, the seed's options that `UnixAuthorizer` and
 * `WindowsAuthorizer` share (allowed and rejected users, the anonymous user,
 * global permissions, messages, overrides), behind a real server on loopback
 * and a real client, on every system: the accounts are a table of this test's
 * (`TableAuthorizer`), the one part each system supplies.
 *
 * @module
 */

import {
  AuthenticationFailed,
  AuthorizerError,
  LoginRefused,
  SystemAuthorizer,
  type SystemAuthorizerOptions,
  type SystemUserOverride,
} from "../mod.ts";
import { assert, assertEquals, assertStringIncludes } from "./support/assert.ts";
import { FtpClient } from "./support/ftp_client.ts";
import { withServer } from "./support/server.ts";
import { withTempDir } from "./support/temp_dir.ts";

/** One account of the table: its password and home. */
interface TableAccount {
  password: string;
  home: string;
}

/** Options of a {@linkcode TableAuthorizer}: the seed's, the accounts, and how names compare. */
interface TableOptions extends SystemAuthorizerOptions {
  accounts: Record<string, TableAccount>;
  /** Compare names as Windows does, whatever their case. */
  caseInsensitive?: boolean;
}

/** The accounts of a table: what a system's authorizer supplies, and nothing else. */
class TableAuthorizer extends SystemAuthorizer {
  readonly #accounts: Map<string, TableAccount>;

  constructor(options: TableOptions) {
    super(options);
    this.#accounts = new Map(
      Object.entries(options.accounts).map((
        [name, account],
      ) => [this.canonicalName(name), account]),
    );
    this.checkNamedUsers((name) => this.#accounts.has(this.canonicalName(name)));
  }

  protected checkOverride(username: string): void {
    if (!this.#accounts.has(this.canonicalName(username))) {
      throw new AuthorizerError(`no such user: ${username}`);
    }
  }

  validateAuthentication(username: string, password: string): Promise<void> {
    return this.limited(() => {
      if (this.checkAnonymous(username)) return Promise.resolve();
      const account = this.#accounts.get(this.canonicalName(username));
      if (!account) throw new AuthenticationFailed("no such user");
      if (this.isRejected(username)) throw new LoginRefused("not an allowed user");
      const matches = this.overridePasswordMatches(username, password) ??
        password === account.password;
      if (!matches) throw new AuthenticationFailed("wrong password");
      return Promise.resolve();
    });
  }

  protected accountHome(username: string): Promise<string> {
    const name = username === "anonymous" ? this.anonymousUser! : username;
    return Promise.resolve(this.#accounts.get(this.canonicalName(name))!.home);
  }
}

/** Names compared whatever their case, as on Windows. */
class CaseInsensitiveAuthorizer extends TableAuthorizer {
  protected override canonicalName(name: string): string {
    return name.toUpperCase();
  }
}

/** A table authorizer of `options`, its warnings in `warnings`. */
function tableAuthorizer(options: TableOptions, warnings: string[] = []): TableAuthorizer {
  const Class = options.caseInsensitive ? CaseInsensitiveAuthorizer : TableAuthorizer;
  return new Class({ warn: (message) => warnings.push(message), ...options });
}

/** Runs `body` against a server of `authorizer`, with the log lines written so far. */
function withAuthorizer(
  authorizer: SystemAuthorizer,
  body: (port: number, logs: string[]) => Promise<void>,
): Promise<void> {
  return withServer({ authorizer }, ({ port, logs }) => body(port, logs));
}

/** The final reply code to `PASS password` for `user`. */
async function login(port: number, user: string, password: string): Promise<number> {
  return (await FtpClient.tryLogin(port, user, password)).code;
}

/** Two accounts, alice and bob, with homes under `dir`. */
async function twoAccounts(dir: string): Promise<Record<string, TableAccount>> {
  await Deno.mkdir(`${dir}/alice`);
  await Deno.mkdir(`${dir}/bob`);
  return {
    alice: { password: "alice-pw", home: `${dir}/alice` },
    bob: { password: "bob-pw", home: `${dir}/bob` },
  };
}

/** The error message `make` throws. */
function thrown(make: () => unknown): string {
  try {
    make();
  } catch (error) {
    assert(error instanceof AuthorizerError, String(error));
    return error.message;
  }
  throw new Error("accepted");
}

Deno.test("system accounts' options: rejected and allowed users, anonymous refused", async () => {
  await withTempDir(async (dir) => {
    const accounts = await twoAccounts(dir);
    await withAuthorizer(
      tableAuthorizer({ accounts, rejectedUsers: ["alice"] }),
      async (port, logs) => {
        assertEquals(await login(port, "alice", "alice-pw"), 530);
        assertEquals(await login(port, "bob", "bob-pw"), 230);
        assertEquals(await login(port, "bob", "wrong"), 530);
        assertEquals(await login(port, "anonymous", "guest@"), 530);
        const log = logs.join("\n");
        assertStringIncludes(log, "USER 'alice' refused: not an allowed user.");
        assertStringIncludes(log, "USER 'bob' failed login.");
        assertStringIncludes(log, "USER 'anonymous' refused: anonymous login is not enabled.");
      },
    );
    await withAuthorizer(tableAuthorizer({ accounts, allowedUsers: ["alice"] }), async (port) => {
      assertEquals(await login(port, "alice", "alice-pw"), 230);
      assertEquals(await login(port, "bob", "bob-pw"), 530);
    });
  });
});

Deno.test("system accounts' options: anonymous as an account, read-only, in its home", async () => {
  await withTempDir(async (dir) => {
    const accounts = await twoAccounts(dir);
    await Deno.writeTextFile(`${dir}/bob/readme.txt`, "bob's home");
    await withAuthorizer(tableAuthorizer({ accounts, anonymousUser: "bob" }), async (port) => {
      const client = await FtpClient.login(port, "anonymous", "any@password");
      try {
        await client.expect("TYPE I", 200);
        assertEquals(new TextDecoder().decode(await client.retr("readme.txt")), "bob's home");
        const made = await client.command("MKD nope");
        assertEquals([made.code, made.text], [550, "Not enough privileges."]);
      } finally {
        client.close();
      }
    });
  });
});

Deno.test("system accounts' options: globalPerm, messages, and each override", async () => {
  await withTempDir(async (dir) => {
    const accounts = await twoAccounts(dir);
    await Deno.mkdir(`${dir}/elsewhere`);
    const authorizer = tableAuthorizer({
      accounts,
      globalPerm: "elr",
      msgLogin: "Welcome.",
      msgQuit: "Bye.",
    });
    const override: SystemUserOverride = {
      password: "ftp-only",
      homedir: `${dir}/elsewhere`,
      perm: "elrw",
      msgLogin: "Hi, alice.",
      msgQuit: "See you, alice.",
    };
    authorizer.overrideUser("alice", override);
    await withAuthorizer(authorizer, async (port) => {
      assertEquals(await login(port, "alice", "alice-pw"), 530, "the system's password");
      const alice = await FtpClient.connect(port);
      const bob = await FtpClient.connect(port);
      try {
        await alice.expect("USER alice", 331);
        assertEquals((await alice.expect("PASS ftp-only", 230)).text, "Hi, alice.");
        await bob.expect("USER bob", 331);
        assertEquals((await bob.expect("PASS bob-pw", 230)).text, "Welcome.");
        await alice.store("up.txt", new TextEncoder().encode("alice's"));
        assertEquals(await Deno.readTextFile(`${dir}/elsewhere/up.txt`), "alice's");
        const refused = await bob.command("MKD nope");
        assertEquals([refused.code, refused.text], [550, "Not enough privileges."]);
        assertEquals((await alice.command("QUIT")).text, "See you, alice.");
        assertEquals((await bob.command("QUIT")).text, "Bye.");
      } finally {
        alice.close();
        bob.close();
      }
    });
  });
});

Deno.test("system accounts' options: names compared as the system compares them", async () => {
  await withTempDir(async (dir) => {
    const accounts = await twoAccounts(dir);
    const authorizer = tableAuthorizer({
      accounts,
      caseInsensitive: true,
      rejectedUsers: ["Alice"],
      anonymousUser: "alice",
    });
    authorizer.overrideUser("BOB", { msgLogin: "Hello, Bob." });
    await withAuthorizer(authorizer, async (port) => {
      for (const name of ["alice", "ALICE"]) {
        assertEquals(await login(port, name, "alice-pw"), 530, "rejected whatever the case");
      }
      const reply = await FtpClient.tryLogin(port, "bob", "bob-pw");
      assertEquals([reply.code, reply.text], [230, "Hello, Bob."]);
      assertEquals(await login(port, "Anonymous", "guest@"), 530, "only anonymous is anonymous");
      assertEquals(await login(port, "anonymous", "guest@"), 230);
    });
  });
});

Deno.test("system accounts' options: what the constructor and overrideUser refuse", async () => {
  await withTempDir(async (dir) => {
    const accounts = await twoAccounts(dir);
    assertEquals(
      thrown(() => tableAuthorizer({ accounts, allowedUsers: ["alice"], rejectedUsers: ["bob"] })),
      "allowedUsers and rejectedUsers exclude each other",
    );
    assertEquals(
      thrown(() => tableAuthorizer({ accounts, globalPerm: "elrX" })),
      'no such permission "X"',
    );
    assertEquals(
      thrown(() => tableAuthorizer({ accounts, rejectedUsers: ["anonymous"] })),
      'invalid user name "anonymous"',
    );
    assertEquals(
      thrown(() => tableAuthorizer({ accounts, allowedUsers: ["carol"] })),
      "no such user: carol",
    );
    assertEquals(
      thrown(() => tableAuthorizer({ accounts, anonymousUser: "carol" })),
      "no such user: carol",
    );
    const warnings: string[] = [];
    const authorizer = tableAuthorizer({ accounts, rejectedUsers: ["bob"] }, warnings);
    assertEquals(
      thrown(() => authorizer.overrideUser("alice", {})),
      "an override needs at least one setting",
    );
    assertEquals(
      thrown(() => authorizer.overrideUser("bob", { perm: "elr" })),
      "bob is not an allowed user",
    );
    assertEquals(
      thrown(() => authorizer.overrideUser("carol", { perm: "elr" })),
      "no such user: carol",
    );
    assertEquals(
      thrown(() => authorizer.overrideUser("alice", { perm: "elrZ" })),
      'no such permission "Z"',
    );
    assertEquals(
      thrown(() => authorizer.overrideUser("anonymous", { perm: "elr" })),
      "no anonymousUser is set",
    );
    const anonymous = tableAuthorizer({ accounts, anonymousUser: "bob" }, warnings);
    assertEquals(
      thrown(() => anonymous.overrideUser("anonymous", { password: "x" })),
      "anonymous logs in without a password: none can be set",
    );
    assertEquals(warnings, []);
    anonymous.overrideUser("anonymous", { perm: "elrw" });
    assertEquals(warnings, ["write permissions assigned to anonymous user."]);
    assertEquals(await anonymous.getPerms("anonymous"), "elrw");
  });
});

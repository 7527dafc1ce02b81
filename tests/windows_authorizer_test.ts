/**
 * `WindowsAuthorizer`. Everywhere: the UTF-16LE strings handed to Windows, and
 * the refusal to start elsewhere. On Windows only (CI's Windows job, which runs
 * as an administrator): throw-away local accounts made with `net user NAME PASS
 * /add` and deleted afterwards, behind a real server on loopback and a real
 * client: a login, a wrong password, an unknown user, a domain's name, a
 * rejected and a not allowed user, anonymous as an account, an account without
 * a profile directory.
 *
 * @module
 */

import { AuthorizerError, WindowsAuthorizer, type WindowsAuthorizerOptions } from "../mod.ts";
import { fromWideString, wideString, windowsAccountsAvailable } from "../src/native/windows.ts";
import { assert, assertEquals, assertStringIncludes } from "./support/assert.ts";
import { FtpClient } from "./support/ftp_client.ts";
import { withServer } from "./support/server.ts";
import { withTempDir } from "./support/temp_dir.ts";

const onWindows = Deno.build.os === "windows";

/** A test that makes Windows accounts: Windows only. */
function windowsTest(name: string, fn: () => Promise<void>): void {
  Deno.test({ name: `Windows accounts: ${name}`, ignore: !onWindows, fn });
}

Deno.test("Windows strings: UTF-16LE, NUL-terminated, unit by unit", () => {
  assertEquals([...wideString("Ab")!], [0x41, 0, 0x62, 0, 0, 0]);
  assertEquals([...wideString("é")!], [0xe9, 0, 0, 0]);
  assertEquals([...wideString("€")!], [0xac, 0x20, 0, 0]);
  // U+1F600 is the surrogate pair D83D DE00, low byte first in each unit.
  assertEquals([...wideString("\u{1F600}")!], [0x3d, 0xd8, 0x00, 0xde, 0, 0]);
  assertEquals([...wideString("")!], [0, 0]);
  for (const text of ["Ab", "é€", "C:\\Users\\Zoë", "\u{1F600}x", ""]) {
    assertEquals(fromWideString(wideString(text)!), text);
  }
});

Deno.test("Windows strings: a NUL, a lone surrogate or too long a string is never handed over", () => {
  assertEquals(wideString("alice\0admin"), null);
  assertEquals(wideString("\uD83D"), null);
  assertEquals(wideString("x\uDE00"), null);
  assertEquals(wideString("x".repeat(256), 257)?.byteLength, 514);
  assertEquals(wideString("x".repeat(257), 257), null);
});

Deno.test("Windows strings: read up to the first NUL unit, or the end", () => {
  const buffer = new Uint8Array(16);
  buffer.set(wideString("C:\\a")!);
  buffer.set([0x62, 0], 12);
  assertEquals(fromWideString(buffer), "C:\\a");
  assertEquals(fromWideString(new Uint8Array([0x41, 0, 0x42, 0])), "AB");
  assertEquals(fromWideString(new Uint8Array([0x41, 0, 0x42])), "A");
  assertEquals(fromWideString(new Uint8Array(0)), "");
});

Deno.test({
  name: "Windows accounts: refused on another system, with a clear message",
  ignore: onWindows,
  fn() {
    assertEquals(windowsAccountsAvailable(), false);
    let message = "";
    try {
      new WindowsAuthorizer();
    } catch (error) {
      assert(error instanceof AuthorizerError);
      message = error.message;
    }
    assertEquals(message, "Windows accounts need Windows and FFI (--allow-ffi)");
  },
});

/** A throw-away local account. */
interface WindowsAccount extends AsyncDisposable {
  readonly name: string;
  readonly password: string;
}

/** Runs `net ARGS`, throwing with its output when it fails. */
async function net(args: string[]): Promise<void> {
  const { success, stdout, stderr } = await new Deno.Command("net", {
    args,
    stdin: "null",
  }).output();
  const decoder = new TextDecoder();
  if (!success) {
    throw new Error(
      `net ${args[0]} ${args[1]}: ${decoder.decode(stdout)}${decoder.decode(stderr)}`,
    );
  }
}

/**
 * A new local account (`net user NAME PASSWORD /add`), deleted when disposed. The
 * password meets the complexity rules of Windows Server and stays under 15
 * characters (`net user` asks a question about longer ones).
 */
async function makeWindowsAccount(): Promise<WindowsAccount> {
  const random = () => crypto.getRandomValues(new Uint32Array(1))[0].toString(16).padStart(8, "0");
  const name = `tsftpd${random().slice(0, 6)}`;
  const password = `Tf${random().slice(0, 6)}!a9`;
  await net(["user", name, password, "/add"]);
  return {
    name,
    password,
    [Symbol.asyncDispose]: () => net(["user", name, "/delete"]),
  };
}

/** Runs `body` against a server of a `WindowsAuthorizer` of `options`, overriding `homes`. */
function withWindowsServer(
  options: WindowsAuthorizerOptions,
  homes: Record<string, string>,
  body: (port: number, logs: string[]) => Promise<void>,
): Promise<void> {
  const authorizer = new WindowsAuthorizer(options);
  for (const [name, homedir] of Object.entries(homes)) authorizer.overrideUser(name, { homedir });
  return withServer({ authorizer }, ({ port, logs }) => body(port, logs));
}

/** The final reply code to `PASS password` for `user`. */
async function login(port: number, user: string, password: string): Promise<number> {
  return (await FtpClient.tryLogin(port, user, password)).code;
}

windowsTest(
  "a login, whatever the name's case; a wrong password, an unknown user, a domain's name",
  async () => {
    await using alice = await makeWindowsAccount();
    await withTempDir(async (home) => {
      await withWindowsServer({}, { [alice.name]: home }, async (port, logs) => {
        const client = await FtpClient.login(port, alice.name, alice.password);
        try {
          assertEquals((await client.command("PWD")).text, '"/" is the current directory.');
          await client.expect("TYPE I", 200);
          await client.store("up.txt", new TextEncoder().encode("uploaded"));
        } finally {
          client.close();
        }
        assertEquals(await Deno.readTextFile(`${home}/up.txt`), "uploaded");
        assertEquals(await login(port, alice.name.toUpperCase(), alice.password), 230);
        assertEquals(await login(port, alice.name, alice.password + "x"), 530);
        assertEquals(await login(port, "tsftpd-no-such", alice.password), 530);
        assertEquals(await login(port, `.\\${alice.name}`, alice.password), 530);
        const log = logs.join("\n");
        assertStringIncludes(log, `USER '${alice.name}' failed login.`);
        assertStringIncludes(log, `USER '.\\${alice.name}' refused: not a local account name.`);
        assert(!log.includes(alice.password), "a password logged");
      });
    });
  },
);

windowsTest("rejected and not allowed users are refused before any logon", async () => {
  await using alice = await makeWindowsAccount();
  await using bob = await makeWindowsAccount();
  await withTempDir(async (home) => {
    const homes = { [bob.name]: home };
    await withWindowsServer({ rejectedUsers: [alice.name] }, homes, async (port, logs) => {
      assertEquals(await login(port, alice.name, alice.password), 530);
      assertEquals(await login(port, bob.name, bob.password), 230);
      assertStringIncludes(logs.join("\n"), `USER '${alice.name}' refused: not an allowed user.`);
    });
    await withWindowsServer({ allowedUsers: [bob.name] }, homes, async (port) => {
      assertEquals(await login(port, alice.name, alice.password), 530);
      assertEquals(await login(port, bob.name, bob.password), 230);
    });
    let message = "";
    try {
      new WindowsAuthorizer({ rejectedUsers: ["tsftpd-no-such"] });
    } catch (error) {
      message = (error as Error).message;
    }
    assertEquals(message, "no such user: tsftpd-no-such");
  });
});

windowsTest(
  "anonymous logs on as anonymousUser, read-only; a wrong anonymousPassword refuses it",
  async () => {
    await using guest = await makeWindowsAccount();
    await withTempDir(async (home) => {
      const options = { anonymousUser: guest.name, anonymousPassword: guest.password };
      await withWindowsServer(options, { anonymous: home }, async (port) => {
        const client = await FtpClient.login(port, "anonymous", "any@password");
        try {
          const made = await client.command("MKD nope");
          assertEquals([made.code, made.text], [550, "Not enough privileges."]);
        } finally {
          client.close();
        }
      });
      const wrong = { ...options, anonymousPassword: "wrong" };
      await withWindowsServer(wrong, { anonymous: home }, async (port, logs) => {
        assertEquals(await login(port, "anonymous", "any@password"), 530);
        assertStringIncludes(
          logs.join("\n"),
          `USER 'anonymous' refused: anonymousUser ${guest.name} cannot log on.`,
        );
      });
    });
  },
);

windowsTest(
  "an account that never logged on interactively has no profile: refused, and said why",
  async () => {
    await using alice = await makeWindowsAccount();
    await withWindowsServer({}, {}, async (port, logs) => {
      assertEquals(await login(port, alice.name, alice.password), 530);
      assertStringIncludes(
        logs.join("\n"),
        `USER '${alice.name}' refused: the account ${alice.name} has no profile directory ` +
          "(GetUserProfileDirectoryW failed (Windows error ",
      );
    });
  },
);

/**
 * The library's programmable surface, used as an embedding program would: through
 * `mod.ts` only.
 */

import {
  AbstractedFS,
  AuthenticationFailed,
  AuthorizerError,
  DTPHandler,
  DummyAuthorizer,
  type FactEntry,
  fileSink,
  type FileSystem,
  FilesystemError,
  type FileWriter,
  FTPServer,
  type ListEntry,
  type ListFormatOptions,
  Logger,
  MemoryFS,
  type Reader,
  type SessionInfo,
} from "../mod.ts";
import { assert, assertEquals, assertMatch, assertStringIncludes } from "./support/assert.ts";
import { FtpClient } from "./support/ftp_client.ts";
import { withServer } from "./support/server.ts";

const decoder = new TextDecoder();

Deno.test("serveForever({ handleExit }): SIGINT closes every session and the process exits 0", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tsftpd-exit-" });
  const script = `${dir}/server.ts`;
  await Deno.writeTextFile(
    script,
    `import { DummyAuthorizer, FTPServer } from ${
      JSON.stringify(new URL("../mod.ts", import.meta.url).href)
    };
const authorizer = new DummyAuthorizer();
authorizer.addAnonymous(${JSON.stringify(dir)});
const server = new FTPServer({ hostname: "127.0.0.1", port: 0, authorizer });
console.log(server.addr.port);
await server.serveForever({ handleExit: true });
console.log("served");
`,
  );
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const stdout = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  try {
    while (!out.includes("\n")) {
      const { value, done } = await stdout.read();
      if (done) throw new Error(`the server did not start: ${await stderr}`);
      out += value;
    }
    const client = await FtpClient.connect(Number(out.trim()));
    try {
      assertEquals(client.greeting.code, 220);
      child.kill("SIGINT");
      assert(await client.closedByServer(), "the session is closed");
    } finally {
      client.close();
    }
    for (let next = await stdout.read(); !next.done; next = await stdout.read()) out += next.value;
    assertEquals((await child.status).code, 0);
    assertStringIncludes(out, "served", "serveForever resolved");
    assertStringIncludes(await stderr, "received an exit signal");
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // It has exited.
    }
    await stdout.cancel();
    await child.status;
    await stderr;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("serve({ signal }): aborting closes every session and ends serve", async () => {
  const authorizer = new DummyAuthorizer();
  authorizer.addAnonymous(Deno.cwd());
  const server = new FTPServer({
    hostname: "127.0.0.1",
    port: 0,
    authorizer,
    logger: new Logger({ level: "error" }),
  });
  const controller = new AbortController();
  const serving = server.serve({ signal: controller.signal, handleExit: false });
  const client = await FtpClient.connect(server.addr.port);
  try {
    assertEquals(client.greeting.code, 220);
    controller.abort();
    await serving;
    assert(await client.closedByServer(), "the session is closed");
    assertEquals(server.connections, 0);
  } finally {
    client.close();
  }
  // A signal aborted already: serve closes at once; closing again is harmless.
  const again = new FTPServer({ hostname: "127.0.0.1", port: 0, authorizer });
  await again.serve({ signal: AbortSignal.abort(), handleExit: false });
  again.close();
  await again.closeAll();
  const refused = await Deno.connect({ hostname: "127.0.0.1", port: again.addr.port })
    .then((conn) => conn.close(), (error) => error);
  assert(refused instanceof Deno.errors.ConnectionRefused, "no longer listening");
});

Deno.test("logging to a file at a chosen level", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tsftpd-log-" });
  try {
    for (const level of ["debug", "info"] as const) {
      const path = `${dir}/${level}.log`;
      using sink = fileSink(path);
      await withServer({ logger: new Logger({ level, sink }) }, async ({ port }) => {
        const client = await FtpClient.login(port);
        assertEquals((await client.command("NOOP")).code, 200);
        client.close();
      });
      const log = await Deno.readTextFile(path);
      assertMatch(log, /^\[I \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] .*USER 'user' logged in\.$/m);
      assertEquals(log.includes("<- NOOP"), level === "debug", `${level}: the commands`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("validateAuthentication is told the client's address and port", async () => {
  const seen: string[] = [];
  class AddressAware extends DummyAuthorizer {
    override validateAuthentication(name: string, password: string, session: SessionInfo) {
      seen.push(`${name}@${session.remoteIp}:${session.remotePort}`);
      return super.validateAuthentication(name, password, session);
    }
  }
  const authorizer = new AddressAware();
  authorizer.addUser("user", "12345", Deno.cwd());
  await withServer({ authorizer }, async ({ port }) => {
    const client = await FtpClient.login(port);
    const local = client.conn.localAddr as Deno.NetAddr;
    client.close();
    assertEquals(seen, [`user@127.0.0.1:${local.port}`]);
  });
});

Deno.test("write permissions for anonymous are warned about", () => {
  const warn = console.warn;
  const printed: unknown[] = [];
  console.warn = (...args: unknown[]) => void printed.push(...args);
  try {
    new DummyAuthorizer().addAnonymous(Deno.cwd(), { perm: "elrw" });
  } finally {
    console.warn = warn;
  }
  assertEquals(printed, ["Warning: write permissions assigned to anonymous user."], "by default");
  const warnings: string[] = [];
  const authorizer = new DummyAuthorizer({ warn: (message) => warnings.push(message) });
  authorizer.addAnonymous(Deno.cwd());
  authorizer.addUser("writer", "pw", Deno.cwd(), { perm: "elrw" });
  assertEquals(warnings, [], "read-only anonymous and other users: no warning");
  new DummyAuthorizer({ warn: (message) => warnings.push(message) })
    .addAnonymous(Deno.cwd(), { perm: "elrw" });
  assertEquals(warnings, ["write permissions assigned to anonymous user."]);
});

Deno.test("LIST and MLSx formatting are the filesystem's to override; ids without a name stay numbers", async () => {
  class Custom extends AbstractedFS {
    override async *formatList(entries: AsyncIterable<ListEntry>, _: ListFormatOptions) {
      for await (const entry of entries) yield `custom ${entry.name}`;
    }
    override formatMlsx(entry: FactEntry, facts: readonly string[]) {
      return `x.custom=1;${super.formatMlsx(entry, facts)}`;
    }
  }
  await withServer(
    { abstractedFs: (root, session) => new Custom(root, session) },
    async ({ port, home }) => {
      await Deno.writeTextFile(`${home}/f`, "x");
      const client = await FtpClient.login(port);
      try {
        assertEquals(await client.list("LIST"), "custom f\r\n");
        assertMatch((await client.command("MLST f")).lines[1], /^ x\.custom=1;type=file;/);
        assertStringIncludes(decoder.decode(await client.retrList("MLSD")), "x.custom=1;type=file");
      } finally {
        client.close();
      }
    },
  );
  const fs = new AbstractedFS(Deno.cwd());
  assertEquals(await fs.getUserByUid(0), "root");
  assertEquals(await fs.getGroupByGid(0), "root");
  assertEquals(await fs.getUserByUid(2 ** 31 - 7), String(2 ** 31 - 7));
  assertEquals(await fs.getGroupByGid(2 ** 31 - 7), String(2 ** 31 - 7));
});

Deno.test("the data-transfer handler is pluggable (dtpHandler)", async () => {
  const sent: number[] = [];
  class Counting extends DTPHandler {
    override async sendFile(source: Reader, convert?: (chunk: Uint8Array) => Uint8Array) {
      await super.sendFile(source, convert);
      sent.push(this.bytes);
    }
  }
  await withServer({ dtpHandler: Counting }, async ({ port, home }) => {
    await Deno.writeTextFile(`${home}/f`, "12345");
    const client = await FtpClient.login(port);
    try {
      await client.command("TYPE I");
      assertEquals(decoder.decode(await client.retr("f")), "12345");
    } finally {
      client.close();
    }
    assertEquals(sent, [5]);
  });
});

Deno.test("DummyAuthorizer refuses a misconfigured table, and answers for users it has", async () => {
  const home = await Deno.realPath(await Deno.makeTempDir({ prefix: "tsftpd-auth-" }));
  try {
    await Deno.mkdir(`${home}/sub/deeper`, { recursive: true });
    await Deno.mkdir(`${home}/flat/inner`, { recursive: true });
    await Deno.writeTextFile(`${home}/file`, "x");
    const authorizer = new DummyAuthorizer({ warn: () => {} });
    authorizer.addUser("alice", "secret", home);
    const refusals: [() => void, RegExp][] = [
      [() => authorizer.addUser("alice", "again", home), /user alice already exists/],
      [() => authorizer.addUser("bob", "pw", home, { perm: "elrX" }), /no such permission "X"/],
      [() => authorizer.addUser("bob", "pw", `${home}/file`), /not a directory/],
      [() => authorizer.overridePerm("alice", "/", "elr"), /is outside the home of alice/],
      [() => authorizer.overridePerm("nobody", home, "elr"), /no such user: nobody/],
      [() => authorizer.overridePerm("alice", home, "elrZ"), /no such permission "Z"/],
    ];
    for (const [action, message] of refusals) {
      let error: unknown;
      try {
        action();
      } catch (caught) {
        error = caught;
      }
      assert(error instanceof AuthorizerError, String(message));
      assertEquals(error.name, "AuthorizerError");
      assertMatch(error.message, message);
    }
    assert(authorizer.hasUser("alice"));
    assert(!authorizer.hasUser("bob"), "a refused user is not added");
    authorizer.addUser("carol", "pw", "/nowhere/on/disk/../carol");
    assertEquals(
      await authorizer.getHomeDir("carol"),
      "/nowhere/on/carol",
      "need not exist on disk",
    );
    assertEquals(await authorizer.getPerms("alice"), "elr", "read-only by default");
    assertEquals(await authorizer.getPerms("nobody"), "");
    assertEquals(await authorizer.getMsgLogin("alice"), "Login successful.");
    assertEquals(await authorizer.getMsgQuit("alice"), "Goodbye.");
    assertEquals(await authorizer.getMsgLogin("nobody"), "Login successful.");
    assertEquals(await authorizer.getMsgQuit("nobody"), "Goodbye.");
    assertEquals(await authorizer.hasPerm("nobody", "r", home), false);
    // The deeper override wins, whichever was given first.
    authorizer.overridePerm("alice", "sub", "elrw", true);
    authorizer.overridePerm("alice", `${home}/sub/deeper`, "elr", true);
    assertEquals(await authorizer.hasPerm("alice", "w", `${home}/sub/deeper/x`), false);
    assertEquals(await authorizer.hasPerm("alice", "w", `${home}/sub/x`), true);
    authorizer.overridePerm("alice", "sub", "elrwd", true);
    assertEquals(await authorizer.hasPerm("alice", "d", `${home}/sub/x`), true, "replaced");
    assertEquals(
      await authorizer.hasPerm("alice", "w"),
      false,
      "without a path: the home's letters",
    );
    // Not recursive: the directory itself and the files directly in it.
    authorizer.overridePerm("alice", "flat", "elrw");
    assertEquals(await authorizer.hasPerm("alice", "w", `${home}/flat`), true);
    assertEquals(await authorizer.hasPerm("alice", "w", `${home}/flat/file`), true);
    assertEquals(await authorizer.hasPerm("alice", "w", `${home}/flat/inner`), false);
    await authorizer.validateAuthentication("alice", "secret", {} as SessionInfo);
    for (
      const [name, password, why] of [["alice", "wrong", "wrong password"], [
        "nobody",
        "x",
        "no such user",
      ]]
    ) {
      const failure = await authorizer.validateAuthentication(name, password, {} as SessionInfo)
        .then(() => null, (error) => error);
      assert(failure instanceof AuthenticationFailed, name);
      assertEquals([failure.name, failure.message], ["AuthenticationFailed", why]);
    }
    authorizer.removeUser("alice");
    assert(!authorizer.hasUser("alice"));
    await authorizer.impersonateUser("alice", "secret");
    await authorizer.terminateImpersonation("alice");
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("a disk session whose home is missing is refused at login, 530 and a log line", async () => {
  await withServer({}, async ({ port, authorizer, logs }) => {
    authorizer.addUser("lost", "pw", "/nowhere/tsftpd-missing-home");
    const client = await FtpClient.connect(port);
    try {
      await client.command("USER lost");
      assertEquals((await client.command("PASS pw")).lines, ["530 Home directory not available."]);
      assertEquals((await client.command("PWD")).code, 530, "not logged in");
      assertStringIncludes(
        logs.join("\n"),
        `USER 'lost' refused: home "/nowhere/tsftpd-missing-home"`,
      );
    } finally {
      client.close();
    }
  });
});

Deno.test("a filesystem that cannot be made refuses the login; one whose file cannot be released fails the transfer", async () => {
  const broken = () => {
    throw new Error("storage down");
  };
  await withServer({ abstractedFs: broken }, async ({ port, logs }) => {
    const client = await FtpClient.connect(port);
    try {
      await client.command("USER user");
      assertEquals((await client.command("PASS 12345")).lines, [
        "530 Home directory not available.",
      ]);
      assertStringIncludes(logs.join("\n"), "cannot be used: storage down");
    } finally {
      client.close();
    }
  });
  class Uncommitted extends MemoryFS {
    override async openWrite(path: string, mode: Parameters<MemoryFS["openWrite"]>[1]) {
      const file: FileWriter = await super.openWrite(path, mode);
      return {
        write: (p: Uint8Array) => file.write(p),
        close() {
          file.close();
          throw new FilesystemError("Quota exceeded on commit.", 452);
        },
      };
    }
    // What puts an atomic upload in place.
    override rename(): Promise<void> {
      return Promise.reject(new FilesystemError("Quota exceeded on rename.", 452));
    }
  }
  for (const uploadMode of ["direct", "atomic-keep-partial"] as const) {
    const storage = new Uncommitted();
    await withServer({ abstractedFs: () => storage, uploadMode }, async ({ port }) => {
      const client = await FtpClient.login(port);
      try {
        await client.command("TYPE I");
        const [, end] = await client.store("f", new Uint8Array(10), "STOR", 452);
        const what = uploadMode === "direct" ? "commit" : "rename";
        assertEquals(end.text, `Transfer aborted: Quota exceeded on ${what}.`);
        assertEquals((await client.command("NOOP")).code, 200, "the session goes on");
      } finally {
        client.close();
      }
      if (uploadMode !== "direct") {
        const names = await Array.fromAsync(storage.list("/"), (entry) => entry.name);
        assertEquals(names, [], "the temporary is removed");
      }
    });
  }
});

Deno.test("a storage that keeps no modification times: MDTM says so", async () => {
  const storage = new MemoryFS();
  const timeless = (root: string): FileSystem => {
    const view = storage.view(root);
    return new Proxy(view, {
      get(target, key) {
        if (key === "stat") {
          return async (path: string) => ({ ...await target.stat(path), mtime: null });
        }
        const value = Reflect.get(target, key, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  };
  await withServer({ abstractedFs: timeless }, async ({ port }) => {
    const client = await FtpClient.login(port);
    try {
      await client.store("f", new TextEncoder().encode("x"));
      assertEquals(
        (await client.command("MDTM f")).lines,
        ["550 Modification time not available."],
      );
      assertEquals((await client.command("NOOP")).code, 200, "the session goes on");
    } finally {
      client.close();
    }
  });
});

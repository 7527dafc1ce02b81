/**
 * A session's and a server's life as a library user sees it: impersonation around
 * each command, the order of callbacks when a client vanishes, closing with `await
 * using` and `closeAll`, transfers whose file fails, a home that is not a directory.
 *
 * @module
 */

import {
  AbstractedFS,
  DummyAuthorizer,
  type FileSystem,
  FilesystemError,
  FTPHandler,
  FTPServer,
  Logger,
  MemoryFS,
} from "../mod.ts";
import { assert, assertEquals, assertStringIncludes } from "./support/assert.ts";
import { FtpClient } from "./support/ftp_client.ts";
import { waitFor, withServer } from "./support/server.ts";

Deno.test("each command of a logged-in user runs inside the authorizer's impersonation, and only then", async () => {
  const calls: string[] = [];
  class Recording extends DummyAuthorizer {
    override impersonateUser(username: string, password: string): Promise<void> {
      calls.push(`as ${username}/${password}`);
      return Promise.resolve();
    }
    override terminateImpersonation(username: string): Promise<void> {
      calls.push(`end ${username}`);
      return Promise.resolve();
    }
  }
  const authorizer = new Recording();
  const home = await Deno.makeTempDir({ prefix: "tsftpd-test-" });
  try {
    authorizer.addUser("user", "12345", home);
    await withServer({ authorizer, abstractedFs: () => new MemoryFS() }, async ({ port }) => {
      const client = await FtpClient.connect(port);
      try {
        await client.command("NOOP");
        await client.command("USER user");
        assertEquals(calls, [], "no impersonation before the login");
        await client.command("PASS 12345");
        calls.length = 0;
        await client.command("NOOP");
        await client.command("PWD");
        assertEquals(calls, ["as user/12345", "end user", "as user/12345", "end user"]);
      } finally {
        client.close();
      }
    });
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("a client that vanishes mid-download: the incomplete-file callback comes before the disconnect", async () => {
  const events: string[] = [];
  class Recording extends FTPHandler {
    override onIncompleteFileSent(file: string) {
      events.push(`incomplete ${file.split("/").pop()}`);
    }
    override onDisconnect() {
      events.push("disconnect");
    }
  }
  const storage = new MemoryFS();
  const file = await storage.openWrite("/big", { truncate: true });
  await file.write(new Uint8Array(64 * 1024 * 1024));
  file.close();
  await withServer(
    { handler: Recording, abstractedFs: () => storage, dtp: { writeLimit: 1024 * 1024 } },
    async ({ port }) => {
      const client = await FtpClient.login(port);
      const data = await client.pasv();
      assertEquals((await client.command("RETR big")).code, 125);
      await data.read(new Uint8Array(1024));
      client.close();
      data.close();
      await waitFor(() => events.includes("disconnect"));
      assertEquals(events, ["incomplete big", "disconnect"]);
    },
  );
});

Deno.test("await using closes the server and its sessions; closeAll waits for every session's end", async () => {
  let disconnected = 0;
  class Counting extends FTPHandler {
    override async onDisconnect() {
      await new Promise((resolve) => setTimeout(resolve, 50));
      disconnected++;
    }
  }
  const authorizer = new DummyAuthorizer();
  authorizer.addAnonymous("/memory");
  const options = {
    hostname: "127.0.0.1",
    port: 0,
    authorizer,
    handler: Counting,
    abstractedFs: () => new MemoryFS(),
    logger: new Logger({ level: "error", sink: () => {} }),
  };
  let port: number;
  let client: FtpClient;
  {
    await using server = new FTPServer(options);
    port = server.addr.port;
    const serving = server.serve();
    client = await FtpClient.connect(port);
    await server.closeAll();
    assertEquals(disconnected, 1, "closeAll resolved after the session's onDisconnect");
    await serving;
  }
  client.close();
  {
    await using server = new FTPServer(options);
    port = server.addr.port;
    server.serve();
  }
  const refused = await Deno.connect({ hostname: "127.0.0.1", port }).then(
    (conn) => (conn.close(), false),
    () => true,
  );
  assert(refused, "the listener is closed once the block ends");
});

/** A view of `storage` whose files fail to read with `error`. */
function failingReads(storage: MemoryFS, error: Error): (root: string) => FileSystem {
  return (root) => {
    const view = storage.view(root);
    return new Proxy(view, {
      get(target, key) {
        if (key === "openRead") {
          return async (path: string, offset: number) => {
            const file = await target.openRead(path, offset);
            return { read: () => Promise.reject(error), close: () => file.close() };
          };
        }
        const value = Reflect.get(target, key, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  };
}

Deno.test("a download whose file fails: 451 with the filesystem's words, or a local error for a bug", async () => {
  const cases: [Error, string][] = [
    [new FilesystemError("Disk on fire."), "451 Transfer aborted: Disk on fire."],
    [new Error("a bug"), "451 Requested action aborted: local error in processing."],
  ];
  for (const [error, expected] of cases) {
    const storage = new MemoryFS();
    await withServer({ abstractedFs: failingReads(storage, error) }, async ({ port, logs }) => {
      const client = await FtpClient.login(port);
      try {
        await client.store("f", new Uint8Array(10));
        const data = await client.pasv();
        assertEquals((await client.command("RETR f")).code, 125);
        data.close();
        assertEquals((await client.reply()).lines, [expected]);
        await waitFor(() => logs.some((line) => line.includes("RETR ")));
        assertStringIncludes(logs.join("\n"), "completed=0");
      } finally {
        client.close();
      }
    });
  }
});

Deno.test("a home that became a file, not a directory, refuses the login", async () => {
  // Paths checked, not the kernel's jail (which cannot even open such a home).
  const abstractedFs = (root: string) => new AbstractedFS(root, undefined, { kernelJail: false });
  await withServer({ abstractedFs }, async ({ port, home, authorizer, logs }) => {
    await Deno.mkdir(`${home}/plain`);
    authorizer.addUser("filed", "pw", `${home}/plain`);
    await Deno.remove(`${home}/plain`);
    await Deno.writeTextFile(`${home}/plain`, "x");
    const client = await FtpClient.connect(port);
    try {
      await client.command("USER filed");
      assertEquals((await client.command("PASS pw")).lines, ["530 Home directory not available."]);
      assertStringIncludes(logs.join("\n"), `home "${home}/plain" is not a directory.`);
    } finally {
      client.close();
    }
  });
});

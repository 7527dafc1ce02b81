import { DataChannel, DataConnectError, NoFreePassivePort } from "../src/data/channel.ts";
import { NativeConn, nativeSocketsAvailable } from "../src/native/socket.ts";
import { assert, assertEquals } from "./support/assert.ts";
import { waitFor } from "./support/server.ts";

/** The kinds of socket a channel can make: every test runs with each (native ones on Linux only). */
const KINDS = nativeSocketsAvailable() ? [false, true] : [false];

/**
 * A channel for a client on 127.0.0.1 (or `clientIp`), with native sockets or the
 * runtime's; refusals are collected in `refused`.
 */
function channel(
  native: boolean,
  options: { permitForeignAddresses?: boolean; connectTimeout?: number; clientIp?: string } = {},
) {
  const refused: string[] = [];
  const data = new DataChannel(options.clientIp ?? "127.0.0.1", {
    connectTimeout: options.connectTimeout ?? 5,
    permitForeignAddresses: options.permitForeignAddresses ?? false,
    onRefused: (message) => refused.push(message),
    native,
  });
  return { data, refused };
}

/** Declares the test `name` once per kind of socket, `body` told which. */
function channelTest(name: string, body: (native: boolean) => Promise<void>): void {
  for (const native of KINDS) {
    Deno.test(`${name} (${native ? "native" : "runtime"} sockets)`, () => body(native));
  }
}

/** What a read of `conn` gives within `ms`: bytes, `null` (the peer closed), or `"pending"`. */
async function readWithin(conn: Deno.Conn, ms: number): Promise<number | null | "pending"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const pending = new Promise<"pending">((resolve) => {
    timer = setTimeout(() => resolve("pending"), ms);
  });
  try {
    return await Promise.race([conn.read(new Uint8Array(16)).catch(() => null), pending]);
  } finally {
    clearTimeout(timer);
  }
}

/** The error `promise` rejects with. */
async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("did not reject");
}

channelTest("DataChannel.describe tells STAT each state", async (native) => {
  const { data } = channel(native);
  assertEquals(data.describe(), "Data connection closed.");
  const port = await data.openPassive("127.0.0.1", null);
  assertEquals(data.describe(), "Passive data channel waiting for connection.");
  using client = await Deno.connect({ hostname: "127.0.0.1", port });
  await waitFor(() => data.connected);
  assertEquals(data.describe(), "Passive data connection established.");
  data.setActive("127.0.0.1", 1234);
  assertEquals(data.describe(), "Active data channel to 127.0.0.1:1234.");
  data.close();
  assertEquals([data.describe(), data.ready], ["Data connection closed.", false]);
  assertEquals(await readWithin(client, 2000), null, "the connection not handed over is closed");
});

channelTest(
  "DataChannel: passive listeners bind the control address only, with or without a range",
  async (native) => {
    for (const ports of [null, []]) {
      const { data } = channel(native);
      const port = await data.openPassive("127.0.0.1", ports);
      const elsewhere = await rejection(Deno.connect({ hostname: "127.0.0.2", port }));
      assert(elsewhere instanceof Deno.errors.ConnectionRefused, "not bound on every address");
      data.close();
    }
  },
);

channelTest(
  "DataChannel: an exhausted range is NoFreePassivePort; the scan finds the one free port",
  async (native) => {
    using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const busy = taken.addr.port;
    const { data } = channel(native);
    const error = await rejection(data.openPassive("127.0.0.1", [busy]));
    assert(error instanceof NoFreePassivePort);
    assertEquals([error.name, error.message], [
      "NoFreePassivePort",
      "every port of the passive range is in use",
    ]);

    const listeners = Array.from(
      { length: 60 },
      () => Deno.listen({ hostname: "127.0.0.1", port: 0 }),
    );
    try {
      const ports = listeners.map((listener) => listener.addr.port);
      const free = ports.pop()!;
      listeners.pop()!.close();
      for (let i = 0; i < 5; i++) {
        // Random picks mostly land on taken ports; the scan that follows finds the free one.
        assertEquals(await data.openPassive("127.0.0.1", [...ports, free]), free);
        data.close();
      }
    } finally {
      for (const listener of listeners) listener.close();
    }
  },
);

channelTest(
  "DataChannel: a bind error other than a taken port is not swallowed",
  async (native) => {
    const { data } = channel(native);
    const error = await rejection(data.openPassive("192.0.2.1", [40_000]));
    assert(!(error instanceof NoFreePassivePort), `the system's error, not ${error.name}`);
  },
);

channelTest(
  "DataChannel: once handed over, the passive port is free and the channel empty",
  async (native) => {
    const { data } = channel(native);
    const port = await data.openPassive("127.0.0.1", null);
    using client = await Deno.connect({ hostname: "127.0.0.1", port });
    using conn = await data.connect();
    assertEquals(conn instanceof NativeConn, native, "the kind of socket asked for");
    assert(!data.ready, "PASV is per transfer");
    using again = Deno.listen({ hostname: "127.0.0.1", port });
    assertEquals(again.addr.port, port, "the listener was closed");
    await conn.write(new Uint8Array([1]));
    assertEquals(await readWithin(client, 2000), 1);
    const nothing = await rejection(data.connect());
    assert(nothing instanceof DataConnectError);
    assertEquals([nothing.name, nothing.message], ["DataConnectError", "no data channel prepared"]);
  },
);

Deno.test({
  name: "DataChannel (native sockets): a connection the kernel holds counts as made at once",
  ignore: !nativeSocketsAvailable(),
  async fn() {
    // The reactor hears of a connection a worker thread's hop after the kernel has it,
    // so `connected` asks the kernel. The client connects from a process run
    // synchronously: the event loop has not turned when `connected` is asked.
    const { data } = channel(true);
    const port = await data.openPassive("127.0.0.1", null);
    const script = "import socket, sys\n" +
      "s = socket.create_connection(('127.0.0.1', int(sys.argv[1])))\n" +
      "print(s.getsockname()[1])";
    const { stdout } = new Deno.Command("python3", { args: ["-c", script, String(port)] })
      .outputSync();
    assert(data.connected, "connected as soon as the kernel has the connection");
    assertEquals(data.describe(), "Passive data connection established.");
    using conn = await data.connect();
    assertEquals(conn.remoteAddr.port, Number(new TextDecoder().decode(stdout).trim()));
  },
});

channelTest(
  "DataChannel: a new PASV while a transfer waits leaves the new listener in place",
  async (native) => {
    const { data } = channel(native);
    await data.openPassive("127.0.0.1", null);
    const waiting = data.connect();
    const port = await data.openPassive("127.0.0.1", null);
    const error = await rejection(waiting);
    assertEquals(error.message, "no data connection from the client");
    assert(data.ready, "the second PASV's listener is still prepared");
    using _client = await Deno.connect({ hostname: "127.0.0.1", port });
    (await data.connect()).close();
  },
);

channelTest(
  "DataChannel: passive connections from a foreign address are refused, unless permitted",
  async (native) => {
    for (const permitForeignAddresses of [false, true]) {
      // The control connection came from 127.0.0.2; the data connection comes from 127.0.0.1.
      const { data, refused } = channel(native, { permitForeignAddresses, clientIp: "127.0.0.2" });
      const port = await data.openPassive("127.0.0.1", null);
      using foreign = await Deno.connect({ hostname: "127.0.0.1", port });
      if (permitForeignAddresses) {
        (await data.connect()).close();
        assertEquals(refused, []);
        continue;
      }
      await waitFor(() => refused.length > 0);
      assertEquals(refused, ["refused passive data connection from foreign address 127.0.0.1"]);
      assertEquals(await readWithin(foreign, 2000), null, "closed at once");
      assert(!data.connected, "still waiting for the client's own connection");
      data.close();
    }
  },
);

channelTest(
  "DataChannel: active connections are made once, and a refused one says where",
  async (native) => {
    using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const { data } = channel(native);
    data.setActive("127.0.0.1", listener.addr.port);
    const accepted = listener.accept();
    (await data.connect()).close();
    (await accepted).close();
    assert(!data.ready, "PORT is per transfer: the next transfer needs a new one");

    const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = closed.addr.port;
    closed.close();
    data.setActive("127.0.0.1", port);
    const error = await rejection(data.connect());
    assert(error instanceof DataConnectError);
    assertEquals(error.message, `cannot connect to 127.0.0.1:${port}`);
    assert(error.cause instanceof Deno.errors.ConnectionRefused);
    assert(!data.ready);
  },
);

channelTest(
  "DataChannel: a passive connection that never comes fails after connectTimeout",
  async (native) => {
    const { data } = channel(native, { connectTimeout: 0.2 });
    const port = await data.openPassive("127.0.0.1", null);
    const started = performance.now();
    const error = await rejection(data.connect());
    assert(error instanceof DataConnectError);
    assert(performance.now() - started < 3000, "not the default 30 s");
    const late = await rejection(Deno.connect({ hostname: "127.0.0.1", port }));
    assert(late instanceof Deno.errors.ConnectionRefused, "the listener is gone");
  },
);

channelTest(
  "DataChannel: an active connection that never completes fails after connectTimeout",
  async (native) => {
    // A listener that never accepts, with a backlog of one: once it is full, the kernel drops SYNs.
    const script = "import socket, time\ns = socket.socket()\ns.bind(('127.0.0.1', 0))\n" +
      "s.listen(0)\nprint(s.getsockname()[1], flush=True)\ntime.sleep(60)";
    await using listener = new Deno.Command("python3", { args: ["-c", script], stdout: "piped" })
      .spawn();
    const reader = listener.stdout.getReader();
    const port = Number(new TextDecoder().decode((await reader.read()).value).trim());
    reader.releaseLock();
    const queued: Deno.Conn[] = [];
    try {
      for (let hung = false; !hung && queued.length < 8;) {
        const attempt = Deno.connect({ hostname: "127.0.0.1", port });
        const conn = await Promise.race([
          attempt,
          new Promise<null>((r) => setTimeout(r, 300, null)),
        ]);
        if (conn) queued.push(conn);
        else {
          hung = true;
          attempt.then((late) => late.close(), () => {});
        }
      }
      const { data } = channel(native, { connectTimeout: 0.3 });
      data.setActive("127.0.0.1", port);
      const started = performance.now();
      const error = await rejection(data.connect());
      assert(error instanceof DataConnectError, String(error));
      assert(performance.now() - started < 3000, "given up after connectTimeout");
    } finally {
      for (const conn of queued) conn.close();
      listener.kill();
    }
  },
);

import { assert, assertEquals, assertStringIncludes } from "./support/assert.ts";
import { FtpClient, readAll } from "./support/ftp_client.ts";
import { connectFrom } from "./support/python.ts";
import { waitFor, withServer } from "./support/server.ts";

const encoder = new TextEncoder();

Deno.test("maxCons and maxConsPerIp refuse the extra connection with 421", async () => {
  await withServer({ maxCons: 2 }, async ({ port, server }) => {
    const a = await FtpClient.connect(port);
    const b = await FtpClient.connect(port);
    const c = await FtpClient.connect(port);
    try {
      assertEquals([a.greeting.code, b.greeting.code, c.greeting.code], [220, 220, 421]);
      assert(await c.closedByServer());
      a.close();
      await waitFor(() => server.connections === 1);
      const d = await FtpClient.connect(port);
      assertEquals(d.greeting.code, 220, "a freed slot is reused");
      d.close();
    } finally {
      for (const client of [a, b, c]) client.close();
    }
  });
  await withServer({ maxConsPerIp: 1 }, async ({ port, server, logs }) => {
    const a = await FtpClient.connect(port);
    const b = await FtpClient.connect(port);
    try {
      assertEquals(a.greeting.code, 220);
      assertEquals(b.greeting, {
        code: 421,
        text: "Too many connections from the same IP address.",
        lines: ["421 Too many connections from the same IP address."],
      });
    } finally {
      a.close();
      b.close();
    }
    await waitFor(() => server.connections === 0);
    assert(
      logs.some((line) =>
        /127\.0\.0\.1:\d+ refused: Too many connections from the same IP address\./.test(line)
      ),
      "the refusal is logged",
    );
    for (let i = 0; i < 3; i++) {
      const again = await FtpClient.connect(port);
      assertEquals(again.greeting.code, 220, "the address's count drops as its sessions end");
      again.close();
      await waitFor(() => server.connections === 0);
    }
  });
});

Deno.test("maxConsPerIp counts what is open now: closing one of two frees one slot, not two", async () => {
  await withServer({ maxConsPerIp: 2 }, async ({ port, server }) => {
    const a = await FtpClient.connect(port);
    const b = await FtpClient.connect(port);
    a.close();
    await waitFor(() => server.connections === 1);
    const c = await FtpClient.connect(port);
    const d = await FtpClient.connect(port);
    try {
      assertEquals([b.greeting.code, c.greeting.code, d.greeting.code], [220, 220, 421]);
    } finally {
      for (const client of [b, c, d]) client.close();
    }
  });
});

Deno.test("maxLineLength bounds a command line", async () => {
  await withServer({ maxLineLength: 64 }, async ({ port }) => {
    const client = await FtpClient.connect(port);
    try {
      assertEquals((await client.command("NOOP " + "x".repeat(50))).code, 501, "within the bound");
      assertEquals(
        (await client.command("NOOP " + "x".repeat(100))).lines,
        ["500 Command line too long."],
      );
    } finally {
      client.close();
    }
  });
});

Deno.test("an idle client is disconnected with 421; each command restarts the timer", async () => {
  await withServer({ timeout: 0.4 }, async ({ port, logs }) => {
    const active = await FtpClient.connect(port);
    const idle = await FtpClient.connect(port);
    try {
      // Six commands 150 ms apart: 0.9 s in all, more than twice the timeout.
      for (let i = 0; i < 6; i++) {
        await new Promise((resolve) => setTimeout(resolve, 150));
        assertEquals((await active.command("NOOP")).code, 200, `NOOP ${i}`);
      }
      assertEquals((await idle.reply()).text, "Control connection timed out.");
      assert(await idle.closedByServer());
      assertEquals((await active.reply()).code, 421, "idle after its last command");
      assert(logs.some((line) => line.endsWith("] Control connection timed out.")), "logged");
    } finally {
      active.close();
      idle.close();
    }
  });
});

Deno.test("malformed input gets 500 and the session goes on", async () => {
  await withServer({}, async ({ port }) => {
    const client = await FtpClient.connect(port);
    try {
      assertEquals((await client.command("")).code, 500);
      assertEquals((await client.command("X".repeat(3000))).text, "Command line too long.");
      await client.sendRaw(new Uint8Array([0x4e, 0x4f, 0xc3, 0x28, 0x0d, 0x0a]));
      assertEquals((await client.reply()).text, "Command line is not valid UTF-8.");
      // 8 MiB without a line end: discarded as it arrives, answered once.
      const junk = new Uint8Array(1024 * 1024).fill(0x41);
      for (let i = 0; i < 8; i++) await client.sendRaw(junk);
      await client.send("");
      assertEquals((await client.reply()).text, "Command line too long.");
      await client.sendRaw(new Uint8Array([0, 1, 2, 3, 0xff, 0xfe, 0x0a]));
      assertEquals((await client.reply()).code, 500);
      assertEquals((await client.command("NOOP")).code, 200);
      assertEquals((await client.command("RETR x")).code, 530);
      assertEquals((await client.command("USER")).code, 501);
      assertEquals((await client.command("SYST now")).code, 501);
      assertEquals((await client.command("STAT")).code, 211, "STAT works before login");
    } finally {
      client.close();
    }
  });
});

Deno.test("commands split across packets, pipelined, or ended by a bare LF all parse", async () => {
  await withServer({}, async ({ port }) => {
    const client = await FtpClient.connect(port);
    try {
      await client.sendRaw(encoder.encode("NO"));
      await new Promise((resolve) => setTimeout(resolve, 50));
      await client.sendRaw(encoder.encode("OP\r"));
      await new Promise((resolve) => setTimeout(resolve, 50));
      await client.sendRaw(encoder.encode("\n"));
      assertEquals((await client.reply()).code, 200);
      await client.sendRaw(encoder.encode("USER user\r\nPASS 12345\r\nPWD\r\nSYST\nNOOP\r\n"));
      assertEquals((await client.reply()).code, 331);
      assertEquals((await client.reply()).code, 230);
      assertEquals((await client.reply()).code, 257);
      assertEquals((await client.reply()).code, 215);
      assertEquals((await client.reply()).code, 200);
      // Telnet IP and DM (what clients send before ABOR) are stripped.
      await client.sendRaw(new Uint8Array([0xff, 0xf4, 0xff, 0xf2, ...encoder.encode("ABOR\r\n")]));
      assertEquals((await client.reply()).code, 225);
    } finally {
      client.close();
    }
  });
});

Deno.test("PORT: foreign addresses, privileged ports and malformed arguments are refused", async () => {
  await withServer({}, async ({ port, logs }) => {
    const client = await FtpClient.login(port);
    try {
      const foreign = await client.command("PORT 10,0,0,1,200,10");
      assertEquals(foreign.code, 501);
      assertStringIncludes(foreign.text, "foreign address");
      assertEquals((await client.command("PORT 127,0,0,1,0,21")).code, 501);
      assertEquals((await client.command("PORT 127,0,0,1,3,255")).code, 501, "port 1023");
      assertEquals((await client.command("EPRT |1|127.0.0.1|1023|")).code, 501, "port 1023");
      assertEquals((await client.command("PORT 127,0,0,1,4,0")).code, 200, "port 1024");
      for (
        const arg of ["1,2,3", "127,0,0,1,300,1", "a,b,c,d,e,f", "127,0,0,1,0,0", "-1,0,0,1,4,1"]
      ) {
        assertEquals((await client.command(`PORT ${arg}`)).code, 501, arg);
      }
      assert(logs.some((line) => line.includes("PORT refused: foreign address 10.0.0.1:51210.")));
      assert(logs.some((line) => line.endsWith("PORT refused: privileged port 1023.")));
      assert(logs.some((line) => line.endsWith("EPRT refused: privileged port 1023.")));
    } finally {
      client.close();
    }
  });
  await withServer(
    { permitForeignAddresses: true, permitPrivilegedPorts: true },
    async ({ port }) => {
      const client = await FtpClient.login(port);
      try {
        assertEquals((await client.command("PORT 10,0,0,1,0,21")).code, 200, "FXP when permitted");
      } finally {
        client.close();
      }
    },
  );
});

Deno.test("PORT and EPRT are checked against the client's address; PASV listens on the one it reached", async () => {
  // The server listens on 127.0.0.2; the kernel connects the client from 127.0.0.1.
  const hostname = "127.0.0.2";
  await withServer({ hostname }, async ({ port, home }) => {
    await Deno.writeTextFile(`${home}/f`, "to the client");
    const client = await FtpClient.login(port, undefined, undefined, { hostname });
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    try {
      const p = listener.addr.port;
      const hp = `${p >> 8},${p & 255}`;
      assertEquals((await client.command(`PORT 127,0,0,2,${hp}`)).code, 501, "server's address");
      assertEquals((await client.command(`EPRT |1|127.0.0.2|${p}|`)).code, 501, "server's address");
      assertEquals((await client.command(`EPRT |1|127.0.0.1|${p}|`)).code, 200);
      assertEquals((await client.command(`PORT 127,0,0,1,${hp}`)).code, 200, "client's address");
      assertEquals((await client.command("RETR f")).code, 150);
      assertEquals(
        new TextDecoder().decode(await readAll(await listener.accept())),
        "to the client",
      );
      assertEquals((await client.reply()).code, 226);
      // A passive listener is bound to the address the client reached, not to every one.
      const passive = await client.pasvAddress();
      assertEquals(passive.hostname, hostname);
      const elsewhere = await Deno.connect({ hostname: "127.0.0.1", port: passive.port })
        .then((conn) => (conn.close(), "connected"), () => "refused");
      assertEquals(elsewhere, "refused");
    } finally {
      listener.close();
      client.close();
    }
  });
});

Deno.test("PASV: the announced address, one listener per session, a range that runs out", async () => {
  // The server and its passive ports are on 127.0.0.3, where no other test binds,
  // so the port found free here stays free while other test files run.
  const hostname = "127.0.0.3";
  const busy = Deno.listen({ hostname, port: 0 });
  const free = Deno.listen({ hostname, port: 0 });
  const ports = [busy.addr.port, free.addr.port];
  free.close();
  try {
    await withServer(
      { hostname, passivePorts: ports, masqueradeAddress: "203.0.113.9" },
      async ({ port, logs }) => {
        const a = await FtpClient.login(port, undefined, undefined, { hostname });
        const b = await FtpClient.login(port, undefined, undefined, { hostname });
        try {
          const first = await a.command("PASV");
          const p = free.addr.port;
          assertEquals(first.text, `Entering passive mode (203,0,113,9,${p >> 8},${p & 255}).`);
          assertEquals(
            (await a.command("PASV")).code,
            227,
            "a second PASV replaces the first listener",
          );
          const refused = await b.command("PASV");
          assertEquals(refused.code, 425, "never a port outside the range");
          assertStringIncludes(refused.text, "passive");
          assert(
            logs.some((line) =>
              line.endsWith(
                "passive connection refused: every port of the passive range is in use.",
              )
            ),
            "the operator hears of it",
          );
          assertEquals((await a.command("ABOR")).code, 225);
          assertEquals((await b.command("PASV")).code, 227, "the port is free again");
        } finally {
          a.close();
          b.close();
        }
      },
    );
  } finally {
    busy.close();
  }
});

Deno.test("PASV announces the masquerade address mapped from the local one", async () => {
  const options = {
    masqueradeAddress: "198.51.100.1",
    masqueradeAddressMap: { "127.0.0.1": "192.0.2.44" },
  };
  await withServer(options, async ({ port }) => {
    const client = await FtpClient.login(port);
    try {
      assertStringIncludes((await client.command("PASV")).text, "(192,0,2,44,");
    } finally {
      client.close();
    }
  });
});

Deno.test("a passive connection from another address is dropped (bounce protection)", async () => {
  await withServer({}, async ({ port, logs, home }) => {
    await Deno.writeTextFile(`${home}/f`, "mine");
    const client = await FtpClient.login(port);
    try {
      const { port: dataPort } = await client.pasvAddress();
      assertEquals(await connectFrom("127.0.0.2", dataPort), "closed");
      assert(
        logs.some((line) =>
          line.includes("refused passive data connection from foreign address 127.0.0.2")
        ),
      );
      const data = await Deno.connect({ hostname: "127.0.0.1", port: dataPort });
      assertEquals(
        (await client.command("RETR f")).code,
        125,
        "the client's own connection is still accepted",
      );
      const buffer = new Uint8Array(16);
      const n = await data.read(buffer);
      assertEquals(new TextDecoder().decode(buffer.subarray(0, n!)), "mine");
      data.close();
      assertEquals((await client.reply()).code, 226);
    } finally {
      client.close();
    }
  });
});

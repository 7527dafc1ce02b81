/**
 * The PROXY protocol: header vectors of versions 1 and 2 (TCP4, TCP6, UNKNOWN,
 * LOCAL and malformed ones), read byte by byte and whole; then a real server
 * behind "a proxy" on loopback: the client it names in logs and per-address
 * limits, its passive data connections, and the connections closed without a
 * greeting (untrusted peer, no header, a malformed one, none in time).
 *
 * @module
 */

import { parseProxyHeader, type ProxyHeader, ProxyHeaderError } from "../mod.ts";
import { assert, assertEquals, assertMatch } from "./support/assert.ts";
import { FtpClient } from "./support/ftp_client.ts";
import { PASSWORD, USER, waitFor, withServer } from "./support/server.ts";

const encoder = new TextEncoder();
const SIGNATURE = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];

/** A v2 header: version/command byte, family/transport byte, then `block` (its length is added). */
function v2(command: number, family: number, block: number[]): Uint8Array {
  return new Uint8Array([
    ...SIGNATURE,
    command,
    family,
    block.length >> 8,
    block.length & 0xff,
    ...block,
  ]);
}

/** The address block of TCP over IPv4: source, destination, then the two ports. */
const TCP4_BLOCK = [172, 19, 0, 1, 172, 19, 0, 3, 0xa6, 0x52, 0x00, 0x50];
const TCP6_BLOCK = [
  ...[0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 0x01],
  ...[0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 0x02],
  0x30,
  0x39,
  0x00,
  0x15,
];

/** Parses `bytes` as a connection would deliver them, one byte at a time, asserting no byte past the header is asked for. */
function parseByteByByte(bytes: Uint8Array): ProxyHeader {
  let have = 0;
  while (true) {
    const parsed = parseProxyHeader(bytes.subarray(0, have));
    if ("header" in parsed) return parsed.header;
    assert(parsed.needs >= 1, "asks for at least one byte");
    assert(have + parsed.needs <= bytes.length, `asks past the header (${have} + ${parsed.needs})`);
    have += 1;
  }
}

/** Parses `bytes` in one go and byte by byte; both must agree. */
function parse(bytes: Uint8Array): ProxyHeader {
  const whole = parseProxyHeader(bytes);
  assert("header" in whole, "a whole header parses");
  assertEquals(parseByteByByte(bytes), whole.header);
  return whole.header;
}

function tcp(hostname: string, port: number): Deno.NetAddr {
  return { transport: "tcp", hostname, port };
}

Deno.test("v1: TCP4 and TCP6 headers name the client and the address it reached", () => {
  const line = "PROXY TCP4 192.0.2.10 198.51.100.1 56324 21\r\n";
  assertEquals(parse(encoder.encode(line)), {
    version: 1,
    source: tcp("192.0.2.10", 56324),
    destination: tcp("198.51.100.1", 21),
    length: line.length,
  });
  const six = "PROXY TCP6 2001:db8::1 2001:db8::2 65535 0\r\n";
  assertEquals(parse(encoder.encode(six)), {
    version: 1,
    source: tcp("2001:db8::1", 65535),
    destination: tcp("2001:db8::2", 0),
    length: six.length,
  });
});

Deno.test("v1: UNKNOWN carries no address, with or without the rest of the line", () => {
  for (const line of ["PROXY UNKNOWN\r\n", "PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n"]) {
    assertEquals(parse(encoder.encode(line)), {
      version: 1,
      source: null,
      destination: null,
      length: line.length,
    });
  }
});

Deno.test("v1: the bytes after the line are left to the client", () => {
  const parsed = parseProxyHeader(encoder.encode("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\nUSER x\r\n"));
  assert("header" in parsed);
  assertEquals(parsed.header.length, "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n".length);
});

Deno.test("v1: malformed headers are refused", () => {
  const bad = [
    "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", // LF without CR
    "PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", // no such protocol
    "PROXY TCP4 256.2.3.4 5.6.7.8 1 2\r\n", // no IPv4 address
    "PROXY TCP4 ::1 5.6.7.8 1 2\r\n", // IPv6 under TCP4
    "PROXY TCP6 1.2.3.4 ::1 1 2\r\n", // IPv4 under TCP6
    "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", // port out of range
    "PROXY TCP4 1.2.3.4 5.6.7.8 021 2\r\n", // leading zero
    "PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n", // two spaces
    "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", // a field missing
    "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", // a field too many
    "PROXY UNKNOWN" + " ".repeat(100) + "\r\n", // longer than 107 bytes
    "GET / HTTP/1.0\r\n", // no header at all
  ];
  for (const line of bad) {
    let error: unknown;
    try {
      parseByteByByte(encoder.encode(line));
    } catch (caught) {
      error = caught;
    }
    assert(error instanceof ProxyHeaderError, `refused: ${JSON.stringify(line)}`);
  }
});

Deno.test("v1: a line without its end is refused at 107 bytes, not waited on", () => {
  const bytes = encoder.encode("PROXY UNKNOWN " + "x".repeat(93));
  assertEquals(bytes.length, 107);
  let error: unknown;
  try {
    parseProxyHeader(bytes);
  } catch (caught) {
    error = caught;
  }
  assert(error instanceof ProxyHeaderError);
});

Deno.test("v2: PROXY over TCP4 and TCP6 names the client; TLVs after the addresses are skipped", () => {
  // The header HAProxy's send-proxy-v2 writes: 172.19.0.1:42578 -> 172.19.0.3:80.
  assertEquals(parse(v2(0x21, 0x11, TCP4_BLOCK)), {
    version: 2,
    source: tcp("172.19.0.1", 42578),
    destination: tcp("172.19.0.3", 80),
    length: 28,
  });
  assertEquals(parse(v2(0x21, 0x21, TCP6_BLOCK)), {
    version: 2,
    source: tcp("2001:db8:0:0:0:0:0:1", 12345),
    destination: tcp("2001:db8:0:0:0:0:0:2", 21),
    length: 52,
  });
  // A PP2_TYPE_NOOP TLV of 3 bytes after the addresses.
  const withTlv = v2(0x21, 0x11, [...TCP4_BLOCK, 0x04, 0x00, 0x03, 1, 2, 3]);
  assertEquals(parse(withTlv).length, 16 + 12 + 6);
  assertEquals(parse(withTlv).source, tcp("172.19.0.1", 42578));
});

Deno.test("v2: LOCAL (a health check) and an unspecified family carry no client", () => {
  for (const header of [v2(0x20, 0x00, []), v2(0x20, 0x11, TCP4_BLOCK), v2(0x21, 0x00, [])]) {
    const parsed = parse(header);
    assertEquals(parsed.source, null);
    assertEquals(parsed.destination, null);
    assertEquals(parsed.length, header.length);
  }
});

Deno.test("v2: malformed headers are refused", () => {
  const bad: [string, Uint8Array][] = [
    ["version 1", v2(0x11, 0x11, TCP4_BLOCK)],
    ["command 2", v2(0x22, 0x11, TCP4_BLOCK)],
    ["UDP", v2(0x21, 0x12, TCP4_BLOCK)],
    ["a UNIX socket", v2(0x21, 0x31, new Array(216).fill(0))],
    ["family 4", v2(0x21, 0x41, TCP4_BLOCK)],
    ["too short for IPv4", v2(0x21, 0x11, TCP4_BLOCK.slice(0, 11))],
    ["too short for IPv6", v2(0x21, 0x21, TCP4_BLOCK)],
    ["larger than allowed", v2(0x21, 0x11, new Array(2049).fill(0))],
    ["a broken signature", new Uint8Array([...SIGNATURE.slice(0, 11), 0x0b, 0x21, 0x11, 0, 0])],
  ];
  for (const [what, bytes] of bad) {
    let error: unknown;
    try {
      parseByteByByte(bytes);
    } catch (caught) {
      error = caught;
    }
    assert(error instanceof ProxyHeaderError, `refused: ${what}`);
  }
});

// --- A server behind a proxy ----------------------------------------------------------

/** Connects from 127.0.0.1 (the "proxy") and sends `header` first, with `after` in the same write. */
async function proxiedClient(port: number, header: Uint8Array, after = ""): Promise<FtpClient> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const bytes = new Uint8Array([...header, ...encoder.encode(after)]);
  await conn.write(bytes);
  const client = new FtpClient(conn, "127.0.0.1");
  client.greeting = await client.reply();
  return client;
}

function v2From(ip: [number, number, number, number], port: number): Uint8Array {
  return v2(0x21, 0x11, [...ip, 127, 0, 0, 1, port >> 8, port & 0xff, 0, 21]);
}

Deno.test("behind a proxy: the client its header names is the session's, data connections from the proxy are taken", async () => {
  await withServer(
    { proxyProtocol: { trusted: ["127.0.0.0/8"] }, maxConsPerIp: 1 },
    async ({ port, logs }) => {
      // The USER line rides in the same segment as the header: nothing past the header is lost.
      const client = await proxiedClient(port, v2From([203, 0, 113, 7], 4242), `USER ${USER}\r\n`);
      assertEquals(client.greeting.code, 220);
      assertEquals((await client.reply()).code, 331);
      assertEquals((await client.command(`PASS ${PASSWORD}`)).code, 230);
      assert(logs.some((line) => line.includes("203.0.113.7:4242-[user] USER 'user' logged in.")));
      // The passive connection comes from 127.0.0.1, the proxy, not from 203.0.113.7.
      await client.store("up.txt", encoder.encode("through the proxy"));
      assertEquals(new TextDecoder().decode(await client.retr("up.txt")), "through the proxy");

      // Per-address limits count the client behind the proxy: another one gets in ...
      const other = await proxiedClient(
        port,
        encoder.encode("PROXY TCP4 198.51.100.9 127.0.0.1 5000 21\r\n"),
      );
      assertEquals(other.greeting.code, 220);
      // ... a second session of 203.0.113.7 does not.
      const again = await proxiedClient(port, v2From([203, 0, 113, 7], 4243));
      assertEquals(again.greeting.code, 421);
      assert(logs.some((line) => line.includes("203.0.113.7:4243 refused: Too many connections")));
      for (const each of [client, other, again]) each.close();
    },
  );
});

Deno.test("behind a proxy: a health check's LOCAL header is the proxy's own session", async () => {
  await withServer({ proxyProtocol: { trusted: ["127.0.0.1"] } }, async ({ port, logs }) => {
    const check = await proxiedClient(port, v2(0x20, 0x00, []));
    assertEquals(check.greeting.code, 220);
    assertEquals((await check.command("QUIT")).code, 221);
    check.close();
    await waitFor(() => logs.some((line) => /127\.0\.0\.1:\d+-\[\] FTP session opened/.test(line)));
  });
});

/** Connects, sends `bytes` (if any) and asserts the server closes the connection without a byte. */
async function assertClosedWithoutGreeting(port: number, bytes?: Uint8Array): Promise<void> {
  using conn = await Deno.connect({ hostname: "127.0.0.1", port });
  if (bytes) await conn.write(bytes);
  const buffer = new Uint8Array(64);
  const n = await conn.read(buffer).catch(() => null);
  assertEquals(n, null, `the server sent ${JSON.stringify(buffer.subarray(0, n ?? 0))}`);
}

Deno.test("behind a proxy: a peer that is no trusted proxy is closed without a greeting", async () => {
  await withServer(
    { proxyProtocol: { trusted: ["10.0.0.0/8", "::1"] } },
    async ({ port, logs }) => {
      await assertClosedWithoutGreeting(port, v2From([203, 0, 113, 7], 4242));
      await waitFor(() => logs.some((line) => line.includes("127.0.0.1 is not a trusted proxy")));
      assertMatch(
        logs.find((line) => line.includes("not a trusted proxy"))!,
        /127\.0\.0\.1:\d+ closed without a greeting: 127\.0\.0\.1 is not a trusted proxy/,
      );
    },
  );
});

Deno.test("behind a proxy: no header, a malformed one, or none in time: closed without a greeting", async () => {
  await withServer(
    { proxyProtocol: { trusted: ["127.0.0.1"], timeout: 0.2 } },
    async ({ port, logs }) => {
      await assertClosedWithoutGreeting(port, encoder.encode("USER anonymous\r\n"));
      await assertClosedWithoutGreeting(port, encoder.encode("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n"));
      await assertClosedWithoutGreeting(port, encoder.encode("PROXY TCP4 1.2.3.4"));
      await assertClosedWithoutGreeting(port);
      await waitFor(() =>
        logs.filter((line) => line.includes("closed without a greeting")).length === 4
      );
      const reasons = logs.filter((line) => line.includes("closed without a greeting")).join("\n");
      assertMatch(reasons, /no PROXY protocol header \(neither v1 nor v2\)/);
      assertMatch(reasons, /malformed v1 header "PROXY TCP4 1\.2\.3\.4 5\.6\.7\.8 1"/);
      assertMatch(reasons, /no PROXY header within 0\.2 s/);
      assert(!logs.some((line) => line.includes("FTP session opened")));
    },
  );
});

Deno.test("behind a proxy: closeAll ends a connection still waiting for its header", async () => {
  let conn: Deno.Conn | undefined;
  await withServer(
    { proxyProtocol: { trusted: ["127.0.0.1"], timeout: 60 } },
    async ({ server }) => {
      conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
      await conn.write(encoder.encode("PROXY "));
    },
  );
  assertEquals(await conn!.read(new Uint8Array(8)).catch(() => null), null);
  conn!.close();
});

/**
 * The defender: scripted brute force and protocol abuse from chosen loopback
 * addresses (Python binds the source address) against a real server; bans that
 * hold, expire and grow; the allow-list; the library API; the bounded store.
 *
 * @module
 */

import {
  type BanRecord,
  type BanStore,
  Defender,
  type DefenderOptions,
  Logger,
  MemoryBanStore,
} from "../mod.ts";
import { rejects } from "node:assert/strict";
import { assert, assertEquals, assertMatch } from "./support/assert.ts";
import { FtpClient } from "./support/ftp_client.ts";
import { dialogueFrom } from "./support/python.ts";
import { PASSWORD, USER, waitFor, withServer } from "./support/server.ts";

/** A logger that drops everything, for defenders made outside a server. */
const silent = new Logger({ sink: () => {} });

/** Three wrong passwords, the session's whole allowance (`maxLoginAttempts` 3). */
const BRUTE_FORCE = ["USER user", "PASS wrong1", "USER user", "PASS wrong2", "USER user", "PASS x"];

/** The reply codes of a dialogue (`null` where the server had closed the connection). */
function codes(replies: (string | null)[]): (string | null)[] {
  return replies.map((reply) => reply?.slice(0, 3) ?? null);
}

/** The defender of a test server: nothing allow-listed, a ban at three failed logins, short bans. */
function testDefender(options: DefenderOptions = {}): DefenderOptions {
  return { allowList: [], threshold: 6, banTime: 0.5, ...options };
}

Deno.test("a brute force from one address is banned; another address is not affected", async () => {
  await withServer(
    { defender: testDefender(), maxLoginAttempts: 3 },
    async ({ server, port, logs }) => {
      const defender = server.defender!;
      const attack = await dialogueFrom("127.0.0.2", port, BRUTE_FORCE);
      // The third failure reaches the threshold: the session is told and closed.
      assertEquals(codes(attack), ["220", "331", "530", "331", "530", "331", "421"]);
      assertMatch(attack[6]!, /^421 Banned/);
      assert(await defender.isBanned("127.0.0.2"));
      // The next connection from there is refused at once.
      assertEquals(codes(await dialogueFrom("127.0.0.2", port, ["USER user"])), ["421", null]);
      const neighbour = await dialogueFrom("127.0.0.3", port, [`USER ${USER}`, `PASS ${PASSWORD}`]);
      assertEquals(codes(neighbour), ["220", "331", "230"]);
      assert(!await defender.isBanned("127.0.0.3"));
      const text = logs.join("\n");
      assertMatch(
        text,
        /defender: banned 127\.0\.0\.2 for 0\.5 s, until .* \(offence 1\): score 6/,
      );
      assertMatch(text, /127\.0\.0\.2:\d+ refused: Banned/);
      assertMatch(text, /127\.0\.0\.2:\d+-\[user\] session closed: its address is banned/);
    },
  );
});

Deno.test("a ban expires, and a repeat offence bans twice as long", async () => {
  await withServer(
    { defender: testDefender(), maxLoginAttempts: 3 },
    async ({ server, port, logs }) => {
      const defender = server.defender!;
      await dialogueFrom("127.0.0.2", port, BRUTE_FORCE);
      const [first] = await defender.bans();
      assertEquals([first.key, first.offences, first.until - first.since], ["127.0.0.2", 1, 500]);
      await waitFor(() => Date.now() > first.until);
      // Let in again: the end of the ban is noticed, and logged, at the next connection.
      assertEquals(codes(await dialogueFrom("127.0.0.2", port)), ["220"]);
      assertEquals(await defender.bans(), []);
      assertMatch(logs.join("\n"), /defender: ban of 127\.0\.0\.2 ended at /);
      await dialogueFrom("127.0.0.2", port, BRUTE_FORCE);
      const [second] = await defender.bans();
      assertEquals([second.offences, second.until - second.since], [2, 1000]);
      assertMatch(logs.join("\n"), /banned 127\.0\.0\.2 for 1 s, .*\(offence 2\)/);
    },
  );
});

Deno.test("an allow-listed address is never banned", async () => {
  await withServer({
    defender: testDefender({ allowList: ["127.0.0.2/32", "10.0.0.0/8"] }),
    maxLoginAttempts: 3,
  }, async ({ server, port }) => {
    const defender = server.defender!;
    for (let round = 0; round < 3; round++) {
      const attempt = await dialogueFrom("127.0.0.2", port, BRUTE_FORCE);
      assertMatch(attempt[6]!, /^530 Maximum login attempts/);
    }
    assertEquals(codes(await dialogueFrom("127.0.0.2", port)), ["220"]);
    assertEquals(await defender.bans(), []);
    await rejects(defender.ban("10.1.2.3"), /allow-list/);
  });
});

Deno.test("the default allow-list is the loopback", async () => {
  const defender = new Defender({ threshold: 1, logger: silent });
  assert(defender.isAllowed("127.0.0.9") && defender.isAllowed("::1"));
  assert(!await defender.score("127.0.0.9", "loginFailed"));
  assert(await defender.score("192.0.2.1", "loginFailed"));
});

Deno.test("ban, unban and list through the library API", async () => {
  await withServer({ defender: testDefender() }, async ({ server, port, logs }) => {
    const defender = server.defender!;
    const ban = await defender.ban("127.0.0.4", 60, "seen in a honeypot");
    assertEquals([ban.key, ban.until - ban.since, ban.reason], [
      "127.0.0.4",
      60_000,
      "seen in a honeypot",
    ]);
    assertEquals((await defender.bans()).map((record) => record.key), ["127.0.0.4"]);
    assertEquals(codes(await dialogueFrom("127.0.0.4", port)), ["421"]);
    assert(await defender.unban("127.0.0.4"));
    assert(!await defender.unban("127.0.0.4"));
    assertEquals(codes(await dialogueFrom("127.0.0.4", port)), ["220"]);
    const text = logs.join("\n");
    assertMatch(text, /defender: banned 127\.0\.0\.4 for 60 s, .*: seen in a honeypot/);
    assertMatch(text, /defender: unbanned 127\.0\.0\.4/);
  });
});

Deno.test("an IPv6 client is scored and banned by its /64", async () => {
  const defender = new Defender(testDefender({ logger: silent }));
  assertEquals(defender.keyOf("2001:DB8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
  assertEquals(defender.keyOf("2001:db8:1:2::/64"), "2001:db8:1:2::/64");
  assertEquals(defender.keyOf("::ffff:192.0.2.7"), "192.0.2.7");
  assertEquals(defender.keyOf("not an address"), null);
  await defender.ban("2001:db8:1:2::99");
  assert(await defender.isBanned("2001:db8:1:2:ffff:ffff:ffff:ffff"));
  assert(!await defender.isBanned("2001:db8:1:3::1"));
  assertEquals(new Defender({ ipv6Prefix: 48 }).keyOf("2001:db8:1:2::1"), "2001:db8:1::/48");
});

Deno.test("a few unknown commands are free; a stream of garbage is banned", async () => {
  await withServer({ defender: testDefender({ threshold: 3 }) }, async ({ server, port }) => {
    const defender = server.defender!;
    // A client probing for extensions: five unknown commands, a session's allowance.
    const probes = ["CLNT x", "XCRC f", "CSID Name=x", "SITE ZONE", "HOST example.org"];
    const probing = await dialogueFrom("127.0.0.5", port, [...probes, "NOOP"]);
    assertEquals(codes(probing), ["220", "500", "500", "500", "500", "500", "200"]);
    assertEquals(codes(await dialogueFrom("127.0.0.5", port, probes)).at(-1), "500");
    // A fuzzer: past the allowance each line scores, and the third is the last.
    const garbage = Array.from({ length: 12 }, (_, i) => `G${i}ARBAGE`);
    const fuzzing = codes(await dialogueFrom("127.0.0.6", port, garbage));
    assertEquals(fuzzing.slice(0, 9), ["220", ...new Array(8).fill("500")]);
    assertEquals(fuzzing.slice(9), ["421", null]);
    assert(await defender.isBanned("127.0.0.6"));
    assert(!await defender.isBanned("127.0.0.5"));
  });
});

Deno.test("connections refused at the per-address limit score; at the server's limit not", async () => {
  await withServer(
    { defender: testDefender({ threshold: 3 }), maxConsPerIp: 1 },
    async ({ server, port, logs }) => {
      using _held = await FtpClient.connect(port);
      for (let i = 0; i < 3; i++) {
        using refused = await FtpClient.connect(port);
        assertMatch(refused.greeting.text, /^Too many connections from/);
      }
      await waitFor(() => logs.some((line) => line.includes("banned 127.0.0.1")));
      using banned = await FtpClient.connect(port);
      assertMatch(banned.greeting.text, /^Banned/);
      assert(await server.defender!.isBanned("127.0.0.1"));
    },
  );
  await withServer(
    { defender: testDefender({ threshold: 1 }), maxCons: 1 },
    async ({ server, port }) => {
      using _held = await FtpClient.connect(port);
      assertMatch((await dialogueFrom("127.0.0.8", port))[0]!, /^421 Too many connections\./);
      assertEquals(await server.defender!.bans(), []);
    },
  );
});

Deno.test("the memory store stays bounded, keeping bans over scores", async () => {
  const store = new MemoryBanStore({ maxEntries: 100 });
  const defender = new Defender({
    store,
    allowList: [],
    threshold: 2,
    logger: silent,
  });
  for (let i = 0; i < 10; i++) await defender.ban(`198.51.100.${i}`, 3600);
  for (let i = 0; i < 5000; i++) {
    await defender.score(`10.${i >> 8 & 255}.${i & 255}.1`, "perIpLimit");
  }
  assert(store.size <= 100, `${store.size} entries`);
  assertEquals((await defender.bans()).length, 10);
});

Deno.test("a failing store is logged and lets clients in", async () => {
  const broken: BanStore = {
    addPoints: () => Promise.reject(new Error("database unreachable")),
    get: () => Promise.reject(new Error("database unreachable")),
    put: () => Promise.reject(new Error("database unreachable")),
    delete: () => Promise.resolve(false),
    list: () => Promise.resolve([] as BanRecord[]),
  };
  await withServer(
    { defender: testDefender({ store: broken }) },
    async ({ port, logs }) => {
      assertEquals(codes(await dialogueFrom("127.0.0.2", port, BRUTE_FORCE)).at(-1), "530");
      assertEquals(codes(await dialogueFrom("127.0.0.2", port)), ["220"]);
      assertMatch(logs.join("\n"), /defender: the ban store failed: database unreachable/);
    },
  );
});

Deno.test("defender: false turns it off; the start-up log says what it does", async () => {
  await withServer({ defender: false }, ({ server, logs }) => {
    assertEquals(server.defender, null);
    assert(logs.some((line) => line.endsWith("defender: off")));
    return Promise.resolve();
  });
  await withServer({}, ({ server, logs }) => {
    assert(server.defender instanceof Defender);
    const line = logs.find((line) => line.includes("defender: ban at 20 points in 600 s"));
    assertMatch(line ?? "", /for 600 s doubling up to 86400 s; allow-list: 127\.0\.0\.0\/8, ::1/);
    return Promise.resolve();
  });
});

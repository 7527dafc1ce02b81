import { toLocalAscii, toNetworkAscii } from "../src/data/ascii.ts";
import { AbstractedFS } from "../src/fs/abstracted_fs.ts";
import { FTPError } from "../src/errors.ts";
import { FilesystemError, toFilesystemError } from "../src/fs/errors.ts";
import type { FileStat, FileType } from "../src/fs/filesystem.ts";
import { ftpNorm } from "../src/fs/virtual_path.ts";
import { encodeLines, formatListTime, formatMode, formatTimeVal } from "../src/fs/listing.ts";
import { LineReader, stripTelnet } from "../src/line_reader.ts";
import { fileSink, formatLogTime, Logger } from "../src/log.ts";
import {
  canonicalIp,
  formatHostPort,
  isIPv4,
  isIPv6,
  normalizeIp,
  parseExtendedAddress,
  parseHostPort,
  sameAddress,
} from "../src/net.ts";
import { stripListOptions } from "../src/commands/paths.ts";
import { formatReply } from "../src/session/replies.ts";
import { assert, assertEquals, assertMatch } from "./support/assert.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function convertInChunks(
  convert: (chunk: Uint8Array) => Uint8Array,
  text: string,
  size: number,
): string {
  const bytes = encoder.encode(text);
  let out = "";
  for (let i = 0; i < bytes.length; i += size) {
    out += decoder.decode(convert(bytes.subarray(i, i + size)));
  }
  return out;
}

Deno.test("ASCII conversion is the same however the stream is chunked", () => {
  for (let size = 1; size <= 5; size++) {
    assertEquals(convertInChunks(toNetworkAscii(), "a\nb\r\nc\n\n", size), "a\r\nb\r\nc\r\n\r\n");
    const local = toLocalAscii();
    const out = convertInChunks(local, "a\r\nb\r\r\nc\rd\r", size) + decoder.decode(local.flush());
    assertEquals(out, "a\nb\r\nc\rd\r");
  }
});

/** A reader that returns one of `chunks` per read, as packets arrive. */
function chunkReader(chunks: Uint8Array[]) {
  return {
    read(p: Uint8Array): Promise<number | null> {
      const next = chunks.shift();
      if (!next) return Promise.resolve(null);
      p.set(next);
      return Promise.resolve(next.length);
    },
  };
}

Deno.test("LineReader: split lines, overlong lines, bad UTF-8, end of stream", async () => {
  const chunks = ["US", "ER a\r\nPASS b\nX".padEnd(40, "X"), "\r\n", "\xff"];
  const lines = new LineReader(
    chunkReader(chunks.map((chunk) => Uint8Array.from(chunk, (c) => c.charCodeAt(0)))),
    16,
  );
  assertEquals(await lines.next(), { kind: "line", text: "USER a" });
  assertEquals(await lines.next(), { kind: "line", text: "PASS b" });
  assertEquals(await lines.next(), { kind: "too-long" });
  assertEquals(await lines.next(), null, "an unterminated tail is dropped at the end");
  assertEquals(
    stripTelnet(new Uint8Array([0xff, 0xf4, 0x41, 0xff, 0xff, 0xff, 0xfb, 1, 0x42])),
    new Uint8Array([0x41, 0xff, 0x42]),
  );
});

Deno.test("LineReader: a CR ends a line at once (urgent ABOR), CR NUL is a literal CR", async () => {
  const chunks = ["ABOR\r", "\n", "STAT\r", "NOOP\r\n", "MKD a\r\0b\r\n", "CWD c\rPWD\n"];
  const lines = new LineReader(chunkReader(chunks.map((chunk) => encoder.encode(chunk))));
  const texts = [];
  for (let line = await lines.next(); line; line = await lines.next()) {
    texts.push(line.kind === "line" ? line.text : line.kind);
  }
  assertEquals(texts, ["ABOR", "STAT", "NOOP", "MKD a\rb", "CWD c", "PWD"]);
});

/** The lines a LineReader (at most `maxLength` bytes a line) reads from `text` sent in pieces of `size` bytes. */
async function readLines(text: string, size: number, maxLength = 8): Promise<string[]> {
  const bytes = Uint8Array.from(text, (c) => c.charCodeAt(0));
  const chunks = [];
  for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
  const lines = new LineReader(chunkReader(chunks), maxLength);
  const texts = [];
  for (let line = await lines.next(); line; line = await lines.next()) {
    texts.push(line.kind === "line" ? line.text : `<${line.kind}>`);
  }
  return texts;
}

Deno.test("LineReader: empty lines, line ends at the start, bare CR and LF, CR NUL, lengths at the limit", async () => {
  const cases: [string, string[]][] = [
    ["\nA\n", ["", "A"]],
    ["\r\nA\r\n", ["", "A"]],
    ["\nA\r\n", ["", "A"]],
    ["A\n\nB\n", ["A", "", "B"]],
    ["A\r\n\r\nB\r\n", ["A", "", "B"]],
    ["A\r\n\nB\n", ["A", "", "B"]],
    ["A\rB\n", ["A", "B"]],
    ["12345678\r\n", ["12345678"]],
    ["123456789\r\n", ["<too-long>"]],
    ["123456789012\nA\n", ["<too-long>", "A"]],
  ];
  for (const [text, expected] of cases) {
    // Every way of cutting the bytes into packets gives the same lines.
    for (let size = 1; size <= text.length; size++) {
      assertEquals(await readLines(text, size), expected, `${JSON.stringify(text)} in ${size}s`);
    }
  }
  // CR NUL is a CR in a name, wherever it stands (when the CR does not end a packet).
  assertEquals(await readLines("\r\0x\r\0\r\0y\n", 64), ["\rx\r\ry"]);
  // A CR that ends a packet ends the line; an LF arriving next is not another line.
  const lines = new LineReader(chunkReader([encoder.encode("A\r"), encoder.encode("\n\nB\n")]));
  assertEquals(await lines.next(), { kind: "line", text: "A" });
  assertEquals(await lines.next(), { kind: "line", text: "" });
  assertEquals(await lines.next(), { kind: "line", text: "B" });
});

Deno.test("LineReader: buffered counts the bytes of a line not yet ended", async () => {
  const lines = new LineReader(chunkReader([encoder.encode("NOOP\r\nUS")]));
  assertEquals(lines.buffered, 0);
  assertEquals(await lines.next(), { kind: "line", text: "NOOP" });
  assertEquals(lines.buffered, 2, '"US" waits for its line end');
});

Deno.test("LineReader: an endless line is discarded as it arrives, never held whole", async () => {
  const maxLength = 2048;
  const chunk = new Uint8Array(256).fill(0x41);
  let reads = 0;
  const lines: LineReader = new LineReader({
    read(p: Uint8Array): Promise<number | null> {
      if (lines.buffered > maxLength + chunk.length) {
        return Promise.reject(new Error(`${lines.buffered} bytes held`));
      }
      if (reads++ === 32 * 1024) return Promise.resolve(null); // 8 MiB, no line end
      p.set(chunk);
      return Promise.resolve(chunk.length);
    },
  }, maxLength);
  assertEquals(await lines.next(), null);
});

Deno.test("RFC 3659 times: four-digit year and two-digit fields, in GMT or local time", () => {
  const dates = [
    new Date(Date.UTC(2009, 8, 9, 9, 9, 9)),
    new Date(Date.UTC(2010, 9, 10, 10, 10, 10)),
    new Date(Date.UTC(1970, 0, 1, 0, 0, 0)),
    new Date(Date.UTC(2099, 11, 31, 23, 59, 59)),
  ];
  for (let i = 0; i < 200; i++) dates.push(new Date(Math.floor(Math.random() * 4e12)));
  const digits = (date: Date) => date.toISOString().replace(/\D/g, "").slice(0, 14);
  for (const date of dates) {
    assertEquals(formatTimeVal(date, true), digits(date), date.toISOString());
    const local = new Date(date.getTime() - date.getTimezoneOffset() * 60_000);
    assertEquals(formatTimeVal(date, false), digits(local), `${date.toISOString()} local`);
  }
  assertEquals(formatTimeVal(new Date(Date.UTC(999, 0, 2, 3, 4, 5)), true), "09990102030405");
});

Deno.test("replies: single and multi-line formats", () => {
  assertEquals(formatReply(200, "ok"), "200 ok\r\n");
  assertEquals(formatReply(211, "a\nb\nc"), "211-a\r\n b\r\n211 c\r\n");
});

Deno.test("ls options are dropped from LIST arguments", () => {
  assertEquals(stripListOptions("-la"), "");
  assertEquals(stripListOptions("-la /dir"), "/dir");
  assertEquals(stripListOptions("-a -l dir name"), "dir name");
  assertEquals(stripListOptions("dir"), "dir");
  // Every shape ls takes, as vsftpd reads them: digits, long options, a lone dash.
  assertEquals(stripListOptions("-1"), "");
  assertEquals(stripListOptions("-1 dir"), "dir");
  assertEquals(stripListOptions("-CF1 -t --all --sort=size - dir"), "dir");
  assertEquals(stripListOptions("dir -l"), "dir -l", "only before the path");
});

Deno.test("PORT/PASV address forms and IPv4-mapped addresses", () => {
  assertEquals(parseHostPort("127,0,0,1,4,1"), { ip: "127.0.0.1", port: 1025 });
  assertEquals(parseHostPort(" 10, 0, 0, 2, 0, 80"), { ip: "10.0.0.2", port: 80 });
  assertEquals(parseHostPort("1,2,3,4,5"), null);
  assertEquals(parseHostPort("256,0,0,1,0,80"), null);
  assertEquals(formatHostPort("192.168.0.1", 60001), "192,168,0,1,234,97");
  assertEquals(normalizeIp("::FFFF:127.0.0.1"), "127.0.0.1");
  assertEquals(normalizeIp("::1"), "::1");
  assertEquals(normalizeIp("::ffff:1.2.3"), "::ffff:1.2.3", "not a mapped IPv4 address");
  assertEquals(normalizeIp("fe80::1::ffff:1.2.3.4"), "fe80::1::ffff:1.2.3.4");
  const hostPorts: [string, { ip: string; port: number } | null][] = [
    ["255,255,255,255,255,255", { ip: "255.255.255.255", port: 65535 }],
    ["0,0,0,0,0,1", { ip: "0.0.0.0", port: 1 }],
    ["127,0,0,1,0,0", null],
    ["127,0,0,1,1,256", null],
    ["127,0,0,1,1,1,1", null],
    ["127,0,0,1,1,1x", null],
    ["127,0,0,1,1,x1", null],
    ["127,0,0,1,1,1234", null],
    ["127,0,0,1,-1,1", null],
    ["", null],
  ];
  for (const [arg, expected] of hostPorts) assertEquals(parseHostPort(arg), expected, arg);
});

Deno.test("IP addresses: IPv4 form, canonical IPv6, mapped addresses, sameAddress", () => {
  for (const ip of ["0.0.0.0", "255.255.255.255", "1.22.133.4"]) assert(isIPv4(ip), ip);
  for (
    const ip of [
      "256.1.1.1",
      "1.1.1.256",
      "1.1.1",
      "1.1.1.1.1",
      "a1.1.1.1",
      "1.1.1.1a",
      "1.1.1.1234",
      "::1",
    ]
  ) {
    assert(!isIPv4(ip), ip);
  }
  const canonical: [string, string | null][] = [
    ["::1", "0:0:0:0:0:0:0:1"],
    ["::", "0:0:0:0:0:0:0:0"],
    ["2001:DB8::A", "2001:db8:0:0:0:0:0:a"],
    ["2001:db8:0:0:0:0:0:a", "2001:db8:0:0:0:0:0:a"],
    ["fe80::1%eth0", "fe80:0:0:0:0:0:0:1"],
    ["::ffff:10.1.2.3", "10.1.2.3"],
    ["::ffff:a01:203", "10.1.2.3"],
    ["0:0:0:0:0:ffff:a01:203", "10.1.2.3"],
    ["1::ffff:a01:203", "1:0:0:0:0:ffff:a01:203"],
    ["::fffe:a01:203", "0:0:0:0:0:fffe:a01:203"],
    ["::1.2.3.4", "0:0:0:0:0:0:102:304"],
    ["10.1.2.3", "10.1.2.3"],
    ["1:2:3:4:5:6::7", "1:2:3:4:5:6:0:7"],
    ["1::1.2.3.400", null],
    ["1:2:3:4:5:6:7", null],
    ["1:2:3:4:5:6:7:8:9", null],
    ["1::2::3", null],
    ["1:2:3:4::5:6:7:8", null],
    ["12345::1", null],
    ["g::1", null],
    ["::ffff:1.2.3.400", null],
    ["nonsense", null],
  ];
  for (const [ip, expected] of canonical) assertEquals(canonicalIp(ip), expected, ip);
  assert(isIPv6("::1") && isIPv6("2001:db8::1") && !isIPv6("127.0.0.1"));
  assert(sameAddress("::ffff:127.0.0.1", "127.0.0.1"));
  assert(sameAddress("2001:db8::1", "2001:DB8:0::1"));
  assert(!sameAddress("127.0.0.1", "127.0.0.2"));
  assert(!sameAddress("nonsense", "nonsense"), "what is no address is no one's");
});

Deno.test("EPRT arguments (RFC 2428): any delimiter, both families, ports 1 to 65535", () => {
  const cases: [string, { family: string; ip: string; port: number } | null][] = [
    ["|1|132.235.1.2|6275|", { family: "1", ip: "132.235.1.2", port: 6275 }],
    ["|2|1080::8:800:200C:417A|5282|", { family: "2", ip: "1080::8:800:200C:417A", port: 5282 }],
    ["!1!10.0.0.1!1!", { family: "1", ip: "10.0.0.1", port: 1 }],
    ["~1~10.0.0.1~65535~", { family: "1", ip: "10.0.0.1", port: 65535 }],
    ["|3|anything|21|", { family: "3", ip: "anything", port: 21 }],
    ["|1|10.0.0.1|0|", null],
    ["|1|10.0.0.1|65536|", null],
    ["|1|10.0.0.1|123456|", null],
    ["|1|10.0.0.1|12a|", null],
    ["|1|10.0.0.1|a12|", null],
    ["|1|10.0.0.1|21", null],
    ["1|10.0.0.1|21|", null],
    ["|1|10.0.0.1|21|x", null],
    ["x|1|10.0.0.1|21|", null],
    ["|1|10.0.0.1|21||", null],
    ["|1|::1|21|", null],
    ["|2|10.0.0.1|21|", null],
    ["|2|not:an::address:at:all:x|21|", null],
    [" 1 10.0.0.1 21 ", null],
    ["\x7f1\x7f10.0.0.1\x7f21\x7f", null],
    ["", null],
  ];
  for (const [arg, expected] of cases) assertEquals(parseExtendedAddress(arg), expected, arg);
});

Deno.test("ftpNorm, and AbstractedFS's virtual-to-real mapping, clamp .. at the root", () => {
  assertEquals(ftpNorm("/a/b", "c"), "/a/b/c");
  assertEquals(ftpNorm("/a/b", "../../../.."), "/");
  assertEquals(ftpNorm("/a/b", "/x/./y/"), "/x/y");
  assertEquals(ftpNorm("/", ""), "/");
  const fs = new AbstractedFS("/srv/ftp");
  assertEquals(fs.ftp2fs("../../etc"), "/srv/ftp/etc");
  assertEquals(fs.ftp2fs("/"), "/srv/ftp");
  assertEquals(fs.fs2ftp("/srv/ftp/a"), "/a");
  assertEquals(fs.fs2ftp("/srv/ftp"), "/", "the root itself");
  assertEquals(fs.fs2ftp("/srv/ftpx/a"), "/", "a sibling with the same prefix is outside");
  assertEquals(fs.fs2ftp("/etc"), "/");
});

/** A stat of `type` with the permission bits `mode`. */
function stat(type: FileType, mode: number): FileStat {
  return { type, mode, size: 0, mtime: null, atime: null, nlink: 1, uid: 0, gid: 0, unique: null };
}

Deno.test("listing columns: mode string and dates", () => {
  assertEquals(formatMode(stat("file", 0o644)), "-rw-r--r--");
  assertEquals(formatMode(stat("file", 0o4755)), "-rwsr-xr-x");
  assertEquals(formatMode(stat("dir", 0o1777)), "drwxrwxrwt");
  assertEquals(formatMode(stat("file", 0o2644)), "-rw-r-Sr--");
  const now = new Date(Date.UTC(2026, 10, 25, 12, 0));
  assertEquals(formatListTime(new Date(Date.UTC(2026, 10, 5, 9, 7)), now, true), "Nov 05 09:07");
  assertEquals(formatListTime(new Date(Date.UTC(2025, 0, 2, 9, 7)), now, true), "Jan 02  2025");
  // Local time: the clock of the zone the suite runs in (deno task test sets one off UTC).
  const mtime = new Date(Date.UTC(2026, 10, 5, 23, 50));
  const local = new Date(mtime.getTime() - mtime.getTimezoneOffset() * 60_000).toISOString();
  const [day, clock] = [local.slice(8, 10), local.slice(11, 16)];
  assertEquals(formatListTime(mtime, now, false), `Nov ${day} ${clock}`);
});

Deno.test("the suite runs off UTC, so a GMT/local mix-up shows (deno task test sets TZ)", () => {
  assert(
    new Date(Date.UTC(2026, 0, 1)).getTimezoneOffset() !== 0,
    "run the tests with `deno task test`: it sets TZ to a zone off UTC",
  );
});

Deno.test("BufferPool: large buffers while few transfers run, smaller ones as more do, one slab", async () => {
  const { BufferPool, MIN_BUFFER_SIZE } = await import("../src/data/buffer_pool.ts");
  const MiB = 1024 * 1024;
  const pool = new BufferPool(MiB, 4 * MiB);
  const first = pool.acquire();
  assertEquals(first.length, MiB);
  pool.release(first);
  const again = pool.acquire();
  assert(again.buffer === first.buffer && again.byteOffset === first.byteOffset, "reused in place");

  const slots = 4 * MiB / MIN_BUFFER_SIZE;
  const started = Array.from({ length: slots - 1 }, () => pool.acquire());
  assert(started[10].length < MiB, "shrinks as more are in use");
  assertEquals(started.at(-1)!.length, MIN_BUFFER_SIZE, "never below the minimum");
  assert(!started.every((buffer) => pool.fromSlab(buffer)), "the first ones took the slab");
  const running = [again, ...started].map((buffer) => pool.fit(buffer));
  assert(
    running.every((buffer) => buffer.length === MIN_BUFFER_SIZE && pool.fromSlab(buffer)),
    "once fitted, as many transfers as the slab has slots of the smallest size share it",
  );
  const extra = pool.acquire();
  assert(!pool.fromSlab(extra), "past the slab, a buffer of its own");
  const regions = running.map((buffer) => [buffer.byteOffset, buffer.length]);
  regions.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < regions.length; i++) {
    assert(regions[i - 1][0] + regions[i - 1][1] <= regions[i][0], "no two buffers overlap");
  }

  for (const buffer of [extra, ...running]) pool.release(buffer);
  assertEquals(pool.inUse, 0);
  const whole = Array.from({ length: 4 }, () => pool.acquire());
  assert(
    whole.every((buffer) => buffer.length === MiB && pool.fromSlab(buffer)),
    "freed blocks merge back into the largest size",
  );
  const grown = pool.fit(pool.fit(whole[0]));
  assertEquals(grown, whole[0]);
  for (const buffer of whole.slice(1)) pool.release(buffer);
  const alone = pool.acquire();
  pool.release(whole[0]);
  assertEquals(pool.fit(alone).length, MiB, "a buffer grows back when transfers end");
  pool.release(alone);
});

Deno.test("BufferPool: sizes bounded by largest and budget, the fair size floored, growing back", async () => {
  const { BufferPool, MIN_BUFFER_SIZE } = await import("../src/data/buffer_pool.ts");
  const KiB = 1024;
  const MiB = 1024 * KiB;
  assertEquals(new BufferPool(256 * KiB, 4 * MiB).acquire().length, 256 * KiB, "at most largest");
  assertEquals(new BufferPool(4 * MiB, MiB).acquire().length, MiB, "at most the budget");
  assertEquals(new BufferPool(MiB, MiB).acquire().length, MiB, "largest and budget alike");
  assertEquals(new BufferPool(300 * KiB, 4 * MiB).acquire().length, 256 * KiB, "a power of two");
  const fresh = new BufferPool(MiB, 4 * MiB);
  assert(!fresh.fromSlab(new Uint8Array(8)), "no slab yet: nothing is from it");

  const pool = new BufferPool(MiB, 4 * MiB);
  const slots = 4 * MiB / MIN_BUFFER_SIZE;
  const many = Array.from({ length: slots + 2 }, () => pool.acquire());
  assertEquals(pool.fairSize, MIN_BUFFER_SIZE, "never below the minimum, however many run");
  const alone = many.at(-1)!;
  assert(!pool.fromSlab(alone), "past the slab, a buffer of its own");
  assertEquals(pool.fit(alone), alone, "kept while the slab has no room");
  for (const buffer of many.slice(6, -1)) pool.release(buffer);
  const grown = pool.fit(many[0]);
  assertEquals(grown.length, MiB / 2, "seven running: 512 KiB each fit the 4 MiB slab");
  assert(pool.fromSlab(grown));
  const moved = pool.fit(alone);
  assertEquals([moved.length, pool.fromSlab(moved)], [MiB / 2, true], "into the slab, grown");
  for (const buffer of [...many.slice(1, 6), moved]) pool.release(buffer);
  assertEquals(pool.fit(grown).length, MiB, "alone again: the largest");
});

Deno.test("BufferPool: a share without a buffer counts in the fair size until disposed, once", async () => {
  const { BufferPool } = await import("../src/data/buffer_pool.ts");
  const KiB = 1024;
  const MiB = 1024 * KiB;
  const pool = new BufferPool(MiB, 4 * MiB);
  const shares = Array.from({ length: 8 }, () => pool.share());
  assertEquals([pool.inUse, pool.fairSize], [8, 512 * KiB], "eight shares of a 4 MiB slab");
  const buffer = pool.acquire();
  assertEquals(buffer.length, 256 * KiB, "a buffer's size counts the shares too");
  for (const share of shares) share[Symbol.dispose]();
  shares[0][Symbol.dispose]();
  assertEquals(pool.inUse, 1, "disposing twice leaves once");
  assertEquals(pool.fit(buffer).length, MiB, "the buffer grows back once the shares are gone");
});

Deno.test("BufferPool: a random workload never hands out overlapping blocks, and all merge back", async () => {
  const { BufferPool, MIN_BUFFER_SIZE } = await import("../src/data/buffer_pool.ts");
  const MiB = 1024 * 1024;
  const pool = new BufferPool(MiB, 4 * MiB);
  let seed = 42;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  let running: Uint8Array[] = [];
  for (let step = 0; step < 3000; step++) {
    const action = random();
    if (action < 0.4 && running.length < 80) running.push(pool.acquire());
    else if (action < 0.7 && running.length > 0) {
      const [gone] = running.splice(Math.floor(random() * running.length), 1);
      pool.release(gone);
    } else running = running.map((buffer) => pool.fit(buffer));
    const blocks = running.filter((buffer) => pool.fromSlab(buffer))
      .map((buffer) => [buffer.byteOffset, buffer.byteOffset + buffer.length])
      .sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < blocks.length; i++) {
      assert(blocks[i - 1][1] <= blocks[i][0], `step ${step}: two buffers overlap`);
    }
    assert(running.every((buffer) => buffer.length >= MIN_BUFFER_SIZE), `step ${step}`);
  }
  for (const buffer of running) pool.release(buffer);
  assertEquals(pool.inUse, 0);
  const whole = Array.from({ length: 4 }, () => pool.acquire());
  assert(whole.every((buffer) => buffer.length === MiB && pool.fromSlab(buffer)), "merged back");
});

Deno.test("listing: a type letter for every kind of file, every month, 64 KiB chunks", async () => {
  const kinds: [FileType, string][] = [
    ["file", "-"],
    ["dir", "d"],
    ["symlink", "l"],
    ["char-device", "c"],
    ["block-device", "b"],
    ["fifo", "p"],
    ["socket", "s"],
  ];
  for (const [type, letter] of kinds) {
    assertEquals(formatMode(stat(type, 0o640)), `${letter}rw-r-----`);
  }
  const months = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(" ");
  for (const [month, name] of months.entries()) {
    const mtime = new Date(Date.UTC(2020, month, 15, 12));
    assertEquals(formatListTime(mtime, new Date(Date.UTC(2026, 0, 1)), true), `${name} 15  2020`);
  }
  const now = new Date(Date.UTC(2026, 6, 1));
  const edge = new Date(now.getTime() - 180 * 24 * 3600 * 1000);
  assertEquals(formatListTime(edge, now, true), "Jan 02  2026", "six months ago is not recent");
  async function* lines() {
    for (let i = 0; i < 2000; i++) yield "x".repeat(98);
  }
  const chunks: Uint8Array[] = [];
  for await (const chunk of encodeLines(lines())) chunks.push(chunk);
  assertEquals(chunks.map((chunk) => chunk.length), [65600, 65600, 65600, 3200]);
  assertEquals(await Array.fromAsync(encodeLines((async function* () {})())), []);
  // 1,024 lines of 62 characters and CRLF fill a chunk exactly.
  async function* exact() {
    for (let i = 0; i < 1025; i++) yield "y".repeat(62);
  }
  const exactChunks = await Array.fromAsync(encodeLines(exact()));
  assertEquals(exactChunks.map((chunk) => chunk.length), [65536, 64]);
});

Deno.test("filesystem errors: one sentence per errno, never a path", () => {
  const texts: [string, string][] = [
    ["ENOENT", "No such file or directory."],
    ["EACCES", "Permission denied."],
    ["EPERM", "Operation not permitted."],
    ["EEXIST", "File exists."],
    ["EISDIR", "Is a directory."],
    ["ENOTDIR", "Not a directory."],
    ["ENOTEMPTY", "Directory not empty."],
    ["ENOSPC", "No space left on device."],
    ["EDQUOT", "Disk quota exceeded."],
    ["EFBIG", "File too large."],
    ["ENAMETOOLONG", "File name too long."],
    ["ELOOP", "Too many levels of symbolic links."],
    ["EROFS", "Read-only file system."],
    ["EXDEV", "Invalid cross-device link."],
    ["EBUSY", "Device or resource busy."],
    ["EINVAL", "Invalid argument."],
    ["ENXIO", "Operation failed."],
  ];
  for (const [code, text] of texts) {
    const error = Object.assign(new Error(`${code}: /srv/secret/path`), { code });
    const refusal = toFilesystemError(error);
    assert(refusal instanceof FilesystemError, code);
    assertEquals(refusal.message, text, code);
    assertEquals(refusal.code, ["ENOSPC", "EDQUOT", "EFBIG"].includes(code) ? 452 : 550, code);
    assertEquals(refusal.cause, error);
  }
  const refusal = new FTPError(553, "Refused.");
  assertEquals(toFilesystemError(refusal), refusal, "a refusal already is one");
  const errnoRefusal = Object.assign(new FilesystemError("Mine."), { code: "ENOENT" });
  assertEquals(toFilesystemError(errnoRefusal), errnoRefusal, "even with an errno name");
  for (const bug of [new Error("a bug"), null, { code: 42 }]) {
    assertEquals(toFilesystemError(bug), bug, "a bug (an errno name is a string)");
  }
});

Deno.test("stderrSink writes each line and its newline to stderr", async () => {
  const logModule = new URL("../src/log.ts", import.meta.url).href;
  const { stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `import { stderrSink } from "${logModule}"; stderrSink("one"); stderrSink("two");`,
    ],
    stderr: "piped",
  }).output();
  assertEquals(decoder.decode(stderr), "one\ntwo\n");
});

Deno.test("Logger: the level letter, the local time, and lines below the level dropped", async () => {
  const lines: string[] = [];
  const logger = new Logger({ level: "debug", sink: (line) => lines.push(line) });
  logger.debug("d");
  logger.info("i");
  logger.warning("w");
  logger.error("e");
  assertEquals(lines.map((line) => line.slice(0, 2) + line.slice(22)), [
    "[D] d",
    "[I] i",
    "[W] w",
    "[E] e",
  ]);
  assertMatch(lines[0], /^\[D \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] d$/);
  assertEquals(formatLogTime(new Date(2026, 0, 9, 5, 7, 3)), "2026-01-09 05:07:03");
  assertEquals(formatLogTime(new Date(2026, 9, 10, 10, 10, 10)), "2026-10-10 10:10:10");
  const quiet = new Logger({ level: "warning", sink: (line) => lines.push(line) });
  lines.length = 0;
  quiet.log("debug", "dropped");
  quiet.log("info", "dropped");
  quiet.log("warning", "kept");
  assertEquals(lines.length, 1);
  assert(!quiet.enabled("info") && quiet.enabled("error"));
  const dir = await Deno.makeTempDir({ prefix: "tsftpd-sink-" });
  try {
    const sink = fileSink(`${dir}/log`);
    sink("one");
    sink("two");
    sink.close();
    assertEquals(await Deno.readTextFile(`${dir}/log`), "one\ntwo\n");
    let closed = false;
    try {
      sink("three");
    } catch {
      closed = true;
    }
    assert(closed, "a closed sink writes nothing");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("account files: ids by name, the first name of an id, odd lines skipped", async () => {
  const { readIds } = await import("../src/fs/names.ts");
  const path = await Deno.makeTempFile();
  try {
    await Deno.writeTextFile(
      path,
      "root:x:0:0::/root:/bin/sh\ntoor:x:0:0::/root:/bin/sh\nbad:x:12a:0\nodd:x:x12:0\n:x:5:0\nnoid\nalice:x:1000:1000\n",
    );
    assertEquals([...await readIds(path)], [[0, "root"], [1000, "alice"]]);
    assertEquals([...await readIds(`${path}.missing`)], [], "unreadable: no names");
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("SharedRate: debits add up across movers, idle time is not saved up, 0 is refused", async () => {
  const { SharedRate } = await import("../src/data/shared_rate.ts");
  const rate = new SharedRate(1000);
  const first = rate.debit(100);
  const second = rate.debit(100);
  assert(first > 90 && first <= 100, `100 bytes at 1000/s: ${first} ms`);
  assert(second > first + 90, `the second mover waits behind the first: ${second} ms`);
  await new Promise((resolve) => setTimeout(resolve, 300));
  const later = rate.debit(100);
  assert(later > 90 && later <= 100, `after a pause, no burst and no debt: ${later} ms`);
  let refused: unknown;
  try {
    new SharedRate(0);
  } catch (error) {
    refused = error;
  }
  assert(refused instanceof RangeError, "a rate of 0 is refused");
});

import {
  AbstractedFS,
  type FileSystem,
  FilesystemError,
  type FileWriter,
  MemoryFS,
} from "../mod.ts";
import { assert, assertEquals, assertMatch } from "./support/assert.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Writes all of `text` through `file` and closes it. */
async function writeAndClose(file: FileWriter, text: string): Promise<void> {
  const bytes = encoder.encode(text);
  let offset = 0;
  while (offset < bytes.length) offset += await file.write(bytes.subarray(offset));
  file.close();
}

/** The whole content of `path`, from `offset`. */
async function readText(fs: FileSystem, path: string, offset = 0): Promise<string> {
  const file = await fs.openRead(path, offset);
  const chunks: Uint8Array[] = [];
  const buffer = new Uint8Array(3);
  for (let n; (n = await file.read(buffer)) !== null;) chunks.push(buffer.slice(0, n));
  file.close();
  return decoder.decode(new Uint8Array(chunks.flatMap((chunk) => [...chunk])));
}

/** Writes one byte into `path`, closing the file whatever happens. */
async function writeByte(fs: FileSystem, path: string): Promise<void> {
  const file = await fs.openWrite(path, { truncate: true });
  try {
    await file.write(new Uint8Array(1));
  } finally {
    file.close();
  }
}

/** The message of the refusal `operation` throws. */
async function refusal(operation: Promise<unknown>): Promise<string> {
  try {
    await operation;
  } catch (error) {
    assert(error instanceof FilesystemError, `a FilesystemError, not ${error}`);
    return `${error.code} ${error.message}`;
  }
  throw new Error("not refused");
}

/** Each implementation, with a fresh empty home, and what removes it. */
const implementations: [string, () => Promise<[FileSystem, () => Promise<void>]>][] = [
  ["AbstractedFS", async () => {
    const root = await Deno.makeTempDir({ prefix: "tsftpd-fs-" });
    return [new AbstractedFS(root), () => Deno.remove(root, { recursive: true })];
  }],
  ["AbstractedFS with paths checked", async () => {
    const root = await Deno.makeTempDir({ prefix: "tsftpd-fs-" });
    const fs = new AbstractedFS(root, undefined, { kernelJail: false });
    return [fs, () => Deno.remove(root, { recursive: true })];
  }],
  ["MemoryFS", () => Promise.resolve([new MemoryFS().view("/home/user"), () => Promise.resolve()])],
];

for (const [name, make] of implementations) {
  Deno.test(`${name}: a rename told not to replace refuses an existing target and leaves both`, async () => {
    const [fs, cleanup] = await make();
    try {
      await writeAndClose(await fs.openWrite("/mine", { truncate: true }), "mine");
      await writeAndClose(await fs.openWrite("/theirs", { truncate: true }), "theirs");
      assertEquals(
        await refusal(fs.rename("/mine", "/theirs", { replace: false })),
        "550 File exists.",
      );
      assertEquals(await readText(fs, "/mine"), "mine");
      assertEquals(await readText(fs, "/theirs"), "theirs");
      await fs.rename("/mine", "/new", { replace: false });
      assertEquals(await readText(fs, "/new"), "mine");
      assertEquals(await refusal(fs.stat("/mine")), "550 No such file or directory.");
    } finally {
      await cleanup();
    }
  });

  Deno.test(`${name}: files written, read from an offset, truncated, appended, resumed`, async () => {
    const [fs, cleanup] = await make();
    try {
      await writeAndClose(await fs.openWrite("/f", { truncate: true }), "hello world");
      assertEquals(await readText(fs, "/f"), "hello world");
      assertEquals(await readText(fs, "/f", 6), "world");
      assertEquals(await readText(fs, "/f", 11), "");
      await writeAndClose(await fs.openWrite("/f", { truncate: true }), "abc");
      assertEquals(await readText(fs, "/f"), "abc", "no tail of the old content");
      await writeAndClose(await fs.openWrite("/f", { append: true }), "def");
      assertEquals(await readText(fs, "/f"), "abcdef");
      await writeAndClose(await fs.openWrite("/f", { offset: 2 }), "XY");
      assertEquals(await readText(fs, "/f"), "abXY", "kept the first bytes, dropped the rest");
      await writeAndClose(await fs.openWrite("/new", { append: true }), "fresh");
      assertEquals(await readText(fs, "/new"), "fresh", "append creates");
      const stat = await fs.stat("/f");
      assertEquals([stat.type, stat.size, stat.nlink], ["file", 4, 1]);
      assert(stat.mtime instanceof Date && stat.unique !== null);
      assert(stat.unique !== (await fs.stat("/new")).unique, "unique differs between files");
      assertEquals(
        await refusal(fs.openWrite("/none", { offset: 1 })),
        "550 No such file or directory.",
      );
      assertEquals(await refusal(fs.openRead("/none", 0)), "550 No such file or directory.");
    } finally {
      await cleanup();
    }
  });

  Deno.test(`${name}: directories made, listed, renamed and removed; refusals as FilesystemError`, async () => {
    const [fs, cleanup] = await make();
    try {
      assertEquals((await fs.stat("/")).type, "dir");
      await fs.mkdir("/d");
      await fs.mkdir("/d/sub");
      await writeAndClose(await fs.openWrite("/d/f.txt", { truncate: true }), "12345");
      const entries = await Array.fromAsync(fs.list("/d"));
      assertEquals(
        entries.map((entry) => [entry.name, entry.stat?.type]).sort(),
        [["f.txt", "file"], ["sub", "dir"]],
      );
      assertEquals(await refusal(fs.mkdir("/d")), "550 File exists.");
      assertEquals(await refusal(fs.mkdir("/none/x")), "550 No such file or directory.");
      assertEquals(await refusal(fs.rmdir("/d")), "550 Directory not empty.");
      assertEquals(await refusal(fs.rmdir("/d/f.txt")), "550 Not a directory.");
      assertEquals(await refusal(fs.remove("/d/sub")), "550 Is a directory.");
      assertEquals(await refusal(fs.openRead("/d", 0)), "550 Is a directory.");
      assertEquals(await refusal(fs.openWrite("/d", { truncate: true })), "550 Is a directory.");
      assertEquals(await refusal(fs.stat("/d/f.txt/x")), "550 Not a directory.");

      await fs.rename("/d/f.txt", "/d/sub/g.txt");
      assertEquals(await readText(fs, "/d/sub/g.txt"), "12345");
      assertEquals(await refusal(fs.stat("/d/f.txt")), "550 No such file or directory.");
      await writeAndClose(await fs.openWrite("/other", { truncate: true }), "other");
      await fs.rename("/other", "/d/sub/g.txt");
      assertEquals(await readText(fs, "/d/sub/g.txt"), "other", "a file is replaced");
      assertEquals(await refusal(fs.rename("/d", "/d/sub/inner")), "550 Invalid argument.");
      await fs.rename("/d", "/e");
      assertEquals((await fs.stat("/e/sub")).type, "dir", "a directory moves whole");

      await fs.remove("/e/sub/g.txt");
      await fs.rmdir("/e/sub");
      assertEquals(await Array.fromAsync(fs.list("/e")), []);
      assertEquals(await refusal(fs.remove("/e/sub/g.txt")), "550 No such file or directory.");
    } finally {
      await cleanup();
    }
  });

  Deno.test(`${name}: mode bits, times, and unique names for STOU`, async () => {
    const [fs, cleanup] = await make();
    try {
      await writeAndClose(await fs.openWrite("/f", { truncate: true }), "x");
      await fs.chmod("/f", 0o4750);
      assertEquals((await fs.stat("/f")).mode, 0o4750);
      const mtime = new Date(Date.UTC(2020, 0, 2, 3, 4, 5));
      await fs.utime("/f", mtime, mtime);
      assertEquals((await fs.stat("/f")).mtime?.toISOString(), mtime.toISOString());
      const made = await Promise.all([1, 2, 3].map(() => fs.mkstemp("/", "up.")));
      for (const { file } of made) await writeAndClose(file, "u");
      const paths = made.map(({ path }) => path);
      assertEquals(new Set(paths).size, 3, "three different names");
      for (const path of paths) {
        assertMatch(path, /^\/up\.[^/]+$/);
        assertEquals(await readText(fs, path), "u");
      }
    } finally {
      await cleanup();
    }
  });
}

Deno.test("MemoryFS: views share one tree; a home need not exist anywhere first", async () => {
  const storage = new MemoryFS();
  const alice = storage.view("/home/alice");
  await writeAndClose(await alice.openWrite("/f", { truncate: true }), "from alice");
  assertEquals(await readText(storage, "/home/alice/f"), "from alice");
  assertEquals(await readText(storage.view("/home").view("alice"), "/f"), "from alice");
  assertEquals(await refusal(alice.stat("/../../etc/passwd")), "550 No such file or directory.");
  assertEquals(
    await refusal(alice.rmdir("/")),
    "550 Operation not permitted on the root directory.",
  );
});

Deno.test("MemoryFS: past its capacity a write fails with 452, and space comes back", async () => {
  const fs = new MemoryFS({ capacity: 10 });
  const file = await fs.openWrite("/a", { truncate: true });
  assertEquals(await file.write(encoder.encode("12345678")), 8);
  assertEquals(await refusal(file.write(encoder.encode("abc"))), "452 No space left on device.");
  file.close();
  await fs.remove("/a");
  await writeAndClose(await fs.openWrite("/b", { truncate: true }), "0123456789");
  await writeAndClose(await fs.openWrite("/b", { truncate: true }), "9876543210");
  assertEquals(await readText(fs, "/b"), "9876543210", "truncating gives the space back");
});

for (const kernelJail of [true, false]) {
  const jail = kernelJail ? "the kernel's jail" : "paths checked";
  Deno.test(`AbstractedFS (${jail}): symlinks followed inside the jail, refused when they leave it or loop`, async () => {
    const root = await Deno.realPath(await Deno.makeTempDir({ prefix: "tsftpd-fs-" }));
    try {
      await Deno.writeTextFile(`${root}/f`, "12345");
      await Deno.symlink("f", `${root}/link`);
      await Deno.symlink("/etc", `${root}/outside`);
      await Deno.symlink("/etc/passwd-not-there", `${root}/dangling-outside`);
      await Deno.symlink("loop-b", `${root}/loop-a`);
      await Deno.symlink("loop-a", `${root}/loop-b`);
      await Deno.mkdir(`${root}/in`);
      await Deno.symlink(`${root}/in`, `${root}/absolute-inside`);
      await Deno.symlink(`${root}/absolute-inside/../f`, `${root}/absolute-up`);
      const fs = new AbstractedFS(root, undefined, { kernelJail });
      assertEquals(
        fs.kernelJail,
        kernelJail && Deno.build.os === "linux",
        "the kernel's jail where it exists",
      );
      await writeAndClose(await fs.openWrite("/absolute-inside/new", { truncate: true }), "abc");
      assertEquals(
        await readText(fs, "/in/new"),
        "abc",
        "an absolute link inside the home is followed",
      );
      assertEquals(
        await readText(fs, "/absolute-up"),
        "12345",
        "and so is one that climbs back inside",
      );
      assertEquals((await fs.stat("/link")).type, "file");
      assertEquals((await fs.lstat("/link")).type, "symlink");
      assertEquals(await fs.readlink("/link"), "f");
      assertEquals(await readText(fs, "/link"), "12345");
      const outside = '550 "/outside/passwd" points to a path outside the home directory.';
      assertEquals(await refusal(fs.stat("/outside/passwd")), outside);
      assertEquals(
        await refusal(fs.openWrite("/dangling-outside", { truncate: true })),
        '550 "/dangling-outside" points to a path outside the home directory.',
        "a dangling link is followed by hand: writing would create its target",
      );
      // A dangling link's target is relative to where the link really is, not to the path
      // it was reached by: x/y/up is the home itself, so up/escape points above the home.
      await Deno.mkdir(`${root}/x/y`, { recursive: true });
      await Deno.symlink("../..", `${root}/x/y/up`);
      const escaped = `${root}-escaped`;
      await Deno.symlink(`../${escaped.split("/").pop()}`, `${root}/escape`);
      assertEquals(
        await refusal(fs.openWrite("/x/y/up/escape", { truncate: true })),
        '550 "/x/y/up/escape" points to a path outside the home directory.',
      );
      assertEquals(await Deno.lstat(escaped).catch(() => null), null, "nothing created outside");
      assertEquals(await refusal(fs.mkstemp("/", "a/../../b")), "501 Invalid argument.");
      assertEquals(await fs.validPath(`${root}/loop-a`), false, "a symlink loop leads nowhere");
      assertEquals(
        await refusal(fs.stat("/loop-a")),
        "550 Too many levels of symbolic links.",
        "a loop is said to be one, not a path outside the home",
      );
      assertEquals(
        await fs.validPath(`${root}/none/deeper`),
        true,
        "judged by its deepest ancestor",
      );
      const listed = await Array.fromAsync(fs.list("/"));
      const link = listed.find((entry) => entry.name === "outside");
      assertEquals(
        [link?.stat?.type, link?.linkTarget],
        ["symlink", "/etc"],
        "listed, not followed",
      );
      const file = listed.find((entry) => entry.name === "f");
      assertEquals(Object.keys(file ?? {}).sort(), ["name", "stat"], "only a symlink has a target");
      await new Deno.Command("mkfifo", { args: [`${root}/fifo`] }).output();
      assertEquals(
        await refusal(fs.openRead("/fifo", 0)),
        "550 Not a regular file.",
        "never opened",
      );
      assertEquals(
        await refusal(fs.openWrite("/fifo", { append: true })),
        "550 Not a regular file.",
      );
    } finally {
      await Deno.remove(`${root}-escaped`).catch(() => {});
      await Deno.remove(root, { recursive: true });
    }
  });
}

Deno.test("MemoryFS: rename follows POSIX: files replace files, directories empty directories, never across kinds", async () => {
  const fs = new MemoryFS({ capacity: 100 });
  await fs.mkdir("/a");
  await fs.mkdir("/b");
  await fs.mkdir("/full");
  await writeAndClose(await fs.openWrite("/full/x", { truncate: true }), "x");
  await writeAndClose(await fs.openWrite("/f", { truncate: true }), "12345");
  await writeAndClose(await fs.openWrite("/g", { truncate: true }), "1234567890");
  assertEquals(await refusal(fs.rename("/f", "/a")), "550 Is a directory.");
  assertEquals(await refusal(fs.rename("/a", "/f")), "550 Not a directory.");
  assertEquals(await refusal(fs.rename("/a", "/full")), "550 Directory not empty.");
  assertEquals(await refusal(fs.rename("/none", "/x")), "550 No such file or directory.");
  assertEquals(await refusal(fs.rename("/f", "/none/x")), "550 No such file or directory.");
  await fs.rename("/a", "/b");
  assertEquals(await refusal(fs.stat("/a")), "550 No such file or directory.");
  await fs.rename("/f", "/f");
  assertEquals(await readText(fs, "/f"), "12345", "onto itself: nothing changes");
  await fs.rename("/g", "/f");
  assertEquals(await readText(fs, "/f"), "1234567890");
  // 10 + 1 bytes are held; the replaced file's 5 were given back.
  await writeAndClose(await fs.openWrite("/h", { truncate: true }), "x".repeat(89));
  assertEquals(
    await refusal(
      fs.openWrite("/i", { truncate: true }).then((file) => file.write(new Uint8Array(1))),
    ),
    "452 No space left on device.",
  );
});

Deno.test("MemoryFS: stats, times, and what a directory's parent sees", async () => {
  const fs = new MemoryFS();
  const root = await fs.stat("/");
  assertEquals([root.type, root.size, root.nlink, root.mode, root.uid, root.gid], [
    "dir",
    0,
    2,
    0o755,
    null,
    null,
  ]);
  const before = (await fs.stat("/")).mtime!.getTime();
  await new Promise((resolve) => setTimeout(resolve, 5));
  await fs.mkdir("/d");
  assert((await fs.stat("/")).mtime!.getTime() > before, "a new entry changes its directory");
  assertEquals((await fs.stat("/")).nlink, 3, "a subdirectory links its parent");
  await writeAndClose(await fs.openWrite("/d/f", { truncate: true }), "abc");
  const file = await fs.stat("/d/f");
  assertEquals([file.type, file.size, file.nlink, file.mode], ["file", 3, 1, 0o644]);
  assertMatch(file.unique!, /^m[0-9a-f]+$/);
  await fs.chmod("/d/f", 0o104755);
  assertEquals((await fs.stat("/d/f")).mode, 0o4755, "only permission bits are kept");
  const atime = new Date(Date.UTC(2001, 0, 1));
  await fs.utime("/d/f", atime, atime);
  await readText(fs, "/d/f");
  assert((await fs.stat("/d/f")).atime!.getTime() > atime.getTime(), "reading sets atime");
  assertEquals((await fs.stat("/d/f")).mtime!.toISOString(), atime.toISOString());
  assertEquals(await refusal(Array.fromAsync(fs.list("/d/f"))), "550 Not a directory.");
  assertEquals(await refusal(fs.mkstemp("/d/f", "x")), "550 Not a directory.");
  assertEquals(await refusal(fs.mkdir("/")), "550 Operation not permitted on the root directory.");
  assertEquals(await refusal(fs.mkdir("/" + "é".repeat(128))), "550 File name too long.");
  await fs.mkdir("/" + "é".repeat(127));
  let refused = "";
  try {
    fs.view("/d/f");
  } catch (error) {
    refused = (error as Error).message;
  }
  assertEquals(refused, "Not a directory: /d/f");
});

Deno.test("MemoryFS: readers see a file grow; a gap left by a truncation reads as zeros", async () => {
  const fs = new MemoryFS();
  await writeAndClose(await fs.openWrite("/f", { truncate: true }), "ab");
  const reader = await fs.openRead("/f", 0);
  const writer = await fs.openWrite("/f", { append: true });
  await writer.write(encoder.encode("c".repeat(5000)));
  const buffer = new Uint8Array(8192);
  assertEquals(await reader.read(buffer), 5002, "what was appended after it opened");
  reader.close();
  writer.close();
  await writeAndClose(await fs.openWrite("/f", { offset: 1 }), "Z");
  assertEquals(await readText(fs, "/f"), "aZ");
  // A writer still open past the end of a file another truncated: zeros, never old bytes.
  const late = await fs.openWrite("/g", { truncate: true });
  await late.write(encoder.encode("0123456789"));
  (await fs.openWrite("/g", { truncate: true })).close();
  await late.write(encoder.encode("x"));
  late.close();
  assertEquals(await readText(fs, "/g"), "\0".repeat(10) + "x");
});

Deno.test("AbstractedFS: each kind of file its type, the disk's ids, and a home reached through a symlink", async () => {
  const root = await Deno.realPath(await Deno.makeTempDir({ prefix: "tsftpd-fs-" }));
  try {
    await Deno.writeTextFile(`${root}/f`, "x");
    await Deno.chmod(`${root}/f`, 0o4750);
    await new Deno.Command("mkfifo", { args: [`${root}/fifo`] }).output();
    using _socket = Deno.listen({ transport: "unix", path: `${root}/socket` });
    await Deno.symlink(root, `${root}.link`);
    const fs = new AbstractedFS(`${root}.link`);
    const info = await Deno.stat(`${root}/f`);
    const stat = await fs.stat("/f");
    assertEquals(stat, {
      type: "file",
      size: 1,
      mtime: info.mtime,
      atime: info.atime,
      mode: 0o4750,
      nlink: 1,
      uid: info.uid,
      gid: info.gid,
      unique: `${info.dev.toString(16)}g${info.ino!.toString(16)}`,
    });
    assertEquals((await fs.stat("/")).type, "dir");
    assertEquals((await fs.stat("/fifo")).type, "fifo");
    assertEquals((await fs.stat("/socket")).type, "socket");
    assertEquals((await new AbstractedFS("/dev").stat("/null")).type, "char-device");
    const block = (await Array.fromAsync(Deno.readDir("/dev")))
      .find((entry) => !entry.isSymlink && Deno.statSync(`/dev/${entry.name}`).isBlockDevice);
    if (block) {
      assertEquals((await new AbstractedFS("/dev").stat(`/${block.name}`)).type, "block-device");
    }
    await Deno.link(`${root}/f`, `${root}/hard`);
    assertEquals((await fs.stat("/f")).nlink, 2, "the disk's link count");
    assertEquals(
      await refusal(new AbstractedFS(`${root}/missing`).stat("/")),
      "550 No such file or directory.",
      "a home that is not there",
    );
    // Every file opened is closed again: no descriptor is left behind.
    // Counted by path: other test files run in this process and open their own.
    const openHere = () =>
      [...Deno.readDirSync("/proc/self/fd")].filter(({ name }) => {
        try {
          const target = Deno.readLinkSync(`/proc/self/fd/${name}`);
          return target === root || target.startsWith(`${root}/`);
        } catch {
          return false;
        }
      }).length;
    for (let i = 0; i < 20; i++) (await fs.openRead("/f", 0)).close();
    for (let i = 0; i < 20; i++) (await fs.openWrite("/w", { append: true })).close();
    for (let i = 0; i < 20; i++) await refusal(fs.openRead("/fifo", 0));
    await Array.fromAsync(fs.list("/"));
    await fs.lstat("/f");
    assertEquals(openHere(), 0, "the home's descriptors are closed too");
  } finally {
    await Deno.remove(`${root}.link`);
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("MemoryFS: capacity bounds the memory held, open files included, to the byte", async () => {
  const fs = new MemoryFS({ capacity: 100 });
  assert((await fs.stat("/")).unique !== (await fs.mkdir("/d").then(() => fs.stat("/d"))).unique);
  const file = await fs.openWrite("/f", { truncate: true });
  for (let i = 0; i < 100; i++) assertEquals(await file.write(new Uint8Array([i])), 1, `byte ${i}`);
  assertEquals(await refusal(file.write(new Uint8Array(1))), "452 No space left on device.");
  // Deleted while open: its memory is held until the writer closes.
  await fs.remove("/f");
  assertEquals(
    await refusal(writeByte(fs, "/g")),
    "452 No space left on device.",
  );
  file.close();
  await writeAndClose(await fs.openWrite("/g", { truncate: true }), "x".repeat(100));
  for (let round = 0; round < 20; round++) {
    await writeAndClose(await fs.openWrite("/g", { truncate: true }), "y".repeat(100));
  }
  assertEquals(await readText(fs, "/g"), "y".repeat(100), "overwriting gives the old bytes back");
  const reader = await fs.openRead("/g", 0);
  await writeAndClose(await fs.openWrite("/h", { truncate: true }), "");
  await fs.rename("/h", "/g");
  assertEquals(
    await refusal(writeByte(fs, "/i")),
    "452 No space left on device.",
    "a reader keeps the replaced file",
  );
  const buffer = new Uint8Array(200);
  assertEquals(await reader.read(buffer), 100, "and still reads it");
  reader.close();
  await writeAndClose(await fs.openWrite("/i", { truncate: true }), "z".repeat(100));
});

Deno.test("listing lines: every column, ids with and without names, links, the epoch for a missing time", async () => {
  const { formatListLine, listLines } = await import("../mod.ts");
  const options = { useGmtTimes: true, now: new Date(Date.UTC(2026, 10, 25)) };
  const stat = {
    type: "file" as const,
    size: 1234,
    mtime: new Date(Date.UTC(2026, 10, 5, 9, 7)),
    atime: null,
    mode: 0o640,
    nlink: 12,
    uid: 1000,
    gid: 50,
    unique: null,
  };
  assertEquals(
    formatListLine({ name: "f", info: stat, owner: "alice", group: "staff" }, options),
    "-rw-r-----  12 alice    staff        1234 Nov 05 09:07 f",
  );
  assertEquals(
    formatListLine({ name: "f", info: { ...stat, mtime: null }, owner: "o", group: "g" }, options),
    "-rw-r-----  12 o        g            1234 Jan 01  1970 f",
  );
  const named: FileSystem = Object.assign(new MemoryFS(), {
    getUserByUid: (uid: number) => Promise.resolve(`u${uid}`),
    getGroupByGid: (gid: number) => Promise.resolve(`g${gid}`),
  });
  const entries = async function* () {
    yield { name: "f", path: "/f", stat };
    yield { name: "l", path: "/l", stat: { ...stat, type: "symlink" as const }, linkTarget: "f" };
    yield { name: "broken", path: "/broken", stat: { ...stat, type: "symlink" as const } };
    yield { name: "odd\uFFFD", path: "/odd", stat: null };
    yield { name: "mem", path: "/mem", stat: { ...stat, uid: null, gid: null } };
  };
  const lines = await Array.fromAsync(listLines(named, entries(), options));
  assertEquals(lines.map((line) => line.split(/ +/).slice(2, 4).join(" ")), [
    "u1000 g50",
    "u1000 g50",
    "u1000 g50",
    "u0 g0",
    "owner group",
  ]);
  assert(lines[1].endsWith(" l -> f") && lines[2].endsWith(" broken -> "), "link targets");
  assertMatch(
    lines[3],
    /^-{10} +1 u0 +g0 +0 Jan 01 {2}1970 odd\uFFFD$/,
    "an entry it could not stat",
  );
  const numbers = await Array.fromAsync(listLines(new MemoryFS(), entries(), options));
  assertEquals(numbers[0].split(/ +/).slice(2, 4), ["1000", "50"], "no names: the numbers");
});

Deno.test("MLSx facts: chosen facts in order, none for what is unknown, RFC 3659's spelling", async () => {
  const { formatFacts } = await import("../mod.ts");
  const { featMlstLine, selectFacts, MLST_FACTS } = await import("../src/fs/facts.ts");
  assertEquals(selectFacts("TYPE; Size;bogus;;unix.MODE"), ["type", "size", "unix.mode"]);
  assertEquals(selectFacts(""), []);
  assertEquals(
    featMlstLine(["type", "unix.gid"]),
    "MLST type*;size;modify;perm;unique;unix.mode;unix.uid;unix.gid*;",
  );
  const info = {
    type: "file" as const,
    size: 5,
    mtime: new Date(Date.UTC(2023, 6, 4, 5, 6, 7)),
    atime: null,
    mode: 0o4755,
    nlink: 1,
    uid: 0,
    gid: 7,
    unique: "abc",
  };
  const entry = { name: "f", type: "file" as const, info, perm: "r" };
  assertEquals(
    formatFacts(entry, MLST_FACTS),
    "type=file;size=5;modify=20230704050607;perm=r;unique=abc;unix.mode=04755;unix.uid=0;unix.gid=7; f",
  );
  assertEquals(
    formatFacts({ ...entry, type: "dir", info: { ...info, type: "dir" } }, ["type", "size"]),
    "type=dir; f",
  );
  const unknown = { ...info, mtime: null, mode: null, uid: null, gid: null, unique: null };
  assertEquals(formatFacts({ ...entry, info: unknown }, MLST_FACTS), "type=file;size=5;perm=r; f");
  assertEquals(formatFacts({ ...entry, info: null }, MLST_FACTS), "type=file;perm=r; f");
});

Deno.test("MemoryFS: APPE writes at the end however the file grew; closing twice closes once; a truncation frees memory", async () => {
  const fs = new MemoryFS({ capacity: 200 });
  await writeAndClose(await fs.openWrite("/f", { truncate: true }), "ab");
  const first = await fs.openWrite("/f", { append: true });
  const second = await fs.openWrite("/f", { append: true });
  await second.write(encoder.encode("cd"));
  await first.write(encoder.encode("e"));
  first.close();
  second.close();
  assertEquals(await readText(fs, "/f"), "abcde", "each append lands at the end of the moment");
  assertEquals(await fs.lstat("/f"), await fs.stat("/f"), "no symlinks: lstat is stat");

  // Two readers of a file that is deleted: closing one twice does not free the other's bytes.
  const a = await fs.openRead("/f", 0);
  const b = await fs.openRead("/f", 0);
  await fs.remove("/f");
  a.close();
  a.close();
  const buffer = new Uint8Array(16);
  assertEquals(await b.read(buffer), 5);
  assertEquals(decoder.decode(buffer.subarray(0, 5)), "abcde");
  b.close();

  // A writer still open past the end of a file shortened (not emptied) by another.
  // (60 bytes, then 40: the buffer doubles to 120, so the last write needs no new one.)
  const late = await fs.openWrite("/g", { truncate: true });
  await late.write(encoder.encode("a".repeat(60)));
  await late.write(encoder.encode("a".repeat(40)));
  (await fs.openWrite("/g", { offset: 70 })).close();
  await late.write(encoder.encode("x"));
  late.close();
  assertEquals(
    await readText(fs, "/g"),
    "a".repeat(70) + "\0".repeat(30) + "x",
    "zeros, never old bytes",
  );

  // Emptying a file gives its memory back at once.
  (await fs.openWrite("/g", { truncate: true })).close();
  await writeAndClose(await fs.openWrite("/h", { truncate: true }), "h".repeat(200));
  assertEquals(await refusal(writeByte(fs, "/i")), "452 No space left on device.");
});

Deno.test("MemoryFS: a path through a file, a name of exactly 255 bytes, a directory's links", async () => {
  const fs = new MemoryFS();
  await writeAndClose(await fs.openWrite("/f", { truncate: true }), "x");
  assertEquals(await refusal(fs.mkdir("/f/x")), "550 Not a directory.");
  assertEquals(await refusal(fs.openWrite("/f/x", { truncate: true })), "550 Not a directory.");
  await fs.mkdir("/" + "a".repeat(255));
  assertEquals(await refusal(fs.mkdir("/" + "a".repeat(256))), "550 File name too long.");
  await fs.mkdir("/d");
  assertEquals((await fs.stat("/")).nlink, 4, "two subdirectories; files do not count");
});

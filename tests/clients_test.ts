/**
 * Real clients against a real tsftpd on a loopback port: curl, lftp, Python's
 * ftplib and basic-ftp, with byte-exact checks of what lands on disk, a 100 MiB
 * transfer each way, and 50 sessions at once.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createHash, randomFillSync } from "node:crypto";
import { Readable, Writable } from "node:stream";
import { Client } from "basic-ftp";
import { assert, assertBytesEqual, assertEquals, assertMatch } from "./support/assert.ts";
import { FtpClient } from "./support/ftp_client.ts";
import { PASSWORD, USER, withServer } from "./support/server.ts";
import { withTempDir } from "./support/temp_dir.ts";

const decoder = new TextDecoder();
const encoder = new TextEncoder();

// --- Helpers --------------------------------------------------------------------------

/** What an external command left behind. */
interface Output {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program to its end, capturing its output. */
async function run(program: string, args: string[], cwd?: string): Promise<Output> {
  const { code, stdout, stderr } = await new Deno.Command(program, {
    args,
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}

/** Asserts that a command exited with 0; the message carries its output and the server's last log lines. */
function assertSucceeded(output: Output, what: string, logs: string[]): void {
  assertEquals(
    output.code,
    0,
    `${what} exited with ${output.code}\n--- stderr:\n${output.stderr}\n--- stdout:\n${output.stdout}` +
      `\n--- server log (last 40 lines):\n${logs.slice(-40).join("\n")}`,
  );
}

/** The ftp:// URL of `path` on the test server. */
function url(port: number, path = ""): string {
  return `ftp://127.0.0.1:${port}/${path}`;
}

/** Runs curl as `user`, with a generous overall timeout so a stuck transfer cannot hang the suite. */
function curl(...args: string[]): Promise<Output> {
  return run("curl", [
    "--silent",
    "--show-error",
    "--max-time",
    "60",
    "--user",
    `${USER}:${PASSWORD}`,
    ...args,
  ]);
}

/** `count` random bytes. */
function randomData(count: number): Uint8Array {
  const bytes = new Uint8Array(count);
  for (let offset = 0; offset < count; offset += 65536) {
    crypto.getRandomValues(bytes.subarray(offset, Math.min(count, offset + 65536)));
  }
  return bytes;
}

/** Every file (its bytes) and directory (`"dir"`) under `root`, by path relative to it. */
async function readTree(root: string): Promise<Map<string, Uint8Array | "dir">> {
  const tree = new Map<string, Uint8Array | "dir">();
  async function walk(relative: string): Promise<void> {
    for await (const entry of Deno.readDir(relative ? `${root}/${relative}` : root)) {
      const path = relative ? `${relative}/${entry.name}` : entry.name;
      if (entry.isDirectory) {
        tree.set(path, "dir");
        await walk(path);
      } else {
        tree.set(path, await Deno.readFile(`${root}/${path}`));
      }
    }
  }
  await walk("");
  return tree;
}

/** Asserts that two directory trees hold the same paths and byte-identical files. */
async function assertSameTree(actualRoot: string, expectedRoot: string): Promise<void> {
  const actual = await readTree(actualRoot);
  const expected = await readTree(expectedRoot);
  assertEquals(
    [...actual.keys()].sort(),
    [...expected.keys()].sort(),
    `${actualRoot} and ${expectedRoot} hold different paths`,
  );
  for (const [path, content] of expected) {
    const other = actual.get(path)!;
    if (content === "dir") assertEquals(other, "dir", `${path} should be a directory`);
    else {
      assert(other !== "dir", `${path} should be a file`);
      assertBytesEqual(other, content);
    }
  }
}

/** Writes a small tree of directories and files (one empty, one of 70 000 random bytes) under `root`. */
async function makeTree(root: string, tag: string): Promise<void> {
  await Deno.mkdir(`${root}/sub/deeper`, { recursive: true });
  await Deno.mkdir(`${root}/empty-dir`);
  await Deno.writeTextFile(`${root}/top-${tag}.txt`, `top level of ${tag}\n`);
  await Deno.writeFile(`${root}/sub/random.bin`, randomData(70_000));
  await Deno.writeFile(`${root}/sub/deeper/tiny.bin`, new Uint8Array([0, 255, 13, 10, 7]));
  await Deno.writeFile(`${root}/sub/empty.bin`, new Uint8Array(0));
}

/** Writes all of `bytes` to `file`. */
async function writeAllTo(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) offset += await file.write(bytes.subarray(offset));
}

/** Writes `size` random bytes to `path` a few MiB at a time and returns their SHA-256 (hex). */
async function writeRandomFile(path: string, size: number): Promise<string> {
  const hash = createHash("sha256");
  const chunk = new Uint8Array(4 * 1024 * 1024);
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    for (let left = size; left > 0;) {
      const piece = chunk.subarray(0, Math.min(left, chunk.length));
      randomFillSync(piece);
      hash.update(piece);
      await writeAllTo(file, piece);
      left -= piece.length;
    }
  } finally {
    file.close();
  }
  return hash.digest("hex");
}

/** The SHA-256 (hex) of a file, read in chunks. */
async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  const buffer = new Uint8Array(1024 * 1024);
  const file = await Deno.open(path, { read: true });
  try {
    while (true) {
      const n = await file.read(buffer);
      if (n === null) break;
      hash.update(buffer.subarray(0, n));
    }
  } finally {
    file.close();
  }
  return hash.digest("hex");
}

/** The log lines written since `start` (an index into `logs`). */
function logsSince(logs: string[], start: number): string[] {
  return logs.slice(start);
}

/** Whether the client sent a command line matching `pattern` (debug log `<- ...`). */
function sent(lines: string[], pattern: RegExp): boolean {
  return lines.some((line) => {
    const at = line.indexOf("] <- ");
    return at >= 0 && pattern.test(line.slice(at + 5));
  });
}

// --- curl -----------------------------------------------------------------------------

Deno.test("curl: lists the root, downloads a file, uploads with -T", async () => {
  await withServer({}, async ({ port, home, logs }) => {
    await withTempDir(async (local) => {
      const data = randomData(300_000);
      await Deno.writeFile(`${home}/data.bin`, data);
      await Deno.writeTextFile(`${home}/hello.txt`, "hello\n");
      await Deno.mkdir(`${home}/subdir`);

      const listing = await curl(url(port));
      assertSucceeded(listing, "curl list", logs);
      const lines = listing.stdout.split(/\r?\n/).filter((line) => line);
      assertEquals(lines.length, 3, listing.stdout);
      assertMatch(lines.find((line) => line.endsWith(" data.bin")) ?? "", /^-r.*\s300000\s/);
      assertMatch(lines.find((line) => line.endsWith(" hello.txt")) ?? "", /^-r.*\s6\s/);
      assertMatch(lines.find((line) => line.endsWith(" subdir")) ?? "", /^d/);

      const names = await curl("--list-only", url(port));
      assertSucceeded(names, "curl --list-only", logs);
      assertEquals(names.stdout.split(/\r?\n/).filter((line) => line).sort(), [
        "data.bin",
        "hello.txt",
        "subdir",
      ]);

      const download = await curl("-o", `${local}/data.bin`, url(port, "data.bin"));
      assertSucceeded(download, "curl download", logs);
      assertBytesEqual(await Deno.readFile(`${local}/data.bin`), data);

      const upload = randomData(200_001);
      await Deno.writeFile(`${local}/up.bin`, upload);
      const put = await curl("-T", `${local}/up.bin`, url(port, "up.bin"));
      assertSucceeded(put, "curl upload", logs);
      assertBytesEqual(await Deno.readFile(`${home}/up.bin`), upload);

      // A URL ending in "/" takes the local file's name.
      const intoDir = await curl("-T", `${local}/up.bin`, url(port, "subdir/"));
      assertSucceeded(intoDir, "curl upload into a directory", logs);
      assertBytesEqual(await Deno.readFile(`${home}/subdir/up.bin`), upload);
    });
  });
});

Deno.test("curl: resumes a download and an upload with -C -", async () => {
  await withServer({}, async ({ port, home, logs }) => {
    await withTempDir(async (local) => {
      const full = randomData(500_000);

      // Download: the first 123 456 bytes are already here.
      await Deno.writeFile(`${home}/full.bin`, full);
      await Deno.writeFile(`${local}/partial.bin`, full.subarray(0, 123_456));
      let start = logs.length;
      const get = await curl("-C", "-", "-o", `${local}/partial.bin`, url(port, "full.bin"));
      assertSucceeded(get, "curl -C - download", logs);
      assertBytesEqual(await Deno.readFile(`${local}/partial.bin`), full);
      let session = logsSince(logs, start);
      assert(sent(session, /^REST 123456$/), "curl asked to restart at the local size");
      assert(
        session.some((line) => /RETR \S*full\.bin completed=1 bytes=376544 /.test(line)),
        "only the missing bytes were sent",
      );

      // Upload: the server already has the first 200 000 bytes.
      await Deno.writeFile(`${home}/resumed.bin`, full.subarray(0, 200_000));
      await Deno.writeFile(`${local}/source.bin`, full);
      start = logs.length;
      const put = await curl("-C", "-", "-T", `${local}/source.bin`, url(port, "resumed.bin"));
      assertSucceeded(put, "curl -C - -T upload", logs);
      assertBytesEqual(await Deno.readFile(`${home}/resumed.bin`), full);
      session = logsSince(logs, start);
      assert(
        session.some((line) => /(APPE|STOR) \S*resumed\.bin completed=1 bytes=300000 /.test(line)),
        `only the missing 300000 bytes should be uploaded; server log:\n${session.join("\n")}`,
      );
    });
  });
});

Deno.test("curl: active mode (--ftp-port) download and upload", async () => {
  await withServer({}, async ({ port, home, logs }) => {
    await withTempDir(async (local) => {
      const data = randomData(1_000_000);
      await Deno.writeFile(`${home}/active.bin`, data);
      const get = await curl(
        "--ftp-port",
        "127.0.0.1",
        "-o",
        `${local}/active.bin`,
        url(port, "active.bin"),
      );
      assertSucceeded(get, "curl active download", logs);
      assertBytesEqual(await Deno.readFile(`${local}/active.bin`), data);

      const upload = randomData(654_321);
      await Deno.writeFile(`${local}/up.bin`, upload);
      const put = await curl(
        "-P",
        "127.0.0.1",
        "-T",
        `${local}/up.bin`,
        url(port, "active-up.bin"),
      );
      assertSucceeded(put, "curl active upload", logs);
      assertBytesEqual(await Deno.readFile(`${home}/active-up.bin`), upload);

      assert(
        sent(logs, /^(PORT 127,0,0,1,\d+,\d+|EPRT \|1\|127\.0\.0\.1\|\d+\|)$/),
        "active mode used",
      );
      assert(!sent(logs, /^(PASV|EPSV)/), "no passive mode was used");
    });
  });
});

Deno.test("curl: --ftp-create-dirs uploads into a new nested directory", async () => {
  await withServer({}, async ({ port, home, logs }) => {
    await withTempDir(async (local) => {
      const data = randomData(12_345);
      await Deno.writeFile(`${local}/nested.bin`, data);
      const put = await curl(
        "--ftp-create-dirs",
        "-T",
        `${local}/nested.bin`,
        url(port, "new/nested/deep/nested.bin"),
      );
      assertSucceeded(put, "curl --ftp-create-dirs", logs);
      assertBytesEqual(await Deno.readFile(`${home}/new/nested/deep/nested.bin`), data);
      assert((await Deno.stat(`${home}/new/nested`)).isDirectory);
    });
  });
});

// --- lftp -----------------------------------------------------------------------------

/** Runs an lftp session as `user` with `commands`, failing on the first failed command. */
function lftp(port: number, passive: boolean, commands: string[]): Promise<Output> {
  const script = [
    "set cmd:fail-exit yes",
    "set net:max-retries 1",
    "set net:timeout 5",
    "set net:reconnect-interval-base 1",
    "set ftp:ssl-allow no",
    `set ftp:passive-mode ${passive ? "on" : "off"}`,
    `open -u ${USER},${PASSWORD} ftp://127.0.0.1:${port}`,
    ...commands,
  ].join("; ");
  return run("timeout", ["120", "lftp", "-c", script]);
}

for (const passive of [true, false]) {
  const mode = passive ? "passive" : "active";
  Deno.test(`lftp (${mode} mode): ls, get, put, mirror, mirror -R, mkdir, mv, rm`, async () => {
    await withServer({}, async ({ port, home, logs }) => {
      await withTempDir(async (local) => {
        const hello = randomData(33_333);
        await Deno.writeFile(`${home}/hello.bin`, hello);
        await makeTree(`${home}/remote-tree`, "remote");
        const upload = randomData(100_000);
        await Deno.writeFile(`${local}/put.bin`, upload);
        await makeTree(`${local}/local-tree`, "local");

        const output = await lftp(port, passive, [
          `lcd ${local}`,
          "ls",
          "get hello.bin -o got.bin",
          "put put.bin -o put.bin",
          "mirror remote-tree mirrored-down",
          "mirror -R local-tree mirrored-up",
          "mkdir newdir",
          "mv put.bin newdir/moved.bin",
          "rm hello.bin",
        ]);
        assertSucceeded(output, `lftp (${mode})`, logs);

        const listed = output.stdout.split(/\r?\n/).filter((line) => line);
        assertMatch(listed.find((line) => line.endsWith(" hello.bin")) ?? "", /^-.*\s33333\s/);
        assertMatch(listed.find((line) => line.endsWith(" remote-tree")) ?? "", /^d/);
        assertEquals(listed.length, 2, output.stdout);

        assertBytesEqual(await Deno.readFile(`${local}/got.bin`), hello);
        await assertSameTree(`${local}/mirrored-down`, `${home}/remote-tree`);
        await assertSameTree(`${home}/mirrored-up`, `${local}/local-tree`);
        assertBytesEqual(await Deno.readFile(`${home}/newdir/moved.bin`), upload);
        assertEquals(
          (await Array.fromAsync(Deno.readDir(home))).map((entry) => entry.name).sort(),
          ["mirrored-up", "newdir", "remote-tree"],
          "put.bin was moved and hello.bin removed",
        );

        if (passive) {
          assert(sent(logs, /^(PASV|EPSV)$/), "passive mode used");
          assert(!sent(logs, /^(PORT|EPRT) /), "no active mode used");
        } else {
          assert(sent(logs, /^PORT 127,0,0,1,\d+,\d+$/), "active mode used");
          assert(!sent(logs, /^(PASV|EPSV)$/), "no passive mode used");
        }
      });
    });
  });
}

// --- Python ftplib --------------------------------------------------------------------

/**
 * Runs a Python script with `port` and `local` as `sys.argv[1:]`. The script gets a
 * `step(name, fn)` helper that records `fn()`'s result (or the exception it raised)
 * under `name`; the records come back as a JSON object.
 */
async function runFtplib(
  port: number,
  local: string,
  body: string,
  logs: string[],
): Promise<Record<string, unknown>> {
  const script = `
import ftplib, io, json, os, socket, sys
port = int(sys.argv[1])
local = sys.argv[2]
results = {}
def step(name, fn):
    try:
        results[name] = fn()
    except Exception as e:
        results[name] = {"error": type(e).__name__ + ": " + str(e)}
def connect():
    ftp = ftplib.FTP(timeout=15)
    ftp.connect("127.0.0.1", port)
    ftp.login("${USER}", "${PASSWORD}")
    return ftp
try:
${body.split("\n").map((line) => "    " + line).join("\n")}
finally:
    print(json.dumps(results))
`;
  const output = await run("timeout", ["120", "python3", "-c", script, String(port), local]);
  assertSucceeded(output, "python3", logs);
  return JSON.parse(output.stdout.trim().split("\n").pop()!);
}

Deno.test("ftplib: login, binary and ASCII transfers, listings, file commands, STAT", async () => {
  await withServer({}, async ({ port, home, logs }) => {
    await withTempDir(async (local) => {
      const download = randomData(250_000);
      await Deno.writeFile(`${home}/down.bin`, download);
      const upload = randomData(180_000);
      await Deno.writeFile(`${local}/up.bin`, upload);
      const text = "line one\nline two\n\nlast line\n";
      await Deno.writeTextFile(`${local}/text.txt`, text);

      const results = await runFtplib(
        port,
        local,
        `
ftp = connect()
step("welcome", lambda: ftp.getwelcome()[:3])
def retr():
    with open(local + "/down.bin", "wb") as f:
        return ftp.retrbinary("RETR down.bin", f.write)
step("retrbinary", retr)
def stor():
    with open(local + "/up.bin", "rb") as f:
        return ftp.storbinary("STOR up.bin", f)
step("storbinary", stor)
def storlines():
    with open(local + "/text.txt", "rb") as f:
        return ftp.storlines("STOR text.txt", f)
step("storlines", storlines)
def retrlines():
    lines = []
    reply = ftp.retrlines("RETR text.txt", lines.append)
    return [reply, lines]
step("retrlines", retrlines)
def raw_ascii():
    ftp.voidcmd("TYPE A")
    with ftp.transfercmd("RETR text.txt") as conn:
        data = b""
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
    return [data.decode(), ftp.voidresp()]
step("ascii_wire", raw_ascii)
step("nlst", lambda: sorted(ftp.nlst()))
def dir_lines():
    lines = []
    ftp.dir(lines.append)
    return lines
step("dir", dir_lines)
step("rename", lambda: ftp.rename("up.bin", "renamed.bin"))
step("mkd", lambda: ftp.mkd("made"))
step("nlst_after", lambda: sorted(ftp.nlst()))
step("rmd", lambda: ftp.rmd("made"))
step("delete", lambda: ftp.delete("down.bin"))
step("stat", lambda: ftp.sendcmd("STAT"))
step("quit", lambda: ftp.quit())
`,
        logs,
      );

      assertEquals(results.welcome, "220");
      assertEquals(results.retrbinary, "226 Transfer complete.");
      assertBytesEqual(await Deno.readFile(`${local}/down.bin`), download);
      assertEquals(results.storbinary, "226 Transfer complete.");
      assertBytesEqual(await Deno.readFile(`${home}/renamed.bin`), upload);

      // storlines sends CRLF; the server stores the local (LF) form.
      assertEquals(results.storlines, "226 Transfer complete.");
      assertEquals(await Deno.readTextFile(`${home}/text.txt`), text);
      assertEquals(results.retrlines, [
        "226 Transfer complete.",
        ["line one", "line two", "", "last line"],
      ]);
      assertEquals(results.ascii_wire, [
        "line one\r\nline two\r\n\r\nlast line\r\n",
        "226 Transfer complete.",
      ]);

      assertEquals(results.nlst, ["down.bin", "text.txt", "up.bin"]);
      const dirLines = results.dir as string[];
      assertEquals(dirLines.length, 3, JSON.stringify(dirLines));
      assertMatch(dirLines.find((line) => line.endsWith(" down.bin")) ?? "", /^-.*\s250000\s/);
      assertMatch(dirLines.find((line) => line.endsWith(" up.bin")) ?? "", /^-.*\s180000\s/);
      assertMatch(dirLines.find((line) => line.endsWith(" text.txt")) ?? "", /^-.*\s29\s/);

      assertMatch(results.rename as string, /^250 /);
      assertEquals(results.mkd, "/made");
      assertEquals(results.nlst_after, ["down.bin", "made", "renamed.bin", "text.txt"]);
      assertMatch(results.rmd as string, /^250 /);
      assertMatch(results.delete as string, /^250 /);
      assertEquals(
        (await Array.fromAsync(Deno.readDir(home))).map((entry) => entry.name).sort(),
        ["renamed.bin", "text.txt"],
      );
      const stat = results.stat as string;
      assertMatch(stat, /^211-/);
      assert(stat.includes("Logged in as: user"), stat);
      assertMatch(stat, /\n211 /);
      assertMatch(results.quit as string, /^221 /);
    });
  });
});

Deno.test("ftplib: REST resumes RETR and STOR (rest=)", async () => {
  await withServer({}, async ({ port, home, logs }) => {
    await withTempDir(async (local) => {
      const full = randomData(400_000);
      await Deno.writeFile(`${home}/full.bin`, full);
      await Deno.writeFile(`${local}/full.bin`, full);
      await Deno.writeFile(`${home}/partial.bin`, full.subarray(0, 150_000));

      const results = await runFtplib(
        port,
        local,
        `
ftp = connect()
def resume_retr():
    with open(local + "/tail.bin", "wb") as f:
        return ftp.retrbinary("RETR full.bin", f.write, rest=100000)
step("retr", resume_retr)
def resume_stor():
    with open(local + "/full.bin", "rb") as f:
        f.seek(150000)
        return ftp.storbinary("STOR partial.bin", f, rest=150000)
step("stor", resume_stor)
step("quit", lambda: ftp.quit())
`,
        logs,
      );

      assertEquals(results.retr, "226 Transfer complete.");
      assertBytesEqual(await Deno.readFile(`${local}/tail.bin`), full.subarray(100_000));
      assertEquals(results.stor, "226 Transfer complete.");
      assertBytesEqual(await Deno.readFile(`${home}/partial.bin`), full);
      assert(sent(logs, /^REST 100000$/) && sent(logs, /^REST 150000$/));
    });
  });
});

Deno.test("ftplib: active mode (set_pasv(False)) transfers and listings", async () => {
  await withServer({}, async ({ port, home, logs }) => {
    await withTempDir(async (local) => {
      const download = randomData(500_000);
      await Deno.writeFile(`${home}/down.bin`, download);
      const upload = randomData(300_000);
      await Deno.writeFile(`${local}/up.bin`, upload);

      const results = await runFtplib(
        port,
        local,
        `
ftp = connect()
ftp.set_pasv(False)
def retr():
    with open(local + "/down.bin", "wb") as f:
        return ftp.retrbinary("RETR down.bin", f.write)
step("retr", retr)
def stor():
    with open(local + "/up.bin", "rb") as f:
        return ftp.storbinary("STOR up.bin", f)
step("stor", stor)
step("nlst", lambda: sorted(ftp.nlst()))
step("quit", lambda: ftp.quit())
`,
        logs,
      );

      assertEquals(results.retr, "226 Transfer complete.");
      assertBytesEqual(await Deno.readFile(`${local}/down.bin`), download);
      assertEquals(results.stor, "226 Transfer complete.");
      assertBytesEqual(await Deno.readFile(`${home}/up.bin`), upload);
      assertEquals(results.nlst, ["down.bin", "up.bin"]);
      assert(sent(logs, /^PORT 127,0,0,1,\d+,\d+$/), "ftplib used PORT");
      assert(!sent(logs, /^(PASV|EPSV)/), "no passive mode was used");
    });
  });
});

Deno.test("ftplib: abort() during a large download; the session and a new one still transfer", async () => {
  await withServer({}, async ({ port, home, logs }) => {
    await withTempDir(async (local) => {
      // Far more than the loopback socket buffers hold, so the transfer is still running.
      await writeRandomFile(`${home}/large.bin`, 64 * 1024 * 1024);
      const small = randomData(10_000);
      await Deno.writeFile(`${home}/small.bin`, small);

      const results = await runFtplib(
        port,
        local,
        `
ftp = connect()
ftp.voidcmd("TYPE I")
conn = ftp.transfercmd("RETR large.bin")
received = 0
while received < 65536:
    chunk = conn.recv(65536)
    if not chunk:
        break
    received += len(chunk)
results["received"] = received >= 65536
step("abort", lambda: ftp.abort())
conn.close()
# RFC 959: 426 for the aborted transfer, then 226 for the ABOR itself.
step("after_abort", lambda: ftp.getresp() if str(results["abort"]).startswith("426") else "none")
step("noop", lambda: ftp.voidcmd("NOOP"))
def retr_same():
    chunks = []
    reply = ftp.retrbinary("RETR small.bin", chunks.append)
    with open(local + "/same.bin", "wb") as f:
        f.write(b"".join(chunks))
    return reply
step("retr_same_session", retr_same)
step("quit", lambda: ftp.quit())
ftp.close()
other = connect()
def retr_new():
    chunks = []
    reply = other.retrbinary("RETR small.bin", chunks.append)
    with open(local + "/new.bin", "wb") as f:
        f.write(b"".join(chunks))
    return reply
step("retr_new_session", retr_new)
step("quit_new", lambda: other.quit())
`,
        logs,
      );

      assertEquals(results.received, true);
      assertMatch(String(results.abort), /^426 /, JSON.stringify(results));
      assertMatch(String(results.after_abort), /^226 /, JSON.stringify(results));
      assertMatch(String(results.noop), /^200 /, JSON.stringify(results));
      assertEquals(results.retr_same_session, "226 Transfer complete.", JSON.stringify(results));
      assertBytesEqual(await Deno.readFile(`${local}/same.bin`), small);
      assertEquals(results.retr_new_session, "226 Transfer complete.", JSON.stringify(results));
      assertBytesEqual(await Deno.readFile(`${local}/new.bin`), small);
      assert(
        logs.some((line) => /RETR \S*large\.bin completed=0 /.test(line)),
        "the large download is logged as incomplete",
      );
    });
  });
});

// --- basic-ftp ------------------------------------------------------------------------

/** A Node Writable that keeps what is written to it. */
function collector(): { sink: Writable; bytes(): Uint8Array } {
  const chunks: Uint8Array[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(new Uint8Array(chunk));
      callback();
    },
  });
  return {
    sink,
    bytes() {
      const out = new Uint8Array(chunks.reduce((total, chunk) => total + chunk.length, 0));
      let offset = 0;
      for (const chunk of chunks) {
        out.set(chunk, offset);
        offset += chunk.length;
      }
      return out;
    },
  };
}

Deno.test("basic-ftp: upload, download, list, ensureDir, rename, remove", async () => {
  await withServer({}, async ({ port, home, logs }) => {
    await withTempDir(async (local) => {
      const fromFile = randomData(220_000);
      await Deno.writeFile(`${local}/from-file.bin`, fromFile);
      const fromStream = randomData(130_000);
      const existing = randomData(90_000);
      await Deno.writeFile(`${home}/existing.bin`, existing);

      const client = new Client(30_000);
      try {
        const welcome = await client.access({
          host: "127.0.0.1",
          port,
          user: USER,
          password: PASSWORD,
        });
        assertEquals(welcome.code, 220);

        await client.uploadFrom(`${local}/from-file.bin`, "from-file.bin");
        assertBytesEqual(await Deno.readFile(`${home}/from-file.bin`), fromFile);
        await client.uploadFrom(Readable.from([Buffer.from(fromStream)]), "from-stream.bin");
        assertBytesEqual(await Deno.readFile(`${home}/from-stream.bin`), fromStream);

        await client.downloadTo(`${local}/existing.bin`, "existing.bin");
        assertBytesEqual(await Deno.readFile(`${local}/existing.bin`), existing);
        const whole = collector();
        await client.downloadTo(whole.sink, "from-stream.bin");
        assertBytesEqual(whole.bytes(), fromStream);
        const tail = collector();
        await client.downloadTo(tail.sink, "existing.bin", 40_000);
        assertBytesEqual(tail.bytes(), existing.subarray(40_000));

        const listed = await client.list();
        assertEquals(
          listed.map((info) => [info.name, info.size, info.isFile]).sort(),
          [
            ["existing.bin", 90_000, true],
            ["from-file.bin", 220_000, true],
            ["from-stream.bin", 130_000, true],
          ],
        );

        await client.ensureDir("made/nested/dir");
        assertEquals(await client.pwd(), "/made/nested/dir");
        await client.uploadFrom(Readable.from([Buffer.from(fromStream)]), "inside.bin");
        assertBytesEqual(await Deno.readFile(`${home}/made/nested/dir/inside.bin`), fromStream);
        await client.ensureDir("/made/nested");
        assertEquals(await client.pwd(), "/made/nested");
        const nested = await client.list();
        assertEquals(nested.map((info) => [info.name, info.isDirectory]), [["dir", true]]);
        await client.cd("/");

        await client.rename("from-file.bin", "made/renamed.bin");
        assertBytesEqual(await Deno.readFile(`${home}/made/renamed.bin`), fromFile);
        await client.remove("from-stream.bin");
        await client.removeDir("made/nested");
        assertEquals(
          (await client.list()).map((info) => [info.name, info.isDirectory]).sort(),
          [["existing.bin", false], ["made", true]],
        );
        assertEquals((await client.list("made")).map((info) => info.name), ["renamed.bin"]);
      } finally {
        client.close();
      }
      assertEquals(
        (await Array.fromAsync(Deno.readDir(home))).map((entry) => entry.name).sort(),
        ["existing.bin", "made"],
      );
      assertEquals(
        (await Array.fromAsync(Deno.readDir(`${home}/made`))).map((entry) => entry.name),
        ["renamed.bin"],
      );
      assert(logs.some((line) => line.includes("USER 'user' logged in.")));
    });
  });
});

// --- Byte-exact sizes -----------------------------------------------------------------

Deno.test("curl: empty, tiny and 100 MiB files arrive byte-exact in both directions", async () => {
  await withServer({}, async ({ port, home, logs }) => {
    await withTempDir(async (local) => {
      // Uploads.
      await Deno.writeFile(`${local}/empty.bin`, new Uint8Array(0));
      const tiny = new Uint8Array([0x00, 0x0d, 0x0a, 0xff, 0x41]);
      await Deno.writeFile(`${local}/tiny.bin`, tiny);
      const size = 100 * 1024 * 1024;
      const digest = await writeRandomFile(`${local}/big.bin`, size);
      for (const name of ["empty.bin", "tiny.bin", "big.bin"]) {
        const put = await curl("-T", `${local}/${name}`, url(port, `up-${name}`));
        assertSucceeded(put, `curl -T ${name}`, logs);
      }
      assertEquals((await Deno.stat(`${home}/up-empty.bin`)).size, 0);
      assertBytesEqual(await Deno.readFile(`${home}/up-tiny.bin`), tiny);
      assertEquals((await Deno.stat(`${home}/up-big.bin`)).size, size);
      assertEquals(await sha256File(`${home}/up-big.bin`), digest);

      // Downloads of what was uploaded.
      for (const name of ["empty.bin", "tiny.bin", "big.bin"]) {
        const get = await curl("-o", `${local}/down-${name}`, url(port, `up-${name}`));
        assertSucceeded(get, `curl download ${name}`, logs);
      }
      assertEquals((await Deno.stat(`${local}/down-empty.bin`)).size, 0);
      assertBytesEqual(await Deno.readFile(`${local}/down-tiny.bin`), tiny);
      assertEquals((await Deno.stat(`${local}/down-big.bin`)).size, size);
      assertEquals(await sha256File(`${local}/down-big.bin`), digest);
    });
  });
});

// --- Concurrency ----------------------------------------------------------------------

Deno.test("50 sessions at once each upload and download back a distinct 256 KiB file", async () => {
  await withServer({}, async ({ port, home, logs }) => {
    const count = 50;
    const files = Array.from({ length: count }, (_, i) => {
      const data = randomData(256 * 1024);
      data.set(encoder.encode(`file ${i} `)); // distinct even if the random bytes were not
      return data;
    });
    const results = await Promise.allSettled(files.map(async (data, i) => {
      const client = await FtpClient.login(port);
      try {
        assertEquals((await client.command("TYPE I")).code, 200);
        const [start, end] = await client.store(`file-${i}.bin`, data);
        assert(start.code === 125 || start.code === 150, start.text);
        assertEquals(end.code, 226, end.text);
        assertBytesEqual(await client.retr(`file-${i}.bin`), data);
        assertEquals((await client.command("QUIT")).code, 221);
      } finally {
        client.close();
      }
    }));
    const failures = results.flatMap((result, i) =>
      result.status === "rejected" ? [`session ${i}: ${result.reason}`] : []
    );
    assertEquals(failures, []);
    for (const [i, data] of files.entries()) {
      assertBytesEqual(await Deno.readFile(`${home}/file-${i}.bin`), data);
    }
    assertEquals(logs.filter((line) => line.includes("USER 'user' logged in.")).length, count);
    assertEquals(logs.filter((line) => line.includes("-> 230 ")).length, count);
  });
});

/**
 * Every script of examples/ started on a loopback port with a temporary directory and used by a
 * real client (the raw client, curl, Python's ftplib, basic-ftp), checking what each is about.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { rejects } from "node:assert/strict";
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { Client } from "basic-ftp";
import { type FTPServer, Logger, type LogSink } from "../mod.ts";
import * as base from "../examples/base_ftp_server.ts";
import * as contextManager from "../examples/context_manager.ts";
import * as debugLogging from "../examples/debug_logging.ts";
import * as eventCallbacks from "../examples/event_callbacks.ts";
import * as ftps from "../examples/ftps.ts";
import * as ipv6 from "../examples/ipv6.ts";
import * as logPrefix from "../examples/log_prefix.ts";
import * as loggingToFile from "../examples/logging_to_file.ts";
import * as longRunningTask from "../examples/long_running_task.ts";
import * as md5Authorizer from "../examples/md5_authorizer.ts";
import * as memoryFs from "../examples/memory_fs.ts";
import * as siteCommand from "../examples/site_command.ts";
import * as strongHash from "../examples/strong_hash_authorizer.ts";
import * as throttled from "../examples/throttled.ts";
import {
  assert,
  assertBytesEqual,
  assertEquals,
  assertMatch,
  assertStringIncludes,
} from "./support/assert.ts";
import { testCerts } from "./support/certs.ts";
import { randomBytes } from "./support/data.ts";
import { FtpClient, type Reply } from "./support/ftp_client.ts";
import { hasIPv6Loopback } from "./support/ipv6.ts";
import { python } from "./support/python.ts";

const decoder = new TextDecoder();
const encoder = new TextEncoder();

// --- Helpers --------------------------------------------------------------------------

/** A temporary directory (its real path), removed with everything in it on disposal. */
async function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.realPath(await Deno.makeTempDir({ prefix: "tsftpd-example-" }));
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

/** Connects to `port` and logs in (asserting 331 and 230); the client is closed if that fails. */
async function login(
  port: number,
  user = "user",
  password = "12345",
  hostname = "127.0.0.1",
): Promise<FtpClient> {
  const client = await FtpClient.connect(port, { hostname });
  try {
    await client.login(user, password);
  } catch (error) {
    client.close();
    throw error;
  }
  return client;
}

/** Starts serving (without hooking SIGINT and SIGTERM) and returns the server, for `await using`. */
function started<T extends FTPServer>(server: T): T {
  server.serve({ handleExit: false });
  return server;
}

/** The options every example server gets here: a loopback port, `directory`, quick 530s, a quiet log. */
function local(directory: string, sink: LogSink = () => {}) {
  return {
    hostname: "127.0.0.1",
    port: 0,
    directory,
    authFailedTimeout: 0.05,
    logger: new Logger({ sink }),
  };
}

/** The code a PASS gets after USER `user` on a fresh connection. */
async function passCode(port: number, user: string, password: string): Promise<number> {
  using client = await FtpClient.connect(port);
  assertEquals((await client.command(`USER ${user}`)).code, 331);
  return (await client.command(`PASS ${password}`)).code;
}

/** Asserts that a transfer command was answered 125 or 150. */
function assertStarted(reply: Reply): void {
  assert(reply.code === 125 || reply.code === 150, `${reply.code} ${reply.text}`);
}

/** Runs a program to its end; returns its exit code and output. */
async function run(program: string, ...args: string[]) {
  const { code, stdout, stderr } = await new Deno.Command(program, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}

/** Runs curl quietly, with an overall timeout so that a stuck transfer cannot hang the suite. */
function curl(...args: string[]) {
  return run("curl", "--silent", "--show-error", "--max-time", "60", ...args);
}

/** The SHA-256 of `bytes`, in hex. */
function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

// --- The examples ---------------------------------------------------------------------

Deno.test("base_ftp_server: banner, user and read-only anonymous, passive ports, 5 per IP", async () => {
  await using home = await tempDir();
  await Deno.writeTextFile(`${home.path}/hello.txt`, "hello");
  await using server = started(base.createServer(local(home.path)));
  const { port } = server.addr;

  using user = await login(port);
  assertEquals(user.greeting.text, "tsftpd based ftpd ready.");
  assertEquals(decoder.decode(await user.retr("hello.txt")), "hello");
  await user.store("up.txt", encoder.encode("uploaded"));
  assertEquals(await Deno.readTextFile(`${home.path}/up.txt`), "uploaded");
  const passive = await user.pasvAddress();
  assert(passive.port >= 60000 && passive.port < 65535, `passive port ${passive.port}`);

  using anonymous = await login(port, "anonymous", "guest@example.com");
  assertEquals(decoder.decode(await anonymous.retr("up.txt")), "uploaded");
  assertEquals((await anonymous.command("DELE up.txt")).code, 550, "anonymous is read-only");

  using others = new DisposableStack();
  for (let i = 0; i < 3; i++) others.use(await FtpClient.connect(port));
  using sixth = await FtpClient.connect(port);
  assertEquals(sixth.greeting.code, 421, "a sixth connection from one address is refused");
  assertEquals(sixth.greeting.text, "Too many connections from the same IP address.");
});

Deno.test("logging_to_file: info lines (the login, the transfer) land in the log file", async () => {
  await using home = await tempDir();
  await using logs = await tempDir();
  await Deno.writeTextFile(`${home.path}/hello.txt`, "hello");
  const logFile = `${logs.path}/tsftpd.log`;
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const running = loggingToFile.main({ listener, directory: home.path, logFile });
  try {
    const url = `ftp://127.0.0.1:${listener.addr.port}/hello.txt`;
    const download = await curl("--user", "user:12345", url);
    assertEquals(download.code, 0, download.stderr);
    assertEquals(download.stdout, "hello");
  } finally {
    listener.close();
    await running;
  }
  const log = await Deno.readTextFile(logFile);
  assertMatch(log, /^\[I [\d-]+ [\d:]+\] >>> starting FTP server on 127\.0\.0\.1:\d+/m);
  assertMatch(log, /^\[I [\d-]+ [\d:]+\] 127\.0\.0\.1:\d+-\[user\] USER 'user' logged in\.$/m);
  assertMatch(log, /-\[user\] RETR \S+\/hello\.txt completed=1 bytes=5 /);
  assert(!log.includes("[D "), "nothing below info");
});

Deno.test("debug_logging: every command and reply is logged, the password masked", async () => {
  await using home = await tempDir();
  const lines: string[] = [];
  await using server = started(
    debugLogging.createServer({
      hostname: "127.0.0.1",
      port: 0,
      directory: home.path,
      sink: (line) => lines.push(line),
    }),
  );
  {
    using client = await login(server.addr.port);
    await client.expect("NOOP", 200);
  }
  const messages = lines.map((line) => line.replace(/^\[D [\d-]+ [\d:]+\] /, ""));
  assert(messages.includes("max login attempts: 3"), "the configuration is logged at start-up");
  for (const message of ["<- USER user", "-> 331 Username ok, send password.", "<- PASS ******"]) {
    assert(messages.some((m) => m.endsWith(`] ${message}`)), message);
  }
  assert(messages.some((m) => /-\[user\] -> 230 /.test(m)), "the 230 reply");
  assert(messages.some((m) => m.endsWith("-[user] <- NOOP")), "NOOP");
  assert(!lines.some((line) => line.includes("12345")), "the password never appears");
});

Deno.test("log_prefix: log lines start with XXX [username]@ip", async () => {
  await using home = await tempDir();
  const lines: string[] = [];
  await using server = started(logPrefix.createServer(local(home.path, (l) => lines.push(l))));
  {
    using _client = await login(server.addr.port);
  }
  assert(lines.some((line) => line.endsWith("] XXX []@127.0.0.1 FTP session opened (connect)")));
  assert(lines.some((line) => line.endsWith("] XXX [user]@127.0.0.1 USER 'user' logged in.")));
});

Deno.test("md5_authorizer: the right password logs in, a wrong one or the digest gets 530", async () => {
  assertEquals(md5Authorizer.md5("12345"), "827ccb0eea8a706c4c34a16891f84e7b");
  await using home = await tempDir();
  await using server = started(md5Authorizer.createServer(local(home.path)));
  const { port } = server.addr;
  assertEquals(await passCode(port, "user", "12345"), 230);
  assertEquals(await passCode(port, "user", "1234"), 530);
  assertEquals(await passCode(port, "user", md5Authorizer.md5("12345")), 530, "the digest");
  assertEquals(await passCode(port, "nobody", "12345"), 530);
  assertEquals(await passCode(port, "anonymous", "guest@"), 230);
});

Deno.test("strong_hash_authorizer: salted scrypt hashes; right password 230, wrong one 530", async () => {
  const [first, second] = [
    await strongHash.hashPassword("12345"),
    await strongHash.hashPassword("12345"),
  ];
  assertMatch(first, /^[0-9a-f]{32}:[0-9a-f]{128}$/);
  assert(first !== second, "a fresh salt each time");
  await using home = await tempDir();
  await using server = started(await strongHash.createServer(local(home.path)));
  const { port } = server.addr;
  const codes = await Promise.all([
    passCode(port, "user", "12345"),
    passCode(port, "user", "123456"),
    passCode(port, "user", ""),
    passCode(port, "nobody", "12345"),
    passCode(port, "anonymous", "guest@"),
  ]);
  assertEquals(codes, [230, 530, 530, 530, 230]);
});

Deno.test("throttled: 256 KiB each way at 128 KiB/s arrive byte-exact (curl)", async () => {
  await using home = await tempDir();
  await using local_ = await tempDir();
  const bytes = randomBytes(256 * 1024);
  await Deno.writeFile(`${home.path}/down.bin`, bytes);
  await Deno.writeFile(`${local_.path}/up.bin`, bytes);
  await using server = started(
    throttled.createServer({ ...local(home.path), bytesPerSecond: 128 * 1024 }),
  );
  assertEquals(server.config.dtp.readLimit, 128 * 1024);
  assertEquals(server.config.dtp.writeLimit, 128 * 1024);
  const url = `ftp://127.0.0.1:${server.addr.port}`;
  const down = await curl(
    "--user",
    "user:12345",
    "-o",
    `${local_.path}/down.bin`,
    `${url}/down.bin`,
  );
  assertEquals(down.code, 0, down.stderr);
  assertBytesEqual(await Deno.readFile(`${local_.path}/down.bin`), bytes);
  const up = await curl("--user", "user:12345", "-T", `${local_.path}/up.bin`, `${url}/up.bin`);
  assertEquals(up.code, 0, up.stderr);
  assertBytesEqual(await Deno.readFile(`${home.path}/up.bin`), bytes);
});

Deno.test("ftps: TLS required; curl --ssl-reqd and Python's FTP_TLS transfer under PROT P", async () => {
  const { ca, cert, key } = await testCerts();
  await using home = await tempDir();
  await Deno.writeTextFile(`${home.path}/hello.txt`, "secret");
  await using server = started(
    ftps.createServer({ ...local(home.path), certfile: cert, keyfile: key }),
  );
  const { port } = server.addr;
  {
    using plain = await FtpClient.connect(port);
    assertEquals((await plain.command("USER user")).code, 550, "no login in clear text");
  }

  const url = `ftp://127.0.0.1:${port}`;
  const tls = ["--ssl-reqd", "--cacert", ca, "--user", "user:12345"];
  const down = await curl(...tls, `${url}/hello.txt`);
  assertEquals(down.code, 0, down.stderr);
  assertEquals(down.stdout, "secret");
  const up = await curl(...tls, "-T", `${home.path}/hello.txt`, `${url}/by-curl.txt`);
  assertEquals(up.code, 0, up.stderr);
  assertEquals(await Deno.readTextFile(`${home.path}/by-curl.txt`), "secret");

  const out = await python(
    `
import ftplib, io, ssl, sys
ftp = ftplib.FTP_TLS(context=ssl.create_default_context(cafile=sys.argv[2]), timeout=20)
ftp.connect("127.0.0.1", int(sys.argv[1]))
ftp.login("user", "12345")
try:
    ftp.nlst()
except ftplib.error_perm as error:
    print("before PROT P:", str(error)[:3])
ftp.prot_p()
ftp.storbinary("STOR by-ftplib.txt", io.BytesIO(b"from ftplib"))
chunks = []
ftp.retrbinary("RETR hello.txt", chunks.append)
print(b"".join(chunks).decode())
ftp.quit()
`,
    String(port),
    ca,
  );
  assertEquals(out, "before PROT P: 550\nsecret\n");
  assertEquals(await Deno.readTextFile(`${home.path}/by-ftplib.txt`), "from ftplib");
});

Deno.test("event_callbacks: every callback fires, in order; a partial upload is removed", async () => {
  await using home = await tempDir();
  const big = `${home.path}/big.bin`;
  {
    using file = await Deno.create(big);
    await file.truncate(32 * 1024 * 1024); // more than the sockets can buffer
  }
  const lines: string[] = [];
  {
    await using server = started(
      eventCallbacks.createServer(local(home.path, (line) => lines.push(line))),
    );
    using client = await login(server.addr.port);
    await client.command("TYPE I");
    await client.store("up.bin", encoder.encode("complete"));
    assertEquals(decoder.decode(await client.retr("up.bin")), "complete");

    const upload = await client.pasv();
    assertStarted(await client.command("STOR partial.bin"));
    await upload.write(new Uint8Array(65536));
    const deadline = Date.now() + 10_000;
    while (!(await client.command("STAT")).text.includes("(65536 bytes so far)")) {
      assert(Date.now() < deadline, "the bytes reach the server before the ABOR");
    }
    assertEquals((await client.command("ABOR")).code, 426);
    assertEquals((await client.reply()).code, 226);
    upload.close();

    const download = await client.pasv();
    assertStarted(await client.command("RETR big.bin"));
    assertEquals((await client.command("ABOR")).code, 426);
    assertEquals((await client.reply()).code, 226);
    download.close();
    await client.expect("QUIT", 221);
  }
  const events = lines
    .map((line) => / \S+:\d+-\[\w*\] (.*)$/.exec(line)?.[1] ?? "")
    .filter((message) =>
      /^(\S+:\d+ connected|disconnected|user logged (in|out)|(sent|received|sent part of|removed partial upload of) \/.*)$/
        .test(message)
    );
  const at = (name: string) => `${home.path}/${name}`;
  assertMatch(events[0], /^127\.0\.0\.1:\d+ connected$/);
  assertEquals(events.slice(1), [
    "user logged in",
    `received ${at("up.bin")}`,
    `sent ${at("up.bin")}`,
    `removed partial upload of ${at("partial.bin")}`,
    `sent part of ${at("big.bin")}`,
    "user logged out",
    "disconnected",
  ]);
  assertEquals(await Deno.lstat(at("partial.bin")).catch((e) => e.name), "NotFound");
  const names = await Array.fromAsync(Deno.readDir(home.path), (entry) => entry.name);
  assertEquals(names.sort(), ["big.bin", "up.bin"], "the hidden partial was removed too");
});

Deno.test("site_command: SITE RMTREE removes a tree, refuses the home and users without d", async () => {
  await using home = await tempDir();
  for (const dir of ["build", "keep"]) {
    await Deno.mkdir(`${home.path}/${dir}/a/b`, { recursive: true });
    await Deno.writeTextFile(`${home.path}/${dir}/a/b/file.txt`, "x");
  }
  await using server = started(siteCommand.createServer(local(home.path)));
  const { port } = server.addr;

  const listing = await curl(
    "--user",
    "user:12345",
    "--list-only",
    "-Q",
    "SITE RMTREE build",
    `ftp://127.0.0.1:${port}/`,
  );
  assertEquals(listing.code, 0, listing.stderr);
  assertEquals(listing.stdout.split(/\r?\n/).filter(Boolean), ["keep"]);
  assertEquals(await Deno.lstat(`${home.path}/build`).catch((e) => e.name), "NotFound");

  using user = await login(port);
  assertStringIncludes((await user.expect("SITE HELP RMTREE", 214)).text, "SITE <SP> RMTREE");
  assertEquals((await user.command("SITE RMTREE /")).text, "Can't remove the home directory.");
  assertEquals((await user.command("SITE RMTREE")).code, 501);
  assertEquals((await user.command("SITE RMTREE ../..")).code, 550, "nothing above the home");
  using anonymous = await login(port, "anonymous", "guest@");
  assertEquals((await anonymous.command("SITE RMTREE keep")).code, 550, "anonymous has no d");
  assert((await Deno.stat(`${home.path}/keep/a/b/file.txt`)).isFile);
});

Deno.test("memory_fs: alice uploads into memory (curl), bob reads it, nothing on disk; 452 when full", async () => {
  const { directory: _, ...options } = local("");
  const { server, storage } = memoryFs.createServer({ ...options, capacity: 300_000 });
  await using _server = started(server);
  const { port } = server.addr;
  const bytes = randomBytes(200_000);
  await using upload = await tempDir();
  await Deno.writeFile(`${upload.path}/notes.bin`, bytes);
  const put = await curl(
    "-T",
    `${upload.path}/notes.bin`,
    `ftp://alice:alice-pw@127.0.0.1:${port}/`,
  );
  assertEquals(put.code, 0, put.stderr);
  assertEquals((await storage.stat("/srv/shared/notes.bin")).size, 200_000);
  assertEquals(await Deno.stat("/srv/shared/notes.bin").catch((e) => e.name), "NotFound");

  using bob = await login(port, "bob", "bob-pw");
  await bob.expect("TYPE I", 200);
  assertBytesEqual(await bob.retr("notes.bin"), bytes);
  assertEquals((await bob.command("DELE notes.bin")).code, 550, "bob only reads");
  using alice = await login(port, "alice", "alice-pw");
  await alice.expect("TYPE I", 200);
  const [, full] = await alice.store("more.bin", randomBytes(200_000), "STOR", 452);
  assertStringIncludes(full.text, "No space left on device");
  assertEquals(
    (await alice.command("SIZE more.bin")).code,
    550,
    "a write the storage refused leaves nothing, not even a partial",
  );
});

Deno.test("long_running_task: each upload's SHA-256 is computed and served next to it (basic-ftp)", async () => {
  await using home = await tempDir();
  await using local_ = await tempDir();
  await using server = started(longRunningTask.createServer(local(home.path)));
  const bytes = randomBytes(3 * 1024 * 1024);
  const client = new Client(30_000);
  try {
    await client.access({
      host: "127.0.0.1",
      port: server.addr.port,
      user: "user",
      password: "12345",
    });
    await client.uploadFrom(Readable.from([Buffer.from(bytes)]), "data.bin");
    // The session's next command waits for the task: the result is there at once.
    await client.downloadTo(`${local_.path}/data.bin.sha256`, "data.bin.sha256");
  } finally {
    client.close();
  }
  const expected = `${sha256(bytes)}  data.bin\n`;
  assertEquals(await Deno.readTextFile(`${local_.path}/data.bin.sha256`), expected);
  assertEquals(await Deno.readTextFile(`${home.path}/data.bin.sha256`), expected);
});

Deno.test("context_manager: leaving the await using block, even by throwing, closes everything", async () => {
  await using home = await tempDir();
  await Deno.writeTextFile(`${home.path}/hello.txt`, "hello");
  let port = 0;
  let client: FtpClient | undefined;
  try {
    const got = await contextManager.serveWhile(async (server) => {
      port = server.addr.port;
      client = await login(port, "anonymous", "guest@");
      return decoder.decode(await client.retr("hello.txt"));
    }, local(home.path));
    assertEquals(got, "hello");
    assert(await client!.closedByServer(), "the open session was closed");
  } finally {
    client?.close();
  }
  await rejects(Deno.connect({ hostname: "127.0.0.1", port }), Deno.errors.ConnectionRefused);

  await rejects(
    contextManager.serveWhile((server) => {
      port = server.addr.port;
      throw new Error("the task failed");
    }, local(home.path)),
    /the task failed/,
  );
  await rejects(Deno.connect({ hostname: "127.0.0.1", port }), Deno.errors.ConnectionRefused);
});

Deno.test({
  name: hasIPv6Loopback
    ? "ipv6: a server on :: serves basic-ftp over ::1 (EPSV) and curl over 127.0.0.1"
    : "ipv6: skipped, this machine has no IPv6 loopback (::1)",
  ignore: !hasIPv6Loopback,
  async fn() {
    await using home = await tempDir();
    await using local_ = await tempDir();
    await Deno.writeTextFile(`${home.path}/hello.txt`, "hello over IPv6");
    const { hostname: _, ...options } = local(home.path);
    await using server = started(ipv6.createServer(options));
    const { hostname, port } = server.addr;
    assertEquals(hostname, "::");
    const client = new Client(30_000);
    try {
      await client.access({ host: "::1", port, user: "user", password: "12345" });
      await client.uploadFrom(Readable.from([Buffer.from("up over IPv6")]), "up.txt");
      await client.downloadTo(`${local_.path}/hello.txt`, "hello.txt");
    } finally {
      client.close();
    }
    assertEquals(await Deno.readTextFile(`${local_.path}/hello.txt`), "hello over IPv6");
    assertEquals(await Deno.readTextFile(`${home.path}/up.txt`), "up over IPv6");
    const v4 = await curl("--user", "user:12345", `ftp://127.0.0.1:${port}/up.txt`);
    assertEquals(v4.code, 0, v4.stderr);
    assertEquals(v4.stdout, "up over IPv6", "dual stack: IPv4 clients too");
  },
});

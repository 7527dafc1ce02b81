/**
 * The config file (`--config`), `--print-config`, `check-config` on a config
 * file and the throttle flags, run for real as child processes against real
 * clients.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { assert, assertEquals, assertMatch, assertStringIncludes } from "./support/assert.ts";
import { type Outcome, runCli, withCli } from "./support/cli.ts";
import { FtpClient } from "./support/ftp_client.ts";
import { withTempDir } from "./support/temp_dir.ts";
import { ARGON } from "./support/users_errors.ts";

const EXAMPLE = fileURLToPath(new URL("../examples/tsftpd.toml", import.meta.url));

/** Asserts exit status 2, nothing on stdout and `message` as the one line of stderr (no hint). */
function assertRefused(outcome: Outcome, message: string): void {
  const context = `exit ${outcome.code}, stderr:\n${outcome.stderr}`;
  assertEquals(outcome.code, 2, context);
  assertEquals(outcome.stdout, "", context);
  assertEquals(outcome.stderr, `tsftpd: ${message}\n`, context);
}

// --- Errors ------------------------------------------------------------------------------

/** A config file's text, and the message after `FILE` its refusal must be. */
const ERROR_CASES: [name: string, text: string, message: string][] = [
  ["a TOML syntax error", `port = 21\nbanner = \n`, ":2: not valid TOML: invalid value"],
  [
    "an unknown top-level key",
    `port = 21\n\nprot = 21\n`,
    ':3: unknown key "prot" (known: interface, port, listen, write, directory, username, ' +
    "password, users, system_users, db, proxy_protocol, trusted_proxy, banner, msg_login, msg_quit, timeout, data_connect_timeout, " +
    "transfer_timeout, auth_failed_timeout, permit_foreign_addresses, permit_privileged_ports, " +
    "use_localtime, disable_sendfile, upload_mode, fsync_uploads, partial_lifetime, buffer_size, " +
    "buffer_budget, concurrency, workers, upload_threads, metrics; " +
    "tables: [passive], [limits], [defender], [tls], [log])",
  ],
  [
    "an unknown key in a table",
    `[limits]\nmax_cons = 5\nmax_connections = 5\n`,
    ':3: unknown key "max_connections" in [limits] (known: max_cons, max_cons_per_ip, backlog, ' +
    "max_login_attempts, read_limit, write_limit, max_line_length)",
  ],
  ["a table given as a value", `tls = true\n`, ":1: tls must be a table: write [tls]"],
  [
    "a wrong type",
    `port = "2121"\n`,
    ':1: port must be a whole number from 0 to 65535, not "2121"',
  ],
  [
    "a value out of range",
    `[tls]\nimplicit_port = 99999\n`,
    ":2: tls.implicit_port must be a whole number from 0 to 65535, not 99999",
  ],
  ["a boolean that is none", `write = "yes"\n`, ':1: write must be true or false, not "yes"'],
  [
    "a malformed size",
    `[limits]\nwrite_limit = "256 KB"\n`,
    ":2: limits.write_limit must be bytes per second, a whole number with an optional K, M " +
    'or G suffix (1024-based), e.g. "512K"; not "256 KB"',
  ],
  [
    "a choice that is none",
    `[log]\nlevel = "loud"\n`,
    ':2: log.level must be debug, info, warning or error, not "loud"',
  ],
  [
    "a log format that is none",
    `[log]\nformat = "xml"\n`,
    ':2: log.format must be text or json, not "xml"',
  ],
  ["an empty log file", `[log]\nfile = ""\n`, ":2: log.file needs a path, not an empty string"],
  [
    "a metrics address without a port",
    `metrics = "127.0.0.1"\n`,
    ':1: metrics must look like ADDRESS:PORT (e.g. 127.0.0.1:9100), not "127.0.0.1"',
  ],
  [
    "a bad port range",
    `[passive]\nports = "60010-60000"\n`,
    ":2: passive.ports start (60010) is above its end (60000)",
  ],
  [
    "a bad NAT address",
    `[passive]\nnat_address = "nat.example"\n`,
    ':2: passive.nat_address must be an IPv4 address, not "nat.example"',
  ],
  [
    "a bad NAT address map",
    `[passive]\nnat_address_map = { "10.0.0.1" = "x" }\n`,
    ':2: passive.nat_address_map maps 10.0.0.1 to "x", which is no IPv4 address',
  ],
  [
    "listen given as a string",
    `listen = "127.0.0.1:21"\n`,
    ':1: listen must be an array of "ADDRESS:PORT" strings, not "127.0.0.1:21"',
  ],
  ["an empty path", `users = ""\n`, ":1: users needs a path, not an empty string"],
  [
    "settings that exclude each other",
    `directory = "/srv"\nusers = "users.toml"\n`,
    ":1: users and directory exclude each other (homes come from the users file)",
  ],
  [
    "system accounts with a users file",
    `system_users = true\nusers = "users.toml"\n`,
    ":2: system_users and users exclude each other (one source of accounts)",
  ],
  ["a user without a password", `username = "bob"\n`, ":1: username needs password"],
  [
    "an FTPS setting without FTPS",
    `[tls]\ncontrol_required = true\n`,
    ":2: tls.control_required needs tls.enabled (or tls.implicit, tls.implicit_port)",
  ],
  [
    "FTPS without a certificate",
    `[tls]\nenabled = true\n`,
    ":2: FTPS needs a certificate: tls.certfile FILE, or tls.self_signed to generate one",
  ],
  [
    "one process and workers",
    `concurrency = "async"\nworkers = 2\n`,
    ":2: concurrency async is one process: it excludes workers",
  ],
  [
    "workers neither a number nor auto",
    `workers = "many"\n`,
    ':1: workers must be a whole number from 0 to 1024, not "many"',
  ],
];

Deno.test("a broken config file: one message naming the file, the line and the key; exit 2 (--config and check-config)", async (t) => {
  await withTempDir(async (dir) => {
    const file = `${dir}/tsftpd.toml`;
    for (const [name, text, message] of ERROR_CASES) {
      await t.step(name, async () => {
        await Deno.writeTextFile(file, text);
        assertRefused(
          await runCli(["--config", file, "-i", "127.0.0.1", "-p", "0"]),
          file + message,
        );
        assertRefused(await runCli(["check-config", file]), file + message);
      });
    }
    await t.step("a file that does not exist", async () => {
      const missing = `${dir}/missing.toml`;
      assertRefused(
        await runCli(["--config", missing]),
        `${missing}: cannot read the config file: No such file or directory`,
      );
    });
    await t.step("a flag clashing with the file names the file's line", async () => {
      await Deno.writeTextFile(file, `# accounts\nusers = "users.toml"\n`);
      const outcome = await runCli(["--config", file, "-d", dir]);
      assertEquals(outcome.code, 2);
      assertEquals(
        outcome.stderr.split("\n")[0],
        `tsftpd: users (${file}:2) and -d/--directory exclude each other ` +
          "(homes come from the users file)",
      );
    });
  });
});

// --- Effective settings --------------------------------------------------------------------

/** The non-comment lines of a `--print-config` output. */
function keys(printed: string): string[] {
  return printed.split("\n").filter((line) => line !== "" && !line.startsWith("#"));
}

Deno.test("--print-config: the settings in effect, flags over the file over the defaults; fed back, the same", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/share`);
    const file = `${dir}/tsftpd.toml`;
    await Deno.writeTextFile(
      file,
      [
        `port = 2121`,
        `directory = "share"`,
        `write = true`,
        `banner = "From the file."`,
        `listen = ["127.0.0.1:2122", "[::1]:2122"]`,
        `metrics = "[::1]:9100"`,
        `[passive]`,
        `ports = "60000-60099"`,
        `nat_address_map = { "10.0.0.1" = "203.0.113.1" }`,
        `[limits]`,
        `write_limit = 262144`,
        `read_limit = "1M"`,
        `[log]`,
        `level = "warning"`,
        `file = "logs/ftpd.log"`,
        "",
      ].join("\n"),
    );
    const printed = await runCli([
      "--config",
      file,
      "--print-config",
      ..."-p 0 --banner Flag. --no-write -D -u bob -P s3cret --log-format json".split(" "),
    ]);
    assertEquals([printed.code, printed.stderr], [0, ""]);
    assertEquals(keys(printed.stdout), [
      "port = 0",
      `listen = ["127.0.0.1:2122", "[::1]:2122"]`,
      "write = false",
      `directory = "${dir}/share"`,
      `username = "bob"`,
      `banner = "Flag."`,
      `metrics = "[::1]:9100"`,
      "[passive]",
      `ports = "60000-60099"`,
      `nat_address_map = { "10.0.0.1" = "203.0.113.1" }`,
      "[limits]",
      `read_limit = "1M"`,
      `write_limit = "256K"`,
      "[defender]",
      "[tls]",
      "[log]",
      `level = "debug"`,
      `file = "${dir}/logs/ftpd.log"`,
      `format = "json"`,
    ]);
    assert(!printed.stdout.includes("s3cret"), "the password is never printed");
    assertStringIncludes(
      printed.stdout,
      "\n# password = (set, not shown: give it again with -P/--password)\n",
    );
    assertStringIncludes(printed.stdout, "\n# timeout = 300\n", "defaults, commented out");
    assertStringIncludes(printed.stdout, "\n# nat_address = (not set)\n");

    // Fed back (with the password given again), the same settings are in effect.
    const again = `${dir}/again.toml`;
    await Deno.writeTextFile(again, printed.stdout);
    const reprinted = await runCli(["--config", again, "--print-config", "-P", "s3cret"]);
    assertEquals([reprinted.code, reprinted.stderr], [0, ""]);
    assertEquals(reprinted.stdout, printed.stdout);
    const checked = await runCli(["check-config", again]);
    const line = printed.stdout.split("\n").indexOf(`username = "bob"`) + 1;
    assertRefused(checked, `${again}:${line}: username needs password`);
  });
});

Deno.test("a server started from a config file serves a real client; flags override the file", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/share`);
    await Deno.writeTextFile(`${dir}/share/hello.txt`, "hello from the share\n");
    const file = `${dir}/tsftpd.toml`;
    await Deno.writeTextFile(
      file,
      [
        `interface = "192.0.2.1"         # overridden by -i 127.0.0.1`,
        `port = 1                        # overridden by -p 0`,
        `listen = ["127.0.0.1:0"]`,
        `directory = "share"             # taken from the file's directory`,
        `write = true`,
        `banner = "Served from a config file."`,
        `msg_login = "In you go."`,
        `[passive]`,
        `ports = "1-2"                   # overridden by -r`,
        `[log]`,
        `level = "debug"`,
        "",
      ].join("\n"),
    );
    // withCli adds -i 127.0.0.1 -p 0 (and runs elsewhere than the file's directory).
    const log = await withCli(["--config", file, "-r", "60000-65000"], "/", async (running) => {
      await running.waitForLog(/starting FTP server on 127\.0\.0\.1:\d+[^]*starting FTP server/);
      const all = [...running.log.matchAll(/starting FTP server on 127\.0\.0\.1:(\d+)/g)]
        .map((match) => Number(match[1]));
      assertEquals(all.length, 2, "the -p listener and the one of listen");
      assertEquals(all[0], running.port);
      for (const port of all) {
        const client = await FtpClient.connect(port);
        try {
          assertEquals(client.greeting.text, "Served from a config file.");
          await client.expect("USER anonymous", 331);
          assertEquals((await client.expect("PASS x", 230)).text, "In you go.");
          await client.expect("TYPE I", 200);
          const pasv = await client.expect("PASV", 227);
          const [, high, low] = /,(\d+),(\d+)\)/.exec(pasv.text)!;
          const port = Number(high) * 256 + Number(low);
          assert(port >= 60000 && port <= 65000, `a port of -r's range, not the file's: ${port}`);
          await client.store(`up-${port}.txt`, new TextEncoder().encode("uploaded"));
          assertEquals(
            new TextDecoder().decode(await client.retr("hello.txt")),
            "hello from the share\n",
          );
          await client.expect("QUIT", 221);
        } finally {
          client.close();
        }
      }
    });
    assertMatch(log, /^\[D /m, "the file's log level");
    const uploads = [...Deno.readDirSync(`${dir}/share`)].filter((entry) =>
      entry.name.startsWith("up-")
    );
    assertEquals(uploads.length, 2, "write = true: both uploads landed in the share");
  });
});

// --- check-config and the example ---------------------------------------------------------

Deno.test("check-config: a config file, with the users file it names; the example in examples/", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/alice`);
    await Deno.writeTextFile(
      `${dir}/users.toml`,
      `[[user]]\nname = "alice"\npassword = "${ARGON}"\nhome = "alice"\n`,
    );
    const file = `${dir}/tsftpd.toml`;
    await Deno.writeTextFile(file, `users = "users.toml"\n[limits]\nread_limit = "1M"\n`);
    const outcome = await runCli(["check-config", file]);
    assertEquals([outcome.code, outcome.stderr], [0, ""]);
    assertEquals(
      outcome.stdout,
      `${file}: config file, 2 settings: OK\n${dir}/users.toml: 1 user, 0 overrides: OK\n`,
    );
    await Deno.remove(`${dir}/users.toml`);
    assertRefused(
      await runCli(["check-config", file]),
      `${dir}/users.toml: cannot read the users file: No such file or directory`,
    );
  });
  const example = await runCli(["check-config", EXAMPLE], { cwd: "/" });
  assertEquals([example.code, example.stderr], [0, ""], example.stdout);
  assertMatch(example.stdout, /^.*examples\/tsftpd\.toml: config file, \d+ settings: OK\n/);
});

// --- Throttling ----------------------------------------------------------------------------

const MIB = 1024 * 1024;
const LIMIT = 256 * 1024;

Deno.test("--write-limit and --read-limit hold downloads and uploads under their rate", async () => {
  await withTempDir(async (dir) => {
    const big = crypto.getRandomValues(new Uint8Array(64 * 1024));
    const bytes = new Uint8Array(MIB);
    for (let offset = 0; offset < MIB; offset += big.length) bytes.set(big, offset);
    await Deno.writeFile(`${dir}/big.bin`, bytes);
    for (const disableSendfile of [false, true]) {
      const args = ["-w", "-d", dir, "--write-limit", "256K", "--read-limit", "256K"];
      await withCli(
        disableSendfile ? [...args, "--disable-sendfile"] : args,
        dir,
        async (running) => {
          const client = await FtpClient.login(running.port, "anonymous", "x");
          try {
            await client.expect("TYPE I", 200);
            // A slow machine only makes a transfer slower: the rate measured can only be
            // above the limit if the limit is not applied.
            let started = performance.now();
            const got = await client.retr("big.bin");
            const down = got.length / ((performance.now() - started) / 1000);
            assertEquals(got.length, MIB);
            assert(down < 2 * LIMIT, `download at ${Math.round(down)} B/s, limit ${LIMIT}`);
            started = performance.now();
            await client.store("up.bin", bytes);
            const up = MIB / ((performance.now() - started) / 1000);
            assert(up < 2 * LIMIT, `upload at ${Math.round(up)} B/s, limit ${LIMIT}`);
          } finally {
            client.close();
          }
        },
      );
    }
  });
});

/**
 * The command line's parsing and the servers it builds, without a child process:
 * every flag's effect on the configuration, every refusal's words, and the server
 * options each flag ends in. `tests/cli_test.ts` runs the real CLI.
 *
 * @module
 */

import {
  type CliConfig,
  CliError,
  createAuthorizer,
  createServers,
  parseCli,
  type TlsCliConfig,
} from "../src/cli.ts";
import { Logger } from "../mod.ts";
import { assert, assertEquals } from "./support/assert.ts";
import { testCerts } from "./support/certs.ts";

/** A {@linkcode CliConfig} without the settings it was made of. */
type Config = Omit<CliConfig, "effective">;

const DEFAULTS: Config = {
  hostname: "0.0.0.0",
  port: 2121,
  listen: [],
  write: false,
  directory: Deno.cwd(),
  natAddress: null,
  natAddressMap: {},
  passivePorts: null,
  logLevel: "info",
  verbose: false,
  logPrefix: "%(remote_ip)s:%(remote_port)s-[%(username)s]",
  username: null,
  password: null,
  msgLogin: null,
  msgQuit: null,
  timeout: 300,
  dataConnectTimeout: 30,
  transferTimeout: 300,
  authFailedTimeout: 3,
  banner: null,
  permitForeignAddresses: false,
  permitPrivilegedPorts: false,
  useLocaltime: false,
  disableSendfile: false,
  uploadMode: "atomic-keep-partial",
  fsyncUploads: false,
  partialLifetime: 86400,
  bufferSize: 1024 * 1024,
  bufferBudget: 16 * 1024 * 1024,
  maxCons: 512,
  maxConsPerIp: 0,
  maxLoginAttempts: 3,
  maxLineLength: 2048,
  backlog: 4096,
  uploadThreads: null,
  defender: {
    threshold: 20,
    observationTime: 600,
    banTime: 600,
    maxBanTime: 86400,
    allowList: ["127.0.0.0/8", "::1"],
  },
  readLimit: 0,
  writeLimit: 0,
  workers: 1,
  users: null,
  systemUsers: false,
  db: null,
  trustedProxies: null,
  tls: null,
  logFile: null,
  logFormat: "text",
  metrics: null,
  printConfig: false,
};

/** What `args` parse to, without the settings it was made of (or `help`, `version`). */
async function parse(args: string[]): Promise<Config | "help" | "version"> {
  const parsed = await parseCli(args);
  if (typeof parsed === "string") return parsed;
  const { effective: _, ...config } = parsed;
  return config;
}

/** The message `args` are refused with. */
async function refusal(args: string[]): Promise<string> {
  try {
    await parseCli(args);
  } catch (error) {
    assert(error instanceof CliError, `a CliError, not ${error}`);
    assertEquals(error.name, "CliError");
    return error.message;
  }
  throw new Error(`${args.join(" ")} was accepted`);
}

Deno.test("parseCli: the defaults, and each flag's own effect", async () => {
  assertEquals(await parse([]), DEFAULTS);
  const cases: [string[], Partial<Config>][] = [
    [["-i", "127.0.0.1", "-p", "65535"], { hostname: "127.0.0.1", port: 65535 }],
    [["-p", "0"], { port: 0 }],
    [["-w", "-d", "/srv"], { write: true, directory: "/srv" }],
    [["-n", "203.0.113.9"], { natAddress: "203.0.113.9" }],
    [["-r", "60000-60010"], { passivePorts: { from: 60000, to: 60010 } }],
    [["-r", "60000-60000"], { passivePorts: { from: 60000, to: 60000 } }],
    [["-D", "-V"], { logLevel: "debug", verbose: true }],
    [["--log-level", "warning"], { logLevel: "warning" }],
    [["--log-level", "warning", "-D"], { logLevel: "debug" }],
    [["--log-prefix", "[%(username)s]"], { logPrefix: "[%(username)s]" }],
    [
      ["--listen", "127.0.0.1:2122", "--listen", "[::1]:0"],
      { listen: [{ hostname: "127.0.0.1", port: 2122 }, { hostname: "::1", port: 0 }] },
    ],
    [
      ["--nat-address-map", "10.0.0.1=203.0.113.1", "--nat-address-map", "10.0.0.2=203.0.113.2"],
      { natAddressMap: { "10.0.0.1": "203.0.113.1", "10.0.0.2": "203.0.113.2" } },
    ],
    [["--msg-login", "Hi.", "--msg-quit", "Bye."], { msgLogin: "Hi.", msgQuit: "Bye." }],
    [
      ["--data-connect-timeout", "5", "--transfer-timeout", "6", "--auth-failed-timeout", "0"],
      { dataConnectTimeout: 5, transferTimeout: 6, authFailedTimeout: 0 },
    ],
    [["--buffer-size", "64K", "--buffer-budget", "2M"], {
      bufferSize: 65536,
      bufferBudget: 2097152,
    }],
    [["--read-limit", "256K", "--write-limit", "1.5M"], { readLimit: 262144, writeLimit: 1572864 }],
    [["--read-limit", "1000", "--write-limit", "1G"], { readLimit: 1000, writeLimit: 1024 ** 3 }],
    [["--max-line-length", "4096"], { maxLineLength: 4096 }],
    [["--print-config"], { printConfig: true }],
    [["-w", "--no-write"], { write: false }],
    [["-u", "alice", "-P", "pw"], { username: "alice", password: "pw" }],
    [["--timeout", "1"], { timeout: 1 }],
    [["--banner", "Hi."], { banner: "Hi." }],
    [["--permit-foreign-addresses"], { permitForeignAddresses: true }],
    [["--permit-privileged-ports"], { permitPrivilegedPorts: true }],
    [["--use-localtime"], { useLocaltime: true }],
    [["--disable-sendfile"], { disableSendfile: true }],
    [["--upload-mode", "direct", "--fsync-uploads"], { uploadMode: "direct", fsyncUploads: true }],
    [["--partial-lifetime", "600"], { partialLifetime: 600 }],
    [["--max-cons", "0", "--max-cons-per-ip", "7"], { maxCons: 0, maxConsPerIp: 7 }],
    [["--max-login-attempts", "1000"], { maxLoginAttempts: 1000 }],
    [["--backlog", "1000"], { backlog: 1000 }],
    [["--upload-threads", "0"], { uploadThreads: 0 }],
    [["--defender-off"], { defender: null }],
    [
      [
        ..."--defender-threshold 5 --defender-observation-time 60 --defender-ban-time 30".split(
          " ",
        ),
        ..."--defender-max-ban-time 3600 --defender-allow 10.0.0.0/8 --defender-allow ::1".split(
          " ",
        ),
      ],
      {
        defender: {
          threshold: 5,
          observationTime: 60,
          banTime: 30,
          maxBanTime: 3600,
          allowList: ["10.0.0.0/8", "::1"],
        },
      },
    ],
    [["--users", "users.toml"], { users: "users.toml" }],
    [["--db", "postgres://tsftpd@db/tsftpd"], { db: "postgres://tsftpd@db/tsftpd" }],
    [
      ["--proxy-protocol", "--trusted-proxy", "10.0.0.0/8", "--trusted-proxy", "::1"],
      { trustedProxies: ["10.0.0.0/8", "::1"] },
    ],
    [["--log-file", "ftpd.log", "--log-format", "json"], {
      logFile: "ftpd.log",
      logFormat: "json",
    }],
    [["--log-format", "text"], { logFormat: "text" }],
    [["--metrics", "127.0.0.1:9100"], { metrics: { hostname: "127.0.0.1", port: 9100 } }],
    [["--metrics", "[::1]:0"], { metrics: { hostname: "::1", port: 0 } }],
    [["--metrics", "localhost:9100"], { metrics: { hostname: "localhost", port: 9100 } }],
    [["--system-users"], { systemUsers: true }],
    [["--workers", "2"], { workers: 2 }],
    [["--workers", "0"], { workers: 0 }],
    [["--workers", "auto"], { workers: 0 }],
    [["--concurrency", "async"], { workers: 1 }],
    [["--concurrency", "async", "--workers", "1"], { workers: 1 }],
    [["--concurrency", "multi-proc"], { workers: 0 }],
    [["--concurrency", "multi-thread"], { workers: 0 }],
    [["--concurrency", "multi-proc", "--workers", "3"], { workers: 3 }],
  ];
  for (const [args, changed] of cases) {
    assertEquals(await parse(args), { ...DEFAULTS, ...changed }, args.join(" "));
  }
  assertEquals(await parse(["-h"]), "help");
  assertEquals(await parse(["-v"]), "version");
});

Deno.test("parseCli: the FTPS flags", async () => {
  const tls: TlsCliConfig = {
    certfile: "c.pem",
    keyfile: null,
    selfSigned: false,
    controlRequired: false,
    dataRequired: false,
    requireSessionReuse: false,
    implicit: false,
    implicitPort: null,
    minVersion: "TLSv1.2",
  };
  assertEquals(await parse(["--tls", "--certfile", "c.pem"]), { ...DEFAULTS, tls });
  const cases: [string[], Partial<TlsCliConfig>][] = [
    [["--keyfile", "k.pem"], { keyfile: "k.pem" }],
    [["--tls-control-required"], { controlRequired: true }],
    [["--tls-data-required"], { dataRequired: true }],
    [["--tls-require-session-reuse"], { requireSessionReuse: true }],
    [["--implicit-tls"], { implicit: true }],
    [["--implicit-port", "990"], { implicitPort: 990 }],
    [["--tls-min-version", "TLSv1.3"], { minVersion: "TLSv1.3" }],
  ];
  for (const [args, changed] of cases) {
    const parsed = await parseCli(["--tls", "--certfile", "c.pem", ...args]) as CliConfig;
    assertEquals(parsed.tls, { ...tls, ...changed }, args.join(" "));
  }
  assertEquals(
    (await parseCli(["--implicit-port", "990", "--self-signed"]) as CliConfig).tls,
    { ...tls, certfile: null, selfSigned: true, implicitPort: 990 },
    "--implicit-port alone asks for FTPS",
  );
  assertEquals(
    (await parseCli(["--implicit-tls", "--self-signed"]) as CliConfig).tls?.implicit,
    true,
    "--implicit-tls alone asks for FTPS",
  );
});

Deno.test("parseCli: each refusal, word for word", async () => {
  const cases: [string[], string][] = [
    [["--proxy-protocol"], "--proxy-protocol needs --trusted-proxy"],
    [["--trusted-proxy", "127.0.0.1"], "--trusted-proxy needs --proxy-protocol"],
    [
      ["--proxy-protocol", "--trusted-proxy", "10.0.0.0/33"],
      "--trusted-proxy must be an IP address or a CIDR network (10.0.0.0/8, 2001:db8::/32), " +
      'not "10.0.0.0/33"',
    ],
    [
      ["--db", "postgres://db/x", "--users", "users.toml"],
      "--db and --users exclude each other (one source of accounts)",
    ],
    [
      ["--db", "postgres://db/x", "-w"],
      "--db and -w/--write exclude each other (permissions come from the database)",
    ],
    [["-p", "x"], '--port must be a whole number from 0 to 65535, not "x"'],
    [
      ["--defender-allow", "10.0.0.0/33"],
      "--defender-allow must be an IP address or a CIDR network (10.0.0.0/8, 2001:db8::/32), " +
      'not "10.0.0.0/33"',
    ],
    [["--backlog", "0"], '--backlog must be a whole number from 1 to 1000000, not "0"'],
    [
      ["--write-limit", "10 MB/s"],
      "--write-limit must be bytes per second, a whole number with an optional K, M or G " +
      'suffix (1024-based), e.g. "512K"; not "10 MB/s"',
    ],
    [
      ["--listen", "localhost:21"],
      '--listen must be ADDRESS:PORT (an IP address; [::1]:2121 for IPv6), not "localhost:21"',
    ],
    [
      ["--listen", "127.0.0.1:70000"],
      '--listen port must be a whole number from 0 to 65535, not "70000"',
    ],
    [
      ["--nat-address-map", "10.0.0.1"],
      '--nat-address-map must be LOCAL=PUBLIC (two IPv4 addresses), not "10.0.0.1"',
    ],
    [
      ["--nat-address-map", "10.0.0.1=nat.example"],
      '--nat-address-map maps 10.0.0.1 to "nat.example", which is no IPv4 address',
    ],
    [
      ["--log-level", "loud"],
      '--log-level must be debug, info, warning or error, not "loud"',
    ],
    [["--users", ""], "--users needs a path, not an empty string"],
    [
      ["--users", "u.toml", "--msg-login", "Hi"],
      "--users and --msg-login exclude each other (messages come from the users file)",
    ],
    [["--frobnicate"], "Unknown option '--frobnicate'"],
    [["-p", "1x"], '--port must be a whole number from 0 to 65535, not "1x"'],
    [["-p", "x1"], '--port must be a whole number from 0 to 65535, not "x1"'],
    [["-p", "65536"], '--port must be a whole number from 0 to 65535, not "65536"'],
    [["-r", "10-20x"], '--range must look like FROM-TO (e.g. 60000-65535), not "10-20x"'],
    [["-r", "x10-20"], '--range must look like FROM-TO (e.g. 60000-65535), not "x10-20"'],
    [["-r", "0-20"], '--range start must be a whole number from 1 to 65535, not "0"'],
    [["-r", "20-70000"], '--range end must be a whole number from 1 to 65535, not "70000"'],
    [["-r", "20-10"], "--range start (20) is above its end (10)"],
    [
      ["--concurrency", "async", "--workers", "2"],
      "--concurrency async is one process: it excludes --workers",
    ],
    [["--workers", "x"], '--workers must be a whole number from 0 to 1024, not "x"'],
    [["--workers", "1025"], '--workers must be a whole number from 0 to 1024, not "1025"'],
    [
      ["--concurrency", "bogus"],
      '--concurrency must be async, multi-thread or multi-proc, not "bogus"',
    ],
    [["-u", "alice"], "-u/--username needs -P/--password"],
    [
      ["--system-users", "--users", "u.toml"],
      "--system-users and --users exclude each other (one source of accounts)",
    ],
    [
      ["--system-users", "-w"],
      "--system-users and -w/--write exclude each other (the system's permissions decide)",
    ],
    [
      ["--system-users", "-d", "/srv"],
      "--system-users and -d/--directory exclude each other (each account has its home)",
    ],
    [["-P", "pw"], "-P/--password needs -u/--username"],
    [["-n", "nat.example"], '--nat-address must be an IPv4 address, not "nat.example"'],
    [["--tls"], "FTPS needs a certificate: --certfile FILE, or --self-signed to generate one"],
    [
      ["--tls", "--certfile", "c", "--self-signed"],
      "--certfile and --self-signed exclude each other",
    ],
    [["--tls", "--self-signed", "--keyfile", "k"], "--keyfile needs --certfile"],
    [
      ["--tls", "--certfile", "c", "--implicit-port", "x"],
      '--implicit-port must be a whole number from 0 to 65535, not "x"',
    ],
    [["--log-file", ""], "--log-file needs a path, not an empty string"],
    [["--log-format", "JSON"], '--log-format must be text or json, not "JSON"'],
    [
      ["--upload-mode", "safe"],
      '--upload-mode must be atomic-keep-partial, atomic or direct, not "safe"',
    ],
    [
      ["--metrics", "9100"],
      '--metrics must look like ADDRESS:PORT (e.g. 127.0.0.1:9100), not "9100"',
    ],
    [
      ["--metrics", ":9100"],
      '--metrics must look like ADDRESS:PORT (e.g. 127.0.0.1:9100), not ":9100"',
    ],
    [
      ["--metrics", "::1:9100"],
      '--metrics must look like ADDRESS:PORT (e.g. 127.0.0.1:9100), not "::1:9100"',
    ],
    [
      ["--metrics", "127.0.0.1:x"],
      '--metrics port must be a whole number from 0 to 65535, not "x"',
    ],
    [
      ["--metrics", "127.0.0.1:65536"],
      '--metrics port must be a whole number from 0 to 65535, not "65536"',
    ],
  ];
  for (
    const name of [
      "certfile",
      "keyfile",
      "self-signed",
      "tls-control-required",
      "tls-data-required",
      "tls-require-session-reuse",
      "tls-min-version",
    ]
  ) {
    const value = ["certfile", "keyfile"].includes(name)
      ? ["x"]
      : name === "tls-min-version"
      ? ["TLSv1.3"]
      : [];
    cases.push([
      [`--${name}`, ...value],
      `--${name} needs --tls (or --implicit-tls, --implicit-port)`,
    ]);
  }
  for (const [args, message] of cases) {
    assertEquals(await refusal(args), message, args.join(" "));
  }
});

Deno.test("createServers: each flag reaches the server's options", async () => {
  const logger = new Logger({ level: "error", sink: () => {} });
  const serve = async (config: CliConfig) =>
    await createServers(config, logger, await createAuthorizer(config, logger));
  const base = { ...(await parseCli([]) as CliConfig), hostname: "127.0.0.1", port: 0 };
  const [plain] = await serve(base);
  try {
    const { config } = plain;
    assertEquals(
      [
        config.permitForeignAddresses,
        config.permitPrivilegedPorts,
        config.useGmtTimes,
        config.useSendfile,
      ],
      [false, false, true, true],
    );
    assertEquals(config.banner.startsWith("tsftpd "), true, "the default banner");
    assertEquals(config.tls, null);
    assert(
      await config.authorizer.validateAuthentication("anonymous", "", undefined as never).then(
        () => true,
        () => false,
      ),
    );
    assertEquals(await config.authorizer.getPerms("anonymous"), "elr", "read-only without -w");
  } finally {
    await plain.closeAll();
  }
  const [changed] = await serve({
    ...base,
    write: true,
    username: "alice",
    password: "pw",
    banner: "Hello.",
    permitForeignAddresses: true,
    permitPrivilegedPorts: true,
    useLocaltime: true,
    disableSendfile: true,
    uploadMode: "atomic",
    fsyncUploads: true,
    partialLifetime: 60,
  });
  try {
    const { config } = changed;
    assertEquals(
      [
        config.permitForeignAddresses,
        config.permitPrivilegedPorts,
        config.useGmtTimes,
        config.useSendfile,
        config.uploadMode,
        config.fsyncUploads,
        config.partialLifetime,
      ],
      [true, true, false, false, "atomic", true, 60],
    );
    assertEquals(config.banner, "Hello.");
    assertEquals(await config.authorizer.getPerms("alice"), "elradfmwMT");
    await config.authorizer.validateAuthentication("alice", "pw", undefined as never);
  } finally {
    await changed.closeAll();
  }
  const { cert, key } = await testCerts();
  const tls: TlsCliConfig = {
    certfile: cert,
    keyfile: key,
    selfSigned: false,
    controlRequired: true,
    dataRequired: true,
    requireSessionReuse: true,
    implicit: false,
    implicitPort: 0,
    minVersion: "TLSv1.2",
  };
  const servers = await serve({ ...base, tls });
  try {
    assertEquals(servers.length, 2, "the -p listener and the implicit one");
    const [explicit, implicit] = servers.map((server) => server.config.tls!);
    assertEquals(
      [
        explicit.implicit,
        explicit.controlRequired,
        explicit.dataRequired,
        explicit.requireSessionReuse,
      ],
      [false, true, true, true],
    );
    assertEquals(implicit.implicit, true);
    assertEquals(
      servers.map((server) => server.config.metrics),
      [null, null],
      "no metrics without --metrics",
    );
  } finally {
    for (const server of servers) await server.closeAll();
  }
  const counted = await serve({ ...base, tls, metrics: { hostname: "127.0.0.1", port: 0 } });
  for (const server of counted) await server.closeAll();
  assert(counted[0].config.metrics !== null, "--metrics: the servers count");
  assert(counted[0].config.metrics === counted[1].config.metrics, "in one registry");
  const alone = await serve({ ...base, tls: { ...tls, implicitPort: null } });
  for (const server of alone) await server.closeAll();
  assertEquals(alone.length, 1, "no implicit listener without --implicit-port");
});

Deno.test("createServers: the settings beyond pyftpdlib's flags reach the server's options", async () => {
  const logger = new Logger({ level: "error", sink: () => {} });
  const config = await parseCli([
    ..."-i 127.0.0.1 -p 0 --listen 127.0.0.1:0".split(" "),
    ..."--read-limit 256K --write-limit 1M --transfer-timeout 7 --data-connect-timeout 8".split(
      " ",
    ),
    ..."--auth-failed-timeout 0 --buffer-size 64K --buffer-budget 4M --max-line-length 512".split(
      " ",
    ),
    ..."--nat-address-map 10.0.0.1=203.0.113.1 --log-prefix [%(username)s]".split(" "),
    ..."--msg-login Hello --msg-quit Bye".split(" "),
    ..."--defender-threshold 7 --defender-allow 192.0.2.0/24".split(" "),
  ]) as CliConfig;
  const servers = await createServers(config, logger, await createAuthorizer(config, logger));
  try {
    assertEquals(servers.length, 2, "the -p listener and the --listen one");
    assert(servers[0].addr.port !== servers[1].addr.port);
    const defender = servers[0].defender!;
    assertEquals(servers[1].defender, defender, "one defender: banned on one listener, on all");
    assertEquals([defender.threshold, defender.isAllowed("192.0.2.9")], [7, true]);
    assertEquals(
      defender.isAllowed("127.0.0.1"),
      false,
      "the allow-list given replaces the default",
    );
    for (const { config } of servers) {
      assertEquals(config.dtp, {
        timeout: 7,
        bufferSize: 65536,
        bufferBudget: 4 * 1024 * 1024,
        readLimit: 262144,
        writeLimit: 1024 * 1024,
      });
      assertEquals(
        [config.dataConnectTimeout, config.authFailedTimeout, config.maxLineLength],
        [8, 0, 512],
      );
      assertEquals(config.masqueradeAddressMap, { "10.0.0.1": "203.0.113.1" });
      assertEquals(config.logPrefix, "[%(username)s]");
      assertEquals(await config.authorizer.getMsgLogin("anonymous"), "Hello");
      assertEquals(await config.authorizer.getMsgQuit("anonymous"), "Bye");
    }
  } finally {
    for (const server of servers) await server.closeAll();
  }
});

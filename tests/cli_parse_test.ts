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

const DEFAULTS: CliConfig = {
  hostname: "0.0.0.0",
  port: 2121,
  write: false,
  directory: Deno.cwd(),
  natAddress: null,
  passivePorts: null,
  debug: false,
  verbose: false,
  username: null,
  password: null,
  timeout: 300,
  banner: null,
  permitForeignAddresses: false,
  permitPrivilegedPorts: false,
  useLocaltime: false,
  disableSendfile: false,
  maxCons: 512,
  maxConsPerIp: 0,
  maxLoginAttempts: 3,
  workers: 1,
  users: null,
  tls: null,
};

/** The message `args` are refused with. */
function refusal(args: string[]): string {
  try {
    parseCli(args);
  } catch (error) {
    assert(error instanceof CliError, `a CliError, not ${error}`);
    assertEquals(error.name, "CliError");
    return error.message;
  }
  throw new Error(`${args.join(" ")} was accepted`);
}

Deno.test("parseCli: the defaults, and each flag's own effect", () => {
  assertEquals(parseCli([]), DEFAULTS);
  const cases: [string[], Partial<CliConfig>][] = [
    [["-i", "127.0.0.1", "-p", "65535"], { hostname: "127.0.0.1", port: 65535 }],
    [["-p", "0"], { port: 0 }],
    [["-w", "-d", "/srv"], { write: true, directory: "/srv" }],
    [["-n", "203.0.113.9"], { natAddress: "203.0.113.9" }],
    [["-r", "60000-60010"], { passivePorts: { from: 60000, to: 60010 } }],
    [["-r", "60000-60000"], { passivePorts: { from: 60000, to: 60000 } }],
    [["-D", "-V"], { debug: true, verbose: true }],
    [["-u", "alice", "-P", "pw"], { username: "alice", password: "pw" }],
    [["--timeout", "1"], { timeout: 1 }],
    [["--banner", "Hi."], { banner: "Hi." }],
    [["--permit-foreign-addresses"], { permitForeignAddresses: true }],
    [["--permit-privileged-ports"], { permitPrivilegedPorts: true }],
    [["--use-localtime"], { useLocaltime: true }],
    [["--disable-sendfile"], { disableSendfile: true }],
    [["--max-cons", "0", "--max-cons-per-ip", "7"], { maxCons: 0, maxConsPerIp: 7 }],
    [["--max-login-attempts", "1000"], { maxLoginAttempts: 1000 }],
    [["--users", "users.toml"], { users: "users.toml" }],
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
    assertEquals(parseCli(args), { ...DEFAULTS, ...changed }, args.join(" "));
  }
  assertEquals(parseCli(["-h"]), "help");
  assertEquals(parseCli(["-v"]), "version");
});

Deno.test("parseCli: the FTPS flags", () => {
  const tls: TlsCliConfig = {
    certfile: "c.pem",
    keyfile: null,
    selfSigned: false,
    controlRequired: false,
    dataRequired: false,
    requireSessionReuse: false,
    implicit: false,
    implicitPort: null,
  };
  assertEquals(parseCli(["--tls", "--certfile", "c.pem"]), { ...DEFAULTS, tls });
  const cases: [string[], Partial<TlsCliConfig>][] = [
    [["--keyfile", "k.pem"], { keyfile: "k.pem" }],
    [["--tls-control-required"], { controlRequired: true }],
    [["--tls-data-required"], { dataRequired: true }],
    [["--tls-require-session-reuse"], { requireSessionReuse: true }],
    [["--implicit-tls"], { implicit: true }],
    [["--implicit-port", "990"], { implicitPort: 990 }],
  ];
  for (const [args, changed] of cases) {
    const parsed = parseCli(["--tls", "--certfile", "c.pem", ...args]) as CliConfig;
    assertEquals(parsed.tls, { ...tls, ...changed }, args.join(" "));
  }
  assertEquals(
    (parseCli(["--implicit-port", "990", "--self-signed"]) as CliConfig).tls,
    { ...tls, certfile: null, selfSigned: true, implicitPort: 990 },
    "--implicit-port alone asks for FTPS",
  );
  assertEquals(
    (parseCli(["--implicit-tls", "--self-signed"]) as CliConfig).tls?.implicit,
    true,
    "--implicit-tls alone asks for FTPS",
  );
});

Deno.test("parseCli: each refusal, word for word", () => {
  const cases: [string[], string][] = [
    [["-p", "x"], '--port must be a whole number from 0 to 65535, not "x"'],
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
  ];
  for (
    const name of [
      "certfile",
      "keyfile",
      "self-signed",
      "tls-control-required",
      "tls-data-required",
      "tls-require-session-reuse",
    ]
  ) {
    const value = ["certfile", "keyfile"].includes(name) ? ["x"] : [];
    cases.push([
      [`--${name}`, ...value],
      `--${name} needs --tls (or --implicit-tls, --implicit-port)`,
    ]);
  }
  for (const [args, message] of cases) assertEquals(refusal(args), message, args.join(" "));
});

Deno.test("createServers: each flag reaches the server's options", async () => {
  const logger = new Logger({ level: "error", sink: () => {} });
  const serve = async (config: CliConfig) =>
    await createServers(config, logger, await createAuthorizer(config, logger));
  const base = { ...DEFAULTS, hostname: "127.0.0.1", port: 0 };
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
  });
  try {
    const { config } = changed;
    assertEquals(
      [
        config.permitForeignAddresses,
        config.permitPrivilegedPorts,
        config.useGmtTimes,
        config.useSendfile,
      ],
      [true, true, false, false],
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
  } finally {
    for (const server of servers) await server.closeAll();
  }
  const alone = await serve({ ...base, tls: { ...tls, implicitPort: null } });
  for (const server of alone) await server.closeAll();
  assertEquals(alone.length, 1, "no implicit listener without --implicit-port");
});

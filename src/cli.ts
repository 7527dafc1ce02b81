/**
 * The `tsftpd` command line, with the flags of `python -m pyftplib` (1.5 and 2.x).
 *
 * @module
 */

import { parseArgs } from "node:util";
import type { Authorizer } from "./auth/authorizer.ts";
import { DummyAuthorizer } from "./auth/dummy.ts";
import { UsersFileAuthorizer, UsersFileError } from "./auth/users_file.ts";
import { checkConfigCommand, describeUsers, loadUsers } from "./cli/check_config.ts";
import { CliError } from "./cli/errors.ts";
import { hashPasswordCommand } from "./cli/hash_password.ts";
import { Logger } from "./log.ts";
import { isIPv4 } from "./net.ts";
import { FTPServer, type FTPServerOptions } from "./server.ts";
import { TlsConfigError, type TLSOptions } from "./tls.ts";
import { VERSION } from "./version.ts";
import { systemReason } from "./errors.ts";
import { sharedWithWorkers, WorkersUnavailable } from "./workers/role.ts";

export { CliError };

/** What the command line asks for. */
export interface CliConfig {
  hostname: string;
  port: number;
  write: boolean;
  directory: string;
  natAddress: string | null;
  passivePorts: { from: number; to: number } | null;
  debug: boolean;
  verbose: boolean;
  username: string | null;
  password: string | null;
  /** The users file (`--users`): its accounts instead of anonymous or `-u`. */
  users: string | null;
  timeout: number;
  banner: string | null;
  permitForeignAddresses: boolean;
  permitPrivilegedPorts: boolean;
  useLocaltime: boolean;
  disableSendfile: boolean;
  maxCons: number;
  maxConsPerIp: number;
  maxLoginAttempts: number;
  /** Processes serving clients (`--workers`; `--concurrency multi-proc`/`multi-thread`): 1 is this one alone, 0 one per core. */
  workers: number;
  tls: TlsCliConfig | null;
}

/** The FTPS part of the command line. */
export interface TlsCliConfig {
  certfile: string | null;
  keyfile: string | null;
  selfSigned: boolean;
  controlRequired: boolean;
  dataRequired: boolean;
  requireSessionReuse: boolean;
  /** The main listener speaks implicit FTPS. */
  implicit: boolean;
  /** A second listener, for implicit FTPS, beside the main one. */
  implicitPort: number | null;
}

/** The `--help` text. */
export const USAGE = `Usage: tsftpd [options]
       tsftpd hash-password        read a password, print its argon2id hash for a users file
       tsftpd check-config FILE    check a users file without starting the server

Start a stand-alone FTP server sharing a directory (anonymous, read-only by default),
or serving the accounts of a users file (--users).

Options:
  -h, --help                   show this help and exit
  -v, --version                print the version and exit
  -i, --interface ADDRESS      listen on this address (default: all interfaces)
  -p, --port PORT              listen on this port (default: 2121)
  -w, --write                  grant write access (to the anonymous user too)
  -d, --directory DIR          the directory to share (default: the current one)
  -n, --nat-address ADDRESS    the NAT address announced in PASV replies
  -r, --range FROM-TO          the range of ports for passive connections
  -D, --debug                  log every command and reply (passwords masked)
  -V, --verbose                log the whole configuration at start-up
  -u, --username USER          a user to log in as, instead of anonymous (needs -P)
  -P, --password PASSWORD      that user's password
      --users FILE             serve the accounts of this TOML users file instead of
                               anonymous or -u (not with -u, -P, -w, -d); SIGHUP re-reads it
      --timeout SECONDS        idle time before a client is disconnected (default: 300)
      --banner TEXT            the greeting sent to clients
      --permit-foreign-addresses  allow FXP: data connections to other hosts
      --permit-privileged-ports   allow PORT to ports below 1024
      --use-localtime          show local times in listings instead of GMT
      --disable-sendfile       no sendfile(2) and no native data sockets: the runtime streams
      --max-cons N             most simultaneous connections (default: 512; 0: no limit)
      --max-cons-per-ip N      most connections from one address (default: 0, no limit)
      --max-login-attempts N   failed logins before disconnecting (default: 3)
      --workers N              serve with N processes sharing the port (Linux); 0 or auto:
                               one per core (default: 1, this process alone)
      --concurrency MODEL      async (one process), multi-proc or multi-thread (both: --workers
                               auto, unless --workers is given)

FTPS (RFC 4217):
      --tls                    offer AUTH TLS (explicit FTPS); needs --certfile or --self-signed
      --certfile FILE          the certificate (PEM; may hold the key too)
      --keyfile FILE           the private key (PEM)
      --self-signed            generate a self-signed certificate and print its fingerprint
      --tls-control-required   refuse USER before AUTH TLS
      --tls-data-required      refuse PASV/EPSV/PORT/EPRT before PROT P
      --tls-require-session-reuse  data connections must resume the control TLS session
      --implicit-tls           the -p listener speaks implicit FTPS (TLS from the start)
      --implicit-port PORT     also listen for implicit FTPS on PORT
`;

function integer(name: string, value: string, min: number, max: number): number {
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new CliError(
      `${name} must be a whole number from ${min} to ${max}, not ${JSON.stringify(value)}`,
    );
  }
  return Number(value);
}

function portRange(value: string): { from: number; to: number } {
  const match = /^(\d+)-(\d+)$/.exec(value);
  if (!match) {
    throw new CliError(
      `--range must look like FROM-TO (e.g. 60000-65535), not ${JSON.stringify(value)}`,
    );
  }
  const from = integer("--range start", match[1], 1, 65535);
  const to = integer("--range end", match[2], 1, 65535);
  if (from > to) throw new CliError(`--range start (${from}) is above its end (${to})`);
  return { from, to };
}

/**
 * Parses the arguments. Returns `"help"` or `"version"` for those flags; throws
 * {@linkcode CliError} on anything it cannot accept.
 */
export function parseCli(args: string[]): CliConfig | "help" | "version" {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        help: { type: "boolean", short: "h" },
        version: { type: "boolean", short: "v" },
        interface: { type: "string", short: "i" },
        port: { type: "string", short: "p" },
        write: { type: "boolean", short: "w" },
        directory: { type: "string", short: "d" },
        "nat-address": { type: "string", short: "n" },
        range: { type: "string", short: "r" },
        debug: { type: "boolean", short: "D" },
        verbose: { type: "boolean", short: "V" },
        username: { type: "string", short: "u" },
        password: { type: "string", short: "P" },
        users: { type: "string" },
        timeout: { type: "string" },
        banner: { type: "string" },
        "permit-foreign-addresses": { type: "boolean" },
        "permit-privileged-ports": { type: "boolean" },
        "use-localtime": { type: "boolean" },
        "disable-sendfile": { type: "boolean" },
        "max-cons": { type: "string" },
        "max-cons-per-ip": { type: "string" },
        "max-login-attempts": { type: "string" },
        concurrency: { type: "string" },
        workers: { type: "string" },
        tls: { type: "boolean" },
        certfile: { type: "string" },
        keyfile: { type: "string" },
        "self-signed": { type: "boolean" },
        "tls-control-required": { type: "boolean" },
        "tls-data-required": { type: "boolean" },
        "tls-require-session-reuse": { type: "boolean" },
        "implicit-tls": { type: "boolean" },
        "implicit-port": { type: "string" },
      },
    }));
  } catch (error) {
    // parseArgs adds hint lines of its own; the first line says it all.
    throw new CliError((error as Error).message.split("\n")[0]);
  }
  if (values.help) return "help";
  if (values.version) return "version";
  const workers = parseWorkers(values.concurrency, values.workers);
  if (values.username !== undefined && values.password === undefined) {
    throw new CliError("-u/--username needs -P/--password");
  }
  if (values.password !== undefined && values.username === undefined) {
    throw new CliError("-P/--password needs -u/--username");
  }
  if (values.users !== undefined) {
    const clash = (
      [
        ["username", "-u/--username", "add the user to the users file"],
        ["password", "-P/--password", "passwords are in the users file"],
        ["write", "-w/--write", "permissions come from the users file"],
        ["directory", "-d/--directory", "homes come from the users file"],
      ] as const
    ).find(([name]) => values[name] !== undefined);
    if (clash) throw new CliError(`--users and ${clash[1]} exclude each other (${clash[2]})`);
    if (values.users === "") throw new CliError("--users needs a file");
  }
  const nat = values["nat-address"] ?? null;
  if (nat !== null && !isIPv4(nat)) {
    throw new CliError(`--nat-address must be an IPv4 address, not ${JSON.stringify(nat)}`);
  }
  return {
    hostname: values.interface || "0.0.0.0",
    port: integer("--port", values.port ?? "2121", 0, 65535),
    write: values.write ?? false,
    directory: values.directory ?? Deno.cwd(),
    natAddress: nat,
    passivePorts: values.range ? portRange(values.range) : null,
    debug: values.debug ?? false,
    verbose: values.verbose ?? false,
    username: values.username ?? null,
    password: values.password ?? null,
    users: values.users ?? null,
    timeout: integer("--timeout", values.timeout ?? "300", 1, 86400 * 365),
    banner: values.banner ?? null,
    permitForeignAddresses: values["permit-foreign-addresses"] ?? false,
    permitPrivilegedPorts: values["permit-privileged-ports"] ?? false,
    useLocaltime: values["use-localtime"] ?? false,
    disableSendfile: values["disable-sendfile"] ?? false,
    maxCons: integer("--max-cons", values["max-cons"] ?? "512", 0, 1_000_000),
    maxConsPerIp: integer("--max-cons-per-ip", values["max-cons-per-ip"] ?? "0", 0, 1_000_000),
    maxLoginAttempts: integer("--max-login-attempts", values["max-login-attempts"] ?? "3", 1, 1000),
    workers,
    tls: parseTlsFlags(values),
  };
}

/**
 * The number of processes `--concurrency` and `--workers` ask for (0: one per
 * core). The seed's multi-proc and multi-thread both map onto workers: in Deno a
 * thread is an isolate that shares no session with another, as a process, and
 * processes also survive one another's crash.
 */
function parseWorkers(concurrency: string | undefined, workers: string | undefined): number {
  if (concurrency !== undefined && !["async", "multi-proc", "multi-thread"].includes(concurrency)) {
    throw new CliError(
      `--concurrency must be async, multi-thread or multi-proc, not ${JSON.stringify(concurrency)}`,
    );
  }
  if (workers === undefined) return concurrency === undefined || concurrency === "async" ? 1 : 0;
  const count = workers === "auto" ? 0 : integer("--workers", workers, 0, 1024);
  if (concurrency === "async" && count !== 1) {
    throw new CliError("--concurrency async is one process: it excludes --workers");
  }
  return count;
}

/** The FTPS flags; `null` when FTPS is not asked for. */
function parseTlsFlags(values: Record<string, string | boolean | undefined>): TlsCliConfig | null {
  const implicitPort = values["implicit-port"] as string | undefined;
  const enabled = values.tls || values["implicit-tls"] || implicitPort !== undefined;
  const tlsOnly = [
    "certfile",
    "keyfile",
    "self-signed",
    "tls-control-required",
    "tls-data-required",
    "tls-require-session-reuse",
  ];
  if (!enabled) {
    const stray = tlsOnly.find((name) => values[name] !== undefined);
    if (stray) throw new CliError(`--${stray} needs --tls (or --implicit-tls, --implicit-port)`);
    return null;
  }
  const certfile = (values.certfile as string | undefined) ?? null;
  const selfSigned = values["self-signed"] === true;
  if (certfile !== null && selfSigned) {
    throw new CliError("--certfile and --self-signed exclude each other");
  }
  if (certfile === null && !selfSigned) {
    throw new CliError(
      "FTPS needs a certificate: --certfile FILE, or --self-signed to generate one",
    );
  }
  if (values.keyfile !== undefined && certfile === null) {
    throw new CliError("--keyfile needs --certfile");
  }
  return {
    certfile,
    keyfile: (values.keyfile as string | undefined) ?? null,
    selfSigned,
    controlRequired: values["tls-control-required"] === true,
    dataRequired: values["tls-data-required"] === true,
    requireSessionReuse: values["tls-require-session-reuse"] === true,
    implicit: values["implicit-tls"] === true,
    implicitPort: implicitPort === undefined
      ? null
      : integer("--implicit-port", implicitPort, 0, 65535),
  };
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

function sharedDirectory(path: string): string {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(path);
  } catch (error) {
    const reason = systemReason(error);
    throw new CliError(`cannot share ${path}: ${reason}`, 1);
  }
  if (!info.isDirectory) throw new CliError(`cannot share ${path}: not a directory`, 1);
  return path;
}

/** The TLS options the command line asks for; a generated certificate's fingerprint is logged. */
async function tlsOptions(
  tls: TlsCliConfig,
  hostname: string,
  logger: Logger,
): Promise<TLSOptions> {
  const options: TLSOptions = {
    controlRequired: tls.controlRequired,
    dataRequired: tls.dataRequired,
    requireSessionReuse: tls.requireSessionReuse,
  };
  if (!tls.selfSigned) {
    return { ...options, certfile: tls.certfile!, keyfile: tls.keyfile ?? undefined };
  }
  const { generateSelfSigned } = await import("./self_signed.ts");
  const names = [
    "localhost",
    "127.0.0.1",
    "::1",
    ...(isIPv4(hostname) && hostname !== "0.0.0.0" ? [hostname] : []),
  ];
  // One certificate for the supervisor and every worker.
  const generated = await sharedWithWorkers(
    "SELF_SIGNED_CERTIFICATE",
    () => generateSelfSigned([...new Set(names)]),
  );
  logger.warning(
    `generated a self-signed certificate; its SHA-256 fingerprint is ${generated.fingerprint}`,
  );
  return { ...options, pem: generated };
}

function listen(options: FTPServerOptions): FTPServer {
  try {
    return new FTPServer(options);
  } catch (error) {
    if (error instanceof TlsConfigError) {
      throw new CliError(`cannot use the certificate: ${error.message}`, 1);
    }
    if (error instanceof WorkersUnavailable || error instanceof RangeError) {
      throw new CliError(`cannot start workers: ${error.message}`, 1);
    }
    throw new CliError(
      `cannot listen on ${options.hostname}:${options.port}: ${listenFailure(error)}`,
      1,
    );
  }
}

/**
 * The accounts `config` asks for: those of the users file (`--users`), or one user
 * (`-u`/`-P`) or anonymous sharing the directory. Throws {@linkcode CliError}.
 */
export async function createAuthorizer(config: CliConfig, logger: Logger): Promise<Authorizer> {
  const warn = (message: string) => logger.warning(message);
  if (config.users !== null) {
    const authorizer = await loadUsers(config.users, warn);
    logger.info(`users: ${describeUsers(authorizer.summary)}`);
    return authorizer;
  }
  const directory = sharedDirectory(config.directory);
  const perm = config.write ? "elradfmwMT" : "elr";
  const authorizer = new DummyAuthorizer({ warn });
  if (config.username !== null) {
    authorizer.addUser(config.username, config.password ?? "", directory, { perm });
  } else {
    authorizer.addAnonymous(directory, { perm });
  }
  return authorizer;
}

/**
 * Builds the servers that `config` describes, with `authorizer`'s accounts: one,
 * or two with `--implicit-port`. Throws {@linkcode CliError} when they cannot start.
 */
export async function createServers(
  config: CliConfig,
  logger: Logger,
  authorizer: Authorizer,
): Promise<FTPServer[]> {
  const tls = config.tls && await tlsOptions(config.tls, config.hostname, logger);
  const options: FTPServerOptions = {
    hostname: config.hostname,
    port: config.port,
    authorizer,
    logger,
    verbose: config.verbose,
    timeout: config.timeout,
    ...(config.banner !== null && { banner: config.banner }),
    masqueradeAddress: config.natAddress,
    passivePorts: config.passivePorts && range(config.passivePorts.from, config.passivePorts.to),
    permitForeignAddresses: config.permitForeignAddresses,
    permitPrivilegedPorts: config.permitPrivilegedPorts,
    useGmtTimes: !config.useLocaltime,
    useSendfile: !config.disableSendfile,
    maxCons: config.maxCons,
    maxConsPerIp: config.maxConsPerIp,
    maxLoginAttempts: config.maxLoginAttempts,
    workers: config.workers,
    ...(tls && { tls: { ...tls, implicit: config.tls!.implicit } }),
  };
  const servers = [listen(options)];
  if (tls && config.tls!.implicitPort !== null) {
    try {
      servers.push(
        listen({ ...options, port: config.tls!.implicitPort, tls: { ...tls, implicit: true } }),
      );
    } catch (error) {
      await servers[0].closeAll();
      throw error;
    }
  }
  return servers;
}

function listenFailure(error: unknown): string {
  if (error instanceof Deno.errors.AddrInUse) return "address already in use";
  if (error instanceof Deno.errors.PermissionDenied) {
    return "permission denied (ports below 1024 need privileges)";
  }
  if (error instanceof Deno.errors.AddrNotAvailable) return "no such local address";
  return (error as Error).message;
}

/**
 * Re-reads the users file on SIGHUP, until disposed: new logins see the change,
 * running sessions keep their account; a broken file keeps the accounts in place.
 */
function reloadOnHangup(authorizer: UsersFileAuthorizer, logger: Logger): Disposable {
  if (Deno.build.os === "windows") return { [Symbol.dispose]() {} };
  let reloading = Promise.resolve();
  const reload = () => {
    reloading = reloading.then(async () => {
      try {
        logger.info(`users file reloaded: ${describeUsers(await authorizer.reload())}`);
      } catch (error) {
        const reason = error instanceof UsersFileError ? error.message : String(error);
        logger.error(
          `users file not reloaded, keeping the ${authorizer.summary.users} accounts read ` +
            `before: ${reason}`,
        );
      }
    });
  };
  Deno.addSignalListener("SIGHUP", reload);
  return { [Symbol.dispose]: () => Deno.removeSignalListener("SIGHUP", reload) };
}

/** Runs `tsftpd ARGS`; resolves to the exit status. */
async function run(args: string[]): Promise<number> {
  if (args[0] === "hash-password") return await hashPasswordCommand(args.slice(1));
  if (args[0] === "check-config") return await checkConfigCommand(args.slice(1));
  const config = parseCli(args);
  if (config === "help") {
    console.log(USAGE);
    return 0;
  }
  if (config === "version") {
    console.log(`tsftpd ${VERSION}`);
    return 0;
  }
  const logger = new Logger({ level: config.debug ? "debug" : "info" });
  const authorizer = await createAuthorizer(config, logger);
  try {
    const servers = await createServers(config, logger, authorizer);
    using _hangup = authorizer instanceof UsersFileAuthorizer
      ? reloadOnHangup(authorizer, logger)
      : null;
    // Each server closes its sessions on SIGINT and SIGTERM.
    await Promise.all(servers.map((server) => server.serve())).catch((error) => {
      if (!(error instanceof WorkersUnavailable)) throw error;
      throw new CliError(`cannot start workers: ${error.message}`, 1);
    });
    return 0;
  } finally {
    if (authorizer instanceof UsersFileAuthorizer) authorizer.close();
  }
}

/** Runs the command line; resolves to the process exit status once the server stops. */
export async function main(args: string[]): Promise<number> {
  try {
    return await run(args);
  } catch (error) {
    if (!(error instanceof CliError)) throw error;
    console.error(`tsftpd: ${error.message}`);
    if (error.hint) console.error("Try 'tsftpd --help' for more information.");
    return error.exitCode;
  }
}

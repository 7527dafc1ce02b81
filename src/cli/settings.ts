/**
 * The one table of the command line's settings. Each row is a long flag (and
 * maybe a short one) and, unless it is a command, a key of the config file: the
 * flag's name in snake_case, in the TOML table of its section (`[tls]`, ...)
 * without the section's name in front (`--tls-data-required` is
 * `[tls] data_required`). The parser's options, the config file's keys, the
 * usage text and `--print-config` are all derived from it, and a value is checked
 * by its row's {@linkcode Kind} wherever it comes from: a new setting is one row.
 *
 * @module
 */

import { DEFAULT_DTP_OPTIONS } from "../data/dtp.ts";
import { Defender } from "../defender/defender.ts";
import { DEFAULT_BACKLOG } from "../server.ts";
import { UPLOAD_MODES } from "../fs/uploads.ts";
import { LOG_FORMATS } from "../log.ts";
import { MAX_UPLOAD_THREADS } from "../native/upload_pumps.ts";
import { resolveHandlerOptions } from "../options.ts";
import {
  addressMap,
  choice,
  flag,
  type FlagValue,
  hostAndPort,
  integer,
  ipv4,
  type Kind,
  listenAddresses,
  networks,
  path,
  portRange,
  size,
  text,
  workerCount,
} from "./values.ts";

/** The TOML tables settings are grouped in; settings of no section are top-level keys. */
export type Section = "passive" | "limits" | "defender" | "tls" | "log";

/** One row of {@linkcode SETTINGS}. */
export interface Setting<T = unknown, F extends FlagValue = FlagValue> {
  /** How the value is read, checked and written. */
  readonly kind: Kind<T, F>;
  /** The usage text (lines after the first are indented under it). */
  readonly help: string;
  /** The one-letter flag. */
  readonly short?: string;
  /** The value when neither the file nor a flag gives one; without it, `null`. */
  readonly default?: T | (() => T);
  /** The config file's table the key is in. */
  readonly section?: Section;
  /** The config file's key, when it is not derived from the flag's name. */
  readonly key?: string;
  /** The value is never printed (`--print-config` masks it). */
  readonly secret?: boolean;
  /** A command or a shorthand of the command line: no config key. */
  readonly flagOnly?: boolean;
}

/** A row of any kind (the kinds are invariant in their value's type). */
// deno-lint-ignore no-explicit-any
export type AnySetting = Setting<any, any>;

/** The defaults of the library's session options, which the command line shares. */
const LIBRARY = resolveHandlerOptions({ authorizer: null as never });
/** The defaults of the library's defender. */
const DEFENDER = new Defender();

const YEAR = 86400 * 365;

/** Every setting, in the order of the usage text and of `--print-config`. */
export const SETTINGS = {
  help: { kind: flag, short: "h", flagOnly: true, help: "show this help and exit" },
  version: { kind: flag, short: "v", flagOnly: true, help: "print the version and exit" },
  config: {
    kind: path("FILE"),
    flagOnly: true,
    help: "read the settings of this TOML file (flags override it)",
  },
  "print-config": {
    kind: flag,
    flagOnly: true,
    help: "print the settings in effect as a config file, and exit",
  },
  interface: {
    kind: text("ADDRESS"),
    short: "i",
    default: "0.0.0.0",
    help: "listen on this address (default: all interfaces)",
  },
  port: {
    kind: integer(0, 65535, "PORT"),
    short: "p",
    default: 2121,
    help: "listen on this port (default: 2121)",
  },
  listen: {
    kind: listenAddresses,
    default: () => [],
    help: "also listen on ADDRESS:PORT ([::]:2121 for IPv6); repeatable",
  },
  write: {
    kind: flag,
    short: "w",
    default: false,
    help: "grant write access (to the anonymous user too)",
  },
  directory: {
    kind: path("DIR"),
    short: "d",
    default: () => Deno.cwd(),
    help: "the directory to share (default: the current one)",
  },
  username: {
    kind: text("USER"),
    short: "u",
    help: "a user to log in as, instead of anonymous (needs -P)",
  },
  password: { kind: text("PASSWORD"), short: "P", secret: true, help: "that user's password" },
  users: {
    kind: path("FILE"),
    help: "serve the accounts of this TOML users file instead of\n" +
      "anonymous or -u (not with -u, -P, -w, -d); SIGHUP re-reads it",
  },
  "system-users": {
    kind: flag,
    default: false,
    help: "serve the machine's accounts (/etc/passwd, /etc/shadow; root\n" +
      "refused), each session's files served as its own user (needs\n" +
      "root; not with --users, -u, -P, -w, -d); on Windows, the local\n" +
      "accounts, files served as the server's account",
  },
  db: {
    kind: text("URL"),
    secret: true,
    help: "serve the accounts of this PostgreSQL database\n" +
      "(postgres://user@host:port/db; tsftpd db init creates its schema)\n" +
      "instead of anonymous or -u; every node sharing it sees a change at once",
  },
  "proxy-protocol": {
    kind: flag,
    default: false,
    help: "behind a load balancer: each connection starts with a PROXY\n" +
      "header (v1 or v2) naming the client; needs --trusted-proxy",
  },
  "trusted-proxy": {
    kind: networks,
    default: () => [],
    help: "the proxy's address or network (CIDR) for --proxy-protocol;\n" +
      "repeatable; connections from elsewhere are closed",
  },
  banner: { kind: text("TEXT"), help: "the greeting sent to clients" },
  "msg-login": { kind: text("TEXT"), help: "the reply to a successful login (without --users)" },
  "msg-quit": { kind: text("TEXT"), help: "the reply to QUIT (without --users)" },
  timeout: {
    kind: integer(1, YEAR, "SECONDS"),
    default: LIBRARY.timeout,
    help: `idle time before a client is disconnected (default: ${LIBRARY.timeout})`,
  },
  "data-connect-timeout": {
    kind: integer(1, YEAR, "SECONDS"),
    default: LIBRARY.dataConnectTimeout,
    help: `time to wait for a data connection (default: ${LIBRARY.dataConnectTimeout})`,
  },
  "transfer-timeout": {
    kind: integer(1, YEAR, "SECONDS"),
    default: DEFAULT_DTP_OPTIONS.timeout,
    help:
      `time a transfer may stall before it is aborted (default: ${DEFAULT_DTP_OPTIONS.timeout})`,
  },
  "auth-failed-timeout": {
    kind: integer(0, 3600, "SECONDS"),
    default: LIBRARY.authFailedTimeout,
    help: `delay before answering a failed login (default: ${LIBRARY.authFailedTimeout})`,
  },
  "permit-foreign-addresses": {
    kind: flag,
    default: false,
    help: "allow FXP: data connections to other hosts",
  },
  "permit-privileged-ports": {
    kind: flag,
    default: false,
    help: "allow PORT to ports below 1024",
  },
  "use-localtime": {
    kind: flag,
    default: false,
    help: "show local times in listings instead of GMT",
  },
  "disable-sendfile": {
    kind: flag,
    default: false,
    help: "no sendfile(2) and no native data sockets: the runtime streams",
  },
  "upload-mode": {
    kind: choice("MODE", UPLOAD_MODES),
    default: LIBRARY.uploadMode,
    help: "atomic-keep-partial: uploads land whole (a hidden temporary renamed once\n" +
      "complete), a failed one kept for REST + STOR; atomic: the same, a failed one\n" +
      `removed; direct: into the file itself (default: ${LIBRARY.uploadMode})`,
  },
  "fsync-uploads": {
    kind: flag,
    default: false,
    help: "flush each complete upload to disk (fsync) before 226",
  },
  "partial-lifetime": {
    kind: integer(1, YEAR, "SECONDS"),
    default: LIBRARY.partialLifetime,
    help: `how long a failed upload is kept for a resume (default: ${LIBRARY.partialLifetime})`,
  },
  "buffer-size": {
    kind: size("bytes"),
    default: DEFAULT_DTP_OPTIONS.bufferSize,
    help: "a transfer's buffer while few run (default: 1M)",
  },
  "buffer-budget": {
    kind: size("bytes"),
    default: DEFAULT_DTP_OPTIONS.bufferBudget,
    help: "the memory every transfer's buffer is cut from (default: 16M)",
  },
  concurrency: {
    kind: choice("MODEL", ["async", "multi-thread", "multi-proc"]),
    default: "async",
    help: "async (one process), multi-proc or multi-thread (both: --workers auto,\n" +
      "unless --workers is given)",
  },
  workers: {
    kind: workerCount,
    default: 1,
    help: "serve with N processes sharing the port (Linux); 0 or auto: one per\n" +
      "core (default: 1, this process alone)",
  },
  "upload-threads": {
    kind: integer(0, 64),
    help: "threads that run uploads beside the main thread (default: one per core\n" +
      `but one, at most ${MAX_UPLOAD_THREADS}; none with --workers); 0: the main thread alone`,
  },
  metrics: {
    kind: hostAndPort,
    help: "serve Prometheus metrics at http://ADDRESS:PORT/metrics",
  },
  range: {
    kind: portRange,
    short: "r",
    section: "passive",
    key: "ports",
    help: "the range of ports for passive connections",
  },
  "nat-address": {
    kind: ipv4,
    short: "n",
    section: "passive",
    help: "the NAT address announced in PASV replies",
  },
  "nat-address-map": {
    kind: addressMap,
    section: "passive",
    default: () => ({}),
    help: "announce PUBLIC in PASV replies on the local address LOCAL\n" +
      "(a server with several addresses behind NAT); repeatable",
  },
  "max-cons": {
    kind: integer(0, 1_000_000),
    section: "limits",
    default: 512,
    help: "most simultaneous connections (default: 512; 0: no limit)",
  },
  "max-cons-per-ip": {
    kind: integer(0, 1_000_000),
    section: "limits",
    default: 0,
    help: "most connections from one address (default: 0, no limit)",
  },
  backlog: {
    kind: integer(1, 1_000_000),
    section: "limits",
    default: DEFAULT_BACKLOG,
    help: `connections the kernel queues before they are accepted (default:\n` +
      `${DEFAULT_BACKLOG}; the kernel caps it at net.core.somaxconn)`,
  },
  "defender-off": {
    kind: flag,
    section: "defender",
    default: false,
    help: "do not ban addresses that brute-force logins or send garbage",
  },
  "defender-threshold": {
    kind: integer(1, 1_000_000, "POINTS"),
    section: "defender",
    default: DEFENDER.threshold,
    help: `the score that bans an address (default: ${DEFENDER.threshold}; a failed login\n` +
      `is ${DEFENDER.points.loginFailed} points, a refused connection or bad command 1)`,
  },
  "defender-observation-time": {
    kind: integer(1, YEAR, "SECONDS"),
    section: "defender",
    default: DEFENDER.observationTime,
    help: `how far back points count (default: ${DEFENDER.observationTime})`,
  },
  "defender-ban-time": {
    kind: integer(1, YEAR, "SECONDS"),
    section: "defender",
    default: DEFENDER.banTime,
    help: `a first ban; each repeat offence doubles it (default: ${DEFENDER.banTime})`,
  },
  "defender-max-ban-time": {
    kind: integer(1, YEAR, "SECONDS"),
    section: "defender",
    default: DEFENDER.maxBanTime,
    help: `the longest ban (default: ${DEFENDER.maxBanTime})`,
  },
  "defender-allow": {
    kind: networks,
    section: "defender",
    default: () => DEFENDER.allowList.map((network) => network.text),
    help: "an address or CIDR network never banned; repeatable\n" +
      `(default: ${DEFENDER.allowList.map((network) => network.text).join(", ")})`,
  },
  "max-login-attempts": {
    kind: integer(1, 1000),
    section: "limits",
    default: LIBRARY.maxLoginAttempts,
    help: `failed logins before disconnecting (default: ${LIBRARY.maxLoginAttempts})`,
  },
  "read-limit": {
    kind: size("bytes per second"),
    section: "limits",
    default: DEFAULT_DTP_OPTIONS.readLimit,
    help: "most bytes per second each upload receives (default: 0,\n" +
      "no limit); SIZE is bytes, or K, M, G (1024-based): 256K",
  },
  "write-limit": {
    kind: size("bytes per second"),
    section: "limits",
    default: DEFAULT_DTP_OPTIONS.writeLimit,
    help: "most bytes per second each download sends (default: 0, no limit)",
  },
  "max-line-length": {
    kind: integer(64, 1024 * 1024, "BYTES"),
    section: "limits",
    default: LIBRARY.maxLineLength,
    help: `longest command line accepted (default: ${LIBRARY.maxLineLength})`,
  },
  tls: {
    kind: flag,
    section: "tls",
    key: "enabled",
    default: false,
    help: "offer AUTH TLS (explicit FTPS); needs --certfile or --self-signed",
  },
  certfile: {
    kind: path("FILE"),
    section: "tls",
    help: "the certificate (PEM; may hold the key too)",
  },
  keyfile: { kind: path("FILE"), section: "tls", help: "the private key (PEM)" },
  "self-signed": {
    kind: flag,
    section: "tls",
    default: false,
    help: "generate a self-signed certificate and print its fingerprint",
  },
  "tls-control-required": {
    kind: flag,
    section: "tls",
    default: false,
    help: "refuse USER before AUTH TLS",
  },
  "tls-data-required": {
    kind: flag,
    section: "tls",
    default: false,
    help: "refuse PASV/EPSV/PORT/EPRT before PROT P",
  },
  "tls-require-session-reuse": {
    kind: flag,
    section: "tls",
    default: false,
    help: "data connections must resume the control TLS session",
  },
  "implicit-tls": {
    kind: flag,
    section: "tls",
    key: "implicit",
    default: false,
    help: "the -p listener speaks implicit FTPS (TLS from the start)",
  },
  "implicit-port": {
    kind: integer(0, 65535, "PORT"),
    section: "tls",
    help: "also listen for implicit FTPS on PORT",
  },
  "tls-min-version": {
    kind: choice("VERSION", ["TLSv1.2", "TLSv1.3"]),
    section: "tls",
    default: "TLSv1.2",
    help: "the lowest TLS version accepted (default: TLSv1.2)",
  },
  "log-level": {
    kind: choice("LEVEL", ["debug", "info", "warning", "error"]),
    section: "log",
    default: "info",
    help: "the lowest level logged: debug, info, warning, error (default: info)",
  },
  "log-file": {
    kind: path("PATH"),
    section: "log",
    help: "append the log to PATH instead of stderr; SIGHUP re-opens it",
  },
  "log-format": {
    kind: choice("FORMAT", LOG_FORMATS),
    section: "log",
    default: "text",
    help: "text (pyftplib's lines, the default) or json (one object a line)",
  },
  debug: {
    kind: flag,
    short: "D",
    section: "log",
    flagOnly: true,
    help: "log every command and reply (passwords masked): --log-level debug",
  },
  verbose: {
    kind: flag,
    short: "V",
    section: "log",
    default: false,
    help: "log the whole configuration at start-up",
  },
  "log-prefix": {
    kind: text("FORMAT"),
    section: "log",
    default: LIBRARY.logPrefix,
    help: "the session part of log lines, with pyftpdlib's placeholders",
  },
} satisfies Record<string, AnySetting>;

/** The name of a setting: its long flag without the dashes. */
export type SettingName = keyof typeof SETTINGS;

/** The value of a setting of type `S`: `null` when it has no default and is not given. */
type ValueOf<S> = S extends { kind: Kind<infer T, infer _F> }
  ? S extends { default: unknown } ? T : T | null
  : never;

/** A value for every setting. */
export type Settings = { -readonly [K in SettingName]: ValueOf<(typeof SETTINGS)[K]> };

/** The row of `name`. */
export function settingOf(name: SettingName): AnySetting {
  return SETTINGS[name];
}

/** A flag as a refusal names it: `-u/--username`, `--port`. */
export function flagLabel(name: SettingName): string {
  const { short } = settingOf(name);
  return short ? `-${short}/--${name}` : `--${name}`;
}

/** Every setting's name, in the table's order. */
export const SETTING_NAMES = Object.keys(SETTINGS) as SettingName[];

/** Where `name` is in a config file: its table (if any) and key; `null` for a flag-only row. */
export function configKey(name: SettingName): { section?: Section; key: string } | null {
  const setting = settingOf(name);
  if (setting.flagOnly) return null;
  const snake = name.replaceAll("-", "_");
  const { section } = setting;
  const key = setting.key ??
    (section && snake.startsWith(`${section}_`) ? snake.slice(section.length + 1) : snake);
  return { section, key };
}

/** The defaults: what every setting is when neither the file nor a flag gives it. */
export function defaultSettings(): Settings {
  return Object.fromEntries(SETTING_NAMES.map((name) => {
    const value = settingOf(name).default;
    return [name, typeof value === "function" ? value() : value ?? null];
  })) as Settings;
}

/** The options of `node:util`'s `parseArgs` for every row. */
export function parseArgsOptions(): Record<
  string,
  { type: "string" | "boolean"; short?: string; multiple?: boolean }
> {
  return Object.fromEntries(SETTING_NAMES.map((name) => {
    const { kind, short } = settingOf(name);
    return [name, {
      type: kind.metavar === undefined ? "boolean" : "string",
      ...(short && { short }),
      ...(kind.multiple && { multiple: true }),
    }];
  }));
}

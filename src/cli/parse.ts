/**
 * The command line's arguments, and the config file they may name, turned into
 * the {@linkcode CliConfig} of the servers to start: defaults, then the file,
 * then the flags, then the checks that need several settings at once.
 *
 * @module
 */

import { parseArgs } from "node:util";
import type { UploadMode } from "../fs/uploads.ts";
import type { LogFormat, LogLevel } from "../log.ts";
import { type ConfigFile, keyLabel, placeOf, readConfigFile } from "./config_file.ts";
import { CliError } from "./errors.ts";
import {
  defaultSettings,
  flagLabel,
  parseArgsOptions,
  SETTING_NAMES,
  type SettingName,
  settingOf,
  type Settings,
} from "./settings.ts";
import { type ListenAddress, type PortRange, ValueError } from "./values.ts";

/** Where a setting's value came from: a flag, or a line of a config file. */
export type Origin = "flag" | { readonly file: string; readonly line: number | null };

/** Every setting's value, and where those not left at their default came from. */
export interface EffectiveSettings {
  /** The values. */
  readonly values: Settings;
  /** Where each given value came from; a setting absent here has its default. */
  readonly origins: ReadonlyMap<SettingName, Origin>;
}

/** What the command line asks for. */
export interface CliConfig {
  hostname: string;
  port: number;
  /** Extra listeners (`--listen`), serving as the main one does. */
  listen: ListenAddress[];
  write: boolean;
  directory: string;
  natAddress: string | null;
  /** Announced addresses by local address (`--nat-address-map`). */
  natAddressMap: Record<string, string>;
  passivePorts: PortRange | null;
  logLevel: LogLevel;
  verbose: boolean;
  logPrefix: string;
  /** The file the log is appended to (`--log-file`; re-opened on SIGHUP); `null`: stderr. */
  logFile: string | null;
  /** The log's format (`--log-format`). */
  logFormat: LogFormat;
  /** Where the Prometheus endpoint listens (`--metrics`); `null`: none. */
  metrics: ListenAddress | null;
  username: string | null;
  password: string | null;
  /** The users file (`--users`): its accounts instead of anonymous or `-u`. */
  users: string | null;
  /** `--system-users`: the machine's own accounts (`UnixAuthorizer`). */
  systemUsers: boolean;
  /** The accounts database's URL (`--db`): its accounts instead of anonymous or `-u`. */
  db: string | null;
  /** The trusted proxies of `--proxy-protocol`; `null` without it. */
  trustedProxies: string[] | null;
  msgLogin: string | null;
  msgQuit: string | null;
  timeout: number;
  dataConnectTimeout: number;
  transferTimeout: number;
  authFailedTimeout: number;
  banner: string | null;
  permitForeignAddresses: boolean;
  permitPrivilegedPorts: boolean;
  useLocaltime: boolean;
  disableSendfile: boolean;
  /** How uploads are written (`--upload-mode`). */
  uploadMode: UploadMode;
  /** `--fsync-uploads`: each complete upload flushed to disk before 226. */
  fsyncUploads: boolean;
  /** Seconds a failed upload's bytes are kept for a resume (`--partial-lifetime`). */
  partialLifetime: number;
  bufferSize: number;
  bufferBudget: number;
  maxCons: number;
  maxConsPerIp: number;
  maxLoginAttempts: number;
  maxLineLength: number;
  /** Connections the kernel queues before they are accepted. */
  backlog: number;
  /** The defender's settings; `null` with `--defender-off`. */
  defender: DefenderCliConfig | null;
  /** Most bytes per second received by each upload; 0: no limit. */
  readLimit: number;
  /** Most bytes per second sent by each download; 0: no limit. */
  writeLimit: number;
  /** Processes serving clients (`--workers`, `--concurrency`): 1 is this one alone, 0 one per core. */
  workers: number;
  /** Threads that run uploads beside the main thread (`--upload-threads`); `null`: the default. */
  uploadThreads: number | null;
  tls: TlsCliConfig | null;
  /** `--print-config`: print {@linkcode CliConfig.effective} and exit. */
  printConfig: boolean;
  /** The settings this was made of, for `--print-config`. */
  effective: EffectiveSettings;
}

/** The defender part of the command line (seconds, points, allowed networks). */
export interface DefenderCliConfig {
  threshold: number;
  observationTime: number;
  banTime: number;
  maxBanTime: number;
  allowList: string[];
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
  minVersion: "TLSv1.2" | "TLSv1.3";
}

/** What the arguments ask for: `help`, `version`, or to serve with these settings. */
export type CommandLine = "help" | "version" | { effective: EffectiveSettings; print: boolean };

/** The flags' values, checked by their rows. */
function flagValues(args: string[]): CommandLine | Map<SettingName, unknown> {
  let values: Record<string, unknown>;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      allowNegative: true,
      options: parseArgsOptions(),
    }));
  } catch (error) {
    // parseArgs adds hint lines of its own; the first line says it all.
    throw new CliError((error as Error).message.split("\n")[0]);
  }
  if (values.help) return "help";
  if (values.version) return "version";
  const given = new Map<SettingName, unknown>();
  for (const name of SETTING_NAMES) {
    const value = values[name];
    if (value === undefined) continue;
    try {
      given.set(name, settingOf(name).kind.fromFlag(value));
    } catch (error) {
      if (!(error instanceof ValueError)) throw error;
      throw new CliError(`--${name} ${error.message}`);
    }
  }
  return given;
}

/** The settings of `file` (if any) over the defaults, and the `flags` over them. */
export function mergeSettings(
  file: ConfigFile | null,
  flags: ReadonlyMap<SettingName, unknown> = new Map(),
): EffectiveSettings {
  const values: Record<string, unknown> = defaultSettings();
  const origins = new Map<SettingName, Origin>();
  for (const [name, line] of file?.lines ?? []) {
    values[name] = file!.values[name];
    origins.set(name, { file: file!.file, line });
  }
  for (const [name, value] of flags) {
    if (settingOf(name).flagOnly) continue;
    values[name] = value;
    origins.set(name, "flag");
  }
  if (flags.get("debug") === true) {
    values["log-level"] = "debug";
    origins.set("log-level", "flag");
  }
  return { values: values as Settings, origins };
}

/**
 * Reads the arguments and the config file they name (`--config`): each value
 * checked by its row, the file's over the defaults and the flags' over the file's.
 */
export async function readCommandLine(args: string[]): Promise<CommandLine> {
  const flags = flagValues(args);
  if (!(flags instanceof Map)) return flags;
  const configPath = flags.get("config") as string | undefined;
  const file = configPath === undefined ? null : await readConfigFile(configPath);
  return { effective: mergeSettings(file, flags), print: flags.get("print-config") === true };
}

/**
 * The checks of settings that go together. A refusal names its settings as they
 * were given (`--keyfile`, or `tls.keyfile` at its line of the config file).
 */
class Together {
  readonly #origins: ReadonlyMap<SettingName, Origin>;

  constructor(origins: ReadonlyMap<SettingName, Origin>) {
    this.#origins = origins;
  }

  given(name: SettingName): boolean {
    return this.#origins.has(name);
  }

  /** Refuses `subject`: `reason` gets each setting's name as the subject's source names them. */
  fail(subject: SettingName, reason: (label: (name: SettingName) => string) => string): never {
    const origin = this.#origins.get(subject) ?? "flag";
    const label = (name: SettingName) => {
      const from = this.#origins.get(name) ?? origin;
      if (from === "flag") return flagLabel(name);
      // A key of the file in a refusal of a flag says where it is.
      return origin === "flag"
        ? `${keyLabel(name)} (${placeOf(from.file, from.line).slice(0, -2)})`
        : keyLabel(name);
    };
    if (origin === "flag") throw new CliError(reason(label));
    throw new CliError(`${placeOf(origin.file, origin.line)}${reason(label)}`, 2, false);
  }
}

/** The settings only FTPS uses. */
const TLS_ONLY = [
  "certfile",
  "keyfile",
  "self-signed",
  "tls-control-required",
  "tls-data-required",
  "tls-require-session-reuse",
  "tls-min-version",
] as const;

/** Each source of accounts, on when its value is, and what it excludes, and why. */
const EXCLUSIVE: readonly [SettingName, readonly (readonly [SettingName, string])[]][] = [
  ["users", [
    ["username", "add the user to the users file"],
    ["password", "passwords are in the users file"],
    ["write", "permissions come from the users file"],
    ["directory", "homes come from the users file"],
    ["msg-login", "messages come from the users file"],
    ["msg-quit", "messages come from the users file"],
  ]],
  ["db", [
    ["users", "one source of accounts"],
    ["system-users", "one source of accounts"],
    ["username", "add the user with tsftpd user add"],
    ["password", "passwords are in the database"],
    ["write", "permissions come from the database"],
    ["directory", "homes come from the database"],
    ["msg-login", "messages come from the database"],
    ["msg-quit", "messages come from the database"],
  ]],
  ["system-users", [
    ["users", "one source of accounts"],
    ["username", "the system's accounts log in"],
    ["password", "the system's passwords are checked"],
    ["write", "the system's permissions decide"],
    ["directory", "each account has its home"],
  ]],
];

/** Checks the settings that go together and makes the {@linkcode CliConfig}. Throws {@linkcode CliError}. */
export function cliConfig(effective: EffectiveSettings, print = false): CliConfig {
  const { values } = effective;
  const together = new Together(effective.origins);
  const workers = workerCount(values, together);
  if (values.username !== null && values.password === null) {
    together.fail("username", (label) => `${label("username")} needs ${label("password")}`);
  }
  if (values.password !== null && values.username === null) {
    together.fail("password", (label) => `${label("password")} needs ${label("username")}`);
  }
  if (values["proxy-protocol"] !== values["trusted-proxy"].length > 0) {
    const [given, missing] = values["proxy-protocol"]
      ? ["proxy-protocol", "trusted-proxy"] as const
      : ["trusted-proxy", "proxy-protocol"] as const;
    together.fail(given, (label) => `${label(given)} needs ${label(missing)}`);
  }
  for (const [source, excluded] of EXCLUSIVE) {
    if (values[source] === null || values[source] === false) continue;
    const clash = excluded.find(([name]) => together.given(name));
    if (clash) {
      together.fail(
        clash[0],
        (label) => `${label(source)} and ${label(clash[0])} exclude each other (${clash[1]})`,
      );
    }
  }
  return {
    hostname: values.interface || "0.0.0.0",
    port: values.port,
    listen: values.listen,
    write: values.write,
    directory: values.directory,
    natAddress: values["nat-address"],
    natAddressMap: values["nat-address-map"],
    passivePorts: values.range,
    logLevel: values["log-level"],
    verbose: values.verbose,
    logPrefix: values["log-prefix"],
    logFile: values["log-file"],
    logFormat: values["log-format"],
    metrics: values.metrics,
    username: values.username,
    password: values.password,
    users: values.users,
    systemUsers: values["system-users"],
    db: values.db,
    trustedProxies: values["proxy-protocol"] ? values["trusted-proxy"] : null,
    msgLogin: values["msg-login"],
    msgQuit: values["msg-quit"],
    timeout: values.timeout,
    dataConnectTimeout: values["data-connect-timeout"],
    transferTimeout: values["transfer-timeout"],
    authFailedTimeout: values["auth-failed-timeout"],
    banner: values.banner,
    permitForeignAddresses: values["permit-foreign-addresses"],
    permitPrivilegedPorts: values["permit-privileged-ports"],
    useLocaltime: values["use-localtime"],
    disableSendfile: values["disable-sendfile"],
    uploadMode: values["upload-mode"],
    fsyncUploads: values["fsync-uploads"],
    partialLifetime: values["partial-lifetime"],
    bufferSize: values["buffer-size"],
    bufferBudget: values["buffer-budget"],
    maxCons: values["max-cons"],
    maxConsPerIp: values["max-cons-per-ip"],
    maxLoginAttempts: values["max-login-attempts"],
    maxLineLength: values["max-line-length"],
    backlog: values.backlog,
    defender: values["defender-off"] ? null : {
      threshold: values["defender-threshold"],
      observationTime: values["defender-observation-time"],
      banTime: values["defender-ban-time"],
      maxBanTime: values["defender-max-ban-time"],
      allowList: values["defender-allow"],
    },
    readLimit: values["read-limit"],
    writeLimit: values["write-limit"],
    workers,
    uploadThreads: values["upload-threads"],
    tls: tlsConfig(values, together),
    printConfig: print,
    effective,
  };
}

/**
 * The number of processes `--concurrency` and `--workers` ask for (0: one per
 * core). The seed's multi-proc and multi-thread both map onto workers: in Deno a
 * thread is an isolate that shares no session with another, as a process, and
 * processes also survive one another's crash.
 */
function workerCount(values: Settings, together: Together): number {
  const concurrency = values.concurrency;
  if (!together.given("workers")) return concurrency === "async" ? 1 : 0;
  if (concurrency === "async" && together.given("concurrency") && values.workers !== 1) {
    together.fail(
      "workers",
      (label) => `${label("concurrency")} async is one process: it excludes ${label("workers")}`,
    );
  }
  if (values.workers !== 1 && values.metrics !== null) {
    together.fail(
      "workers",
      (label) =>
        `${label("workers")} and ${label("metrics")} exclude each other (each worker ` +
        "counts its own sessions; the metrics are not summed across them yet)",
    );
  }
  return values.workers;
}

/** The FTPS settings; `null` when FTPS is not asked for. */
function tlsConfig(values: Settings, together: Together): TlsCliConfig | null {
  const implicitPort = values["implicit-port"];
  const enabler = values.tls
    ? "tls"
    : values["implicit-tls"]
    ? "implicit-tls"
    : implicitPort !== null
    ? "implicit-port"
    : null;
  if (enabler === null) {
    const stray = TLS_ONLY.find((name) => together.given(name));
    if (stray) {
      together.fail(
        stray,
        (label) =>
          `${label(stray)} needs ${label("tls")} (or ${label("implicit-tls")}, ` +
          `${label("implicit-port")})`,
      );
    }
    return null;
  }
  const { certfile, keyfile } = values;
  const selfSigned = values["self-signed"];
  if (certfile !== null && selfSigned) {
    together.fail(
      "self-signed",
      (label) => `${label("certfile")} and ${label("self-signed")} exclude each other`,
    );
  }
  if (certfile === null && !selfSigned) {
    together.fail(
      enabler,
      (label) =>
        `FTPS needs a certificate: ${label("certfile")} FILE, or ${label("self-signed")} ` +
        `to generate one`,
    );
  }
  if (keyfile !== null && certfile === null) {
    together.fail("keyfile", (label) => `${label("keyfile")} needs ${label("certfile")}`);
  }
  return {
    certfile,
    keyfile,
    selfSigned,
    controlRequired: values["tls-control-required"],
    dataRequired: values["tls-data-required"],
    requireSessionReuse: values["tls-require-session-reuse"],
    implicit: values["implicit-tls"],
    implicitPort,
    minVersion: values["tls-min-version"],
  };
}

/**
 * Parses the arguments (and the config file they name). Returns `"help"` or
 * `"version"` for those flags; throws {@linkcode CliError} on anything it cannot accept.
 */
export async function parseCli(args: string[]): Promise<CliConfig | "help" | "version"> {
  const line = await readCommandLine(args);
  if (typeof line === "string") return line;
  return cliConfig(line.effective, line.print);
}

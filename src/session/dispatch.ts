/**
 * From a command line to a command handler: parsing, then the one pipeline of
 * checks every line goes through, in the command table's terms, then the handler,
 * and the reply to whatever it throws.
 *
 * @module
 */

import { posix } from "node:path";
import type { Permission } from "../auth/authorizer.ts";
import type {
  Command,
  CommandContext,
  CommandSpec,
  CommandTable,
  ProtocolState,
  ResolvedPath,
} from "../commands/table.ts";
import type { DataChannel } from "../data/channel.ts";
import { FTPError } from "../errors.ts";
import { OutsideHomeError } from "../fs/errors.ts";
import type { FileSystem } from "../fs/filesystem.ts";
import { ftpNorm } from "../fs/virtual_path.ts";
import type { LogFields, LogLevel } from "../log.ts";
import type { HandlerConfig } from "../options.ts";
import type { SessionInfo } from "../session_info.ts";
import { errorReply, LOCAL_ERROR_REPLY } from "./error_reply.ts";
import type { Login } from "./login.ts";
import type { Transfers } from "./transfers.ts";

/** What the dispatcher, and the contexts it gives handlers, need of their session. */
export interface DispatchHost {
  /** Who is connected. */
  readonly session: SessionInfo;
  /** The command table. */
  readonly commands: CommandTable;
  /** The session's settings. */
  readonly config: HandlerConfig;
  /** TYPE, REST, EPSV ALL and the other settings. */
  readonly state: ProtocolState;
  /** The data channel PASV and PORT prepare. */
  readonly data: DataChannel;
  /** Who is logged in, and the logged-in user's filesystem. */
  readonly login: Login;
  /** The session's transfers. */
  readonly transfers: Transfers;
  /** Whether the session has closed. */
  readonly closed: boolean;
  /** Sends a reply. */
  reply(code: number, text: string): Promise<void>;
  /** Writes a log line about the session. */
  log(level: LogLevel, message: string, fields?: LogFields): void;
  /** Switches the control connection to TLS (AUTH). */
  secureControl(): Promise<void>;
  /** Ends the session. */
  close(): void;
}

/** Splits a line into its verb (upper case; `SITE X` for SITE commands) and argument. */
export function parseCommand(line: string): Command {
  const space = line.indexOf(" ");
  const verb = (space < 0 ? line : line.slice(0, space)).toUpperCase();
  const arg = space < 0 ? "" : line.slice(space + 1);
  if (verb !== "SITE" || !arg) return { name: verb, arg };
  const subSpace = arg.indexOf(" ");
  const sub = (subSpace < 0 ? arg : arg.slice(0, subSpace)).toUpperCase();
  return { name: `SITE ${sub}`, arg: subSpace < 0 ? "" : arg.slice(subSpace + 1) };
}

const NOT_LOGGED_IN = "Log in with USER and PASS first.";

/**
 * Runs one command line: waits for a transfer in progress unless the command may
 * run during one, checks it against its table entry, runs its handler, and turns
 * what the handler throws into the reply.
 */
export async function dispatch(host: DispatchHost, line: string): Promise<void> {
  const command = parseCommand(line);
  host.log("debug", command.name === "PASS" ? "<- PASS ******" : `<- ${line}`, {
    command: command.name,
  });
  const spec = host.commands.get(command.name);
  const transfer = host.transfers.current;
  if (!spec?.duringTransfer && transfer) await transfer.done;
  if (host.closed) return;
  try {
    if (!spec) throw new FTPError(500, `Command "${command.name}" not understood.`);
    const path = await check(host, spec, command);
    const context = commandContext(host, command, path);
    await host.login.impersonating(() => spec.run(context));
  } catch (error) {
    if (error instanceof FTPError && error.log) {
      const outside = error instanceof OutsideHomeError;
      if (outside) host.config.metrics?.pathRefused();
      host.log(
        error.log,
        `${command.name} refused: ${error.message}`,
        outside ? { command: command.name, event: "path_refused" } : { command: command.name },
      );
    }
    const reply = errorReply(error);
    if (!reply) {
      const detail = error instanceof Error ? error.stack : String(error);
      host.log("error", `${command.name} failed unexpectedly: ${detail}`);
    }
    await host.reply(...(reply ?? LOCAL_ERROR_REPLY));
    // 421: the service is gone for this session (RFC 959), and the connection with it.
    if (reply?.[0] === 421) host.close();
  }
}

/**
 * The checks of a command's table entry, in order: login, argument, TLS
 * requirement, the path resolved against the current directory and the
 * permission on it, a prepared
 * data channel, the EPSV ALL lock, a pending REST. Throws the {@linkcode FTPError}
 * of the first that fails; resolves to the checked path.
 */
async function check(
  host: DispatchHost,
  spec: CommandSpec,
  command: Command,
): Promise<ResolvedPath | undefined> {
  if (spec.auth && !host.login.authenticated) throw new FTPError(530, NOT_LOGGED_IN);
  if (spec.arg === "required" && !command.arg) {
    throw new FTPError(501, "Syntax error: command needs an argument.");
  }
  if (spec.arg === "none" && command.arg) {
    throw new FTPError(501, "Syntax error: command does not accept arguments.");
  }
  const tls = host.config.tls;
  if (spec.tls === "control" && tls?.controlRequired && !host.session.tlsControl) {
    throw new FTPError(550, "SSL/TLS required on the control channel: use AUTH TLS first.");
  }
  if (spec.tls === "data" && tls?.dataRequired && !host.state.protP) {
    throw new FTPError(550, "SSL/TLS required on the data channel: use PBSZ 0 and PROT P first.");
  }
  const target = spec.path === "arg" ? command.arg || "." : spec.path?.(command.arg);
  const path = target === undefined ? undefined : await resolve(host, target, spec.perm);
  if (spec.data && !host.data.ready) throw new FTPError(425, "Use PORT or PASV first.");
  if (spec.refusedAfterEpsvAll && host.state.epsvAll) {
    throw new FTPError(501, `${command.name} not allowed after EPSV ALL.`);
  }
  if (spec.refusedAfterRest && host.state.restartPosition > 0) {
    host.state.restartPosition = 0;
    throw new FTPError(450, `Can't ${command.name} while REST request is pending.`);
  }
  return path;
}

/**
 * Normalizes a client's path against the current directory and checks `perm` on
 * it; the filesystem, given the virtual path, keeps it inside its jail.
 */
async function resolve(
  host: DispatchHost,
  clientPath: string,
  perm: Permission | undefined,
): Promise<ResolvedPath> {
  const home = host.login.home;
  if (home === null) throw new FTPError(530, NOT_LOGGED_IN);
  if (clientPath.includes("\0")) throw new FTPError(501, "Path names may not contain NUL.");
  const ftp = ftpNorm(host.state.cwd, clientPath);
  const real = host.login.fs?.ftp2fs?.(ftp) ?? (ftp === "/" ? home : posix.join(home, ftp));
  const path = { ftp, real };
  if (perm && !await hasPerm(host, perm, path)) throw new FTPError(550, "Not enough privileges.");
  return path;
}

/** Whether the logged-in user has `perm` on the real `path`. */
function hasPerm(host: DispatchHost, perm: Permission, path: ResolvedPath): Promise<boolean> {
  const isDirectory = async () => {
    const stat = await host.login.fs?.stat(path.ftp).catch(() => null);
    return stat?.type === "dir";
  };
  return host.login.authorizer.hasPerm(host.session.username, perm, path.real, isDirectory);
}

/** The narrow view of its session a handler runs with. */
function commandContext(
  host: DispatchHost,
  command: Command,
  path: ResolvedPath | undefined,
): CommandContext {
  return {
    command,
    path,
    session: host.session,
    state: host.state,
    get fs(): FileSystem {
      const fs = host.login.fs;
      if (!fs) throw new FTPError(530, NOT_LOGGED_IN);
      return fs;
    },
    data: host.data,
    config: host.config,
    commands: host.commands,
    get transfer() {
      return host.transfers.current;
    },
    login: host.login,
    reply: (code, text) => host.reply(code, text),
    log: (level, message, fields) => host.log(level, message, fields),
    hasPerm: (perm, path) => hasPerm(host, perm, path),
    startTransfer: (job) => host.transfers.start(job),
    abortTransfer: () => host.transfers.abort(),
    secureControl: () => host.secureControl(),
    close: () => host.close(),
  };
}

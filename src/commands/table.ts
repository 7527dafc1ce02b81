/**
 * The shape of the command table (pyftplib's `proto_cmds`): one entry per command,
 * holding what the dispatcher checks before the command runs.
 *
 * @module
 */

import type { Permission } from "../auth/authorizer.ts";
import type { FTPHandler, ResolvedPath } from "../session.ts";

/** A command line, parsed, as a handler receives it. */
export interface Command {
  /** The verb in upper case; SITE commands are `"SITE CHMOD"` and so on. */
  name: string;
  /** Everything after the verb (after the SITE sub-command), verbatim; `""` if none. */
  arg: string;
  /** The argument resolved inside the jail, for entries with `path: true`. */
  path?: ResolvedPath;
}

/** One entry of the command table. */
export interface CommandSpec {
  /** The permission letter the user needs (on the resolved path, when there is one). */
  perm?: Permission;
  /** Whether the user must be logged in. */
  auth: boolean;
  /** Whether the command takes an argument. */
  arg: "required" | "none" | "optional";
  /** Whether the argument is a path to resolve in the jail (the current directory when absent). */
  path?: boolean;
  /** Whether leading `ls` options (`-la`) are dropped from the argument first (LIST, NLST, STAT). */
  listOptions?: boolean;
  /** Whether the command runs at once while a transfer is in progress (ABOR, STAT, NOOP, QUIT). */
  duringTransfer?: boolean;
  /**
   * The line this command adds to FEAT (RFC 2389) when it is an extension, such as
   * `"SIZE"` or `"REST STREAM"`; a function sees the session (MLST stars the facts
   * it selected).
   */
  feat?: string | ((session: FTPHandler) => string | null);
  /**
   * Which FTPS requirement applies: `"control"` commands are refused before AUTH
   * when `tls.controlRequired` is set, `"data"` ones before PROT P when
   * `tls.dataRequired` is.
   */
  tls?: "control" | "data";
  /** The HELP text: `Syntax: VERB <SP> arg (what it does).` */
  help: string;
  /** Does the command's own job and replies. */
  run(session: FTPHandler, command: Command): void | Promise<void>;
}

/** The command table: command name to entry. */
export type CommandTable = ReadonlyMap<string, CommandSpec>;

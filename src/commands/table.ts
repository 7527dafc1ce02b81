/**
 * The contract between the session and the commands: the shape of the command
 * table (pyftplib's `proto_cmds`), one entry per command holding what the session
 * checks, in one place, before the command runs; and the {@linkcode CommandContext}
 * a handler then gets: everything it may see and do, never the session itself.
 *
 * @module
 */

import type { Authorizer, Permission } from "../auth/authorizer.ts";
import type { DataChannel } from "../data/channel.ts";
import type { DTPHandler } from "../data/dtp.ts";
import type { FileSystem } from "../fs/filesystem.ts";
import type { Quota } from "../fs/quota.ts";
import type { UploadEnd } from "../fs/uploads.ts";
import type { LogFields, LogLevel } from "../log.ts";
import type { SessionInfo } from "../session_info.ts";
import type { SessionSettings } from "../settings.ts";

/** A path argument, normalized against the current directory. */
export interface ResolvedPath {
  /** The normalized virtual path the client sees, and the filesystem is given. */
  ftp: string;
  /**
   * The path under the user's home as the authorizer names it (`<home><ftp>`), for
   * permissions, log lines and callbacks; a path on disk only when the filesystem
   * is the disk, and never checked against the jail (symlinks are not resolved):
   * act on files through `ctx.fs`, which keeps the jail.
   */
  real: string;
}

/** A command line, parsed. */
export interface Command {
  /** The verb in upper case; SITE commands are `"SITE CHMOD"` and so on. */
  name: string;
  /** Everything after the verb (after the SITE sub-command), verbatim; `""` if none. */
  arg: string;
}

/**
 * The protocol settings a session keeps between commands, which the commands that
 * own them change: the current directory, TYPE, REST, RNFR, EPSV ALL, OPTS MLST, PBSZ and PROT.
 */
export interface ProtocolState {
  /** The current directory, a virtual path (CWD, CDUP; `/` at login). */
  cwd: string;
  /** TYPE: `"A"` (ASCII, the RFC's default) or `"I"` (binary). */
  transferType: "A" | "I";
  /** The REST offset for the next transfer. */
  restartPosition: number;
  /** The path named by RNFR, waiting for RNTO. */
  renameFrom: ResolvedPath | null;
  /** Whether EPSV ALL was sent: from then on only EPSV may set up data connections (RFC 2428). */
  epsvAll: boolean;
  /** The facts MLST and MLSD report, as OPTS MLST chose them. */
  mlstFacts: readonly string[];
  /** Whether PBSZ was sent (PROT must follow it, RFC 4217). */
  pbszSent: boolean;
  /** Whether data connections use TLS (PROT P). */
  protP: boolean;
}

/** The work a transfer command hands to {@linkcode CommandContext.startTransfer}. */
export interface TransferJob {
  /** The command, for the log line: RETR, STOR, APPE, STOU, LIST, NLST, MLSD. */
  command: string;
  /** The file's real path, for the log line and the callbacks; absent for listings. */
  path?: string;
  /** Whether a file is sent to the client or received from it. */
  direction: "send" | "receive";
  /** Text of the 125/150 reply, when not the standard one (STOU's `FILE: name`). */
  preliminary?: string;
  /** Moves the bytes over the open data connection. */
  run(dtp: DTPHandler): Promise<void>;
  /**
   * Releases the file once the bytes have moved, before the final reply; `end`
   * tells whether they all did, and if not, whose fault it was. An upload is put
   * in place here, or its bytes kept (it resolves to where:
   * {@linkcode TransferOutcome}) or removed. A throw fails the transfer (451, or
   * the code of the `FTPError` thrown).
   */
  close?(end: UploadEnd): void | Promise<TransferOutcome | void>;
}

/** What a transfer's {@linkcode TransferJob.close} tells of the file. */
export interface TransferOutcome {
  /** The real path of the bytes a failed upload received: a partial, or the file itself. */
  partial?: string;
}

/** The transfer a session is running. */
export interface ActiveTransfer {
  /** What is being transferred. */
  readonly job: TransferJob;
  /** The data transfer, once the data connection is open. */
  dtp: DTPHandler | null;
  /** Settles when the final reply has been sent. */
  done: Promise<void>;
}

/** What the login commands (USER, PASS, REIN, QUIT) do; the only way login state changes. */
export interface LoginControl {
  /** USER: names the user to log in as, logging out a logged-in one first. */
  user(username: string): Promise<void>;
  /** PASS: checks the password of the named user and replies 230 or 530. */
  pass(password: string): Promise<void>;
  /** REIN and QUIT: forgets the user, calling `onLogout` for a logged-in one. */
  logout(): Promise<void>;
  /**
   * The authorizer that answers for the logged-in user: the one their login was
   * granted (`UserSession.authorizer`), or the server's.
   */
  readonly authorizer: Authorizer;
  /** The logged-in user's quota, if their login was granted one (`UserSession.quota`). */
  readonly quota: Quota | null;
}

/** What a command handler is given: the command, its checked path, and the session's narrow interface. */
export interface CommandContext {
  /** The command line. */
  readonly command: Command;
  /**
   * The path argument, resolved inside the jail and checked against the entry's
   * permission; set for every entry with `path` (unless it named none, as STAT may).
   */
  readonly path: ResolvedPath | undefined;
  /** Who is connected. */
  readonly session: SessionInfo;
  /** TYPE, REST, RNFR and the other settings commands change. */
  readonly state: ProtocolState;
  /** The user's filesystem, in virtual paths (530 before login). */
  readonly fs: FileSystem;
  /** The data channel PASV and PORT prepare. */
  readonly data: DataChannel;
  /** The session's settings. */
  readonly config: SessionSettings;
  /** The command table this session dispatches through. */
  readonly commands: CommandTable;
  /** The transfer in progress, if any. */
  readonly transfer: ActiveTransfer | null;
  /** Login and logout. */
  readonly login: LoginControl;
  /** Sends a reply; replies go out in the order asked for. */
  reply(code: number, text: string): Promise<void>;
  /** Writes a log line about this session. */
  log(level: LogLevel, message: string, fields?: LogFields): void;
  /** Whether the user has `perm` on `path`. */
  hasPerm(perm: Permission, path: ResolvedPath): Promise<boolean>;
  /**
   * Starts a transfer in the background: replies 125/150, opens the data
   * connection, runs the job, replies 226 (or 425/426/451/452) and logs it.
   */
  startTransfer(job: TransferJob): void;
  /** Aborts the transfer in progress (ABOR); resolves once its final reply was sent. */
  abortTransfer(): Promise<void>;
  /**
   * Switches the control connection to TLS, after the 234 reply to AUTH has gone
   * out; throws `TlsHandshakeError` when the handshake fails.
   */
  secureControl(): Promise<void>;
  /** Ends the session: any transfer is aborted and the control connection closed. */
  close(): void;
}

/**
 * Where an entry's path comes from, given the command's argument: the path to
 * resolve, or `undefined` when this line names none (STAT without an argument). A
 * malformed argument throws an `FTPError` (501).
 */
export type PathArgument = (arg: string) => string | undefined;

/** One entry of the command table. */
export interface CommandSpec {
  /** Whether the user must be logged in. */
  auth: boolean;
  /** Whether the command takes an argument. */
  arg: "required" | "none" | "optional";
  /**
   * The path the command acts on, resolved inside the jail before it runs
   * (`ctx.path`); `"arg"` is the argument itself, or the current directory when
   * there is none.
   */
  path?: "arg" | PathArgument;
  /** The permission letter the user needs on the resolved path. */
  perm?: Permission;
  /** Whether PASV or PORT must have prepared a data connection first (425 otherwise). */
  data?: boolean;
  /** Whether the command is refused once EPSV ALL was sent (RFC 2428: PASV, PORT, EPRT). */
  refusedAfterEpsvAll?: boolean;
  /** Whether the command is refused (450) while a REST offset is pending (APPE, STOU). */
  refusedAfterRest?: boolean;
  /** Whether the command runs at once while a transfer is in progress (ABOR, STAT, NOOP, QUIT). */
  duringTransfer?: boolean;
  /**
   * The line this command adds to FEAT (RFC 2389) when it is an extension, such as
   * `"SIZE"` or `"REST STREAM"`; a function sees FEAT's context (MLST stars the
   * facts the session selected) and returns `null` to add nothing.
   */
  feat?: string | ((ctx: CommandContext) => string | null);
  /**
   * Which FTPS requirement applies: `"control"` commands are refused before AUTH
   * when `tls.controlRequired` is set, `"data"` ones before PROT P when
   * `tls.dataRequired` is.
   */
  tls?: "control" | "data";
  /** The HELP text: `Syntax: VERB <SP> arg (what it does).` */
  help: string;
  /** Does the command's own job and replies; a thrown `FTPError` becomes its reply. */
  run(ctx: CommandContext): void | Promise<void>;
}

/** The command table: command name to entry. */
export type CommandTable = ReadonlyMap<string, CommandSpec>;

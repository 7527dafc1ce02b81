/**
 * The settings of a session (pyftplib's `FTPHandler` class attributes) and their
 * defaults, which are the seed's.
 *
 * @module
 */

import type { Authorizer } from "./auth/authorizer.ts";
import { protoCmds } from "./commands/proto_cmds.ts";
import type { CommandTable } from "./commands/table.ts";
import { DEFAULT_DTP_OPTIONS, type DTPOptions } from "./data/dtp.ts";
import { AbstractedFS } from "./fs/abstracted_fs.ts";
import type { FTPHandler } from "./session.ts";
import { resolveTlsOptions, type TlsConfig, type TLSOptions } from "./tls.ts";
import { VERSION } from "./version.ts";

/** Makes the filesystem view of a session that logged in with home `root`. */
export type FilesystemFactory = (root: string, handler: FTPHandler) => AbstractedFS;

/** What every session of a server is configured with. All but `authorizer` are optional. */
export interface FTPHandlerOptions {
  /** Checks passwords and permissions. */
  authorizer: Authorizer;
  /** The 220 greeting (default `"tsftpd <version> ready."`). */
  banner?: string;
  /** Seconds a client may stay idle between commands before 421 (default 300). */
  timeout?: number;
  /** Failed logins before the session is closed (default 3). */
  maxLoginAttempts?: number;
  /** Seconds to wait before answering a wrong password (default 3). */
  authFailedTimeout?: number;
  /** Allow PORT to, and PASV connections from, addresses other than the client's (FXP; default false). */
  permitForeignAddresses?: boolean;
  /** Allow PORT to ports below 1024 (default false). */
  permitPrivilegedPorts?: boolean;
  /** The address announced in 227 replies when behind NAT (default: the server's own). */
  masqueradeAddress?: string | null;
  /** Announced addresses by local address, for a server with several addresses behind NAT. */
  masqueradeAddressMap?: Record<string, string>;
  /** The ports passive listeners use (default: any the kernel picks). */
  passivePorts?: Iterable<number> | null;
  /** Report LIST and MDTM times in GMT (default true) rather than local time. */
  useGmtTimes?: boolean;
  /** Disable Nagle's algorithm on control connections (default true). */
  tcpNoDelay?: boolean;
  /**
   * Kept for pyftplib compatibility; files are always streamed natively by the
   * runtime, which has no `sendfile(2)` to switch.
   */
  useSendfile?: boolean;
  /** Seconds to wait for a data connection to be made (default 30). */
  dataConnectTimeout?: number;
  /** Data transfer settings: stall timeout, buffer size and rate limits. */
  dtp?: Partial<DTPOptions>;
  /** Makes each session's filesystem view (default: an {@linkcode AbstractedFS}). */
  abstractedFs?: FilesystemFactory;
  /** The command table (default: {@linkcode protoCmds}); extend a copy of it to add SITE commands. */
  commands?: CommandTable;
  /** The session part of log lines, with pyftplib's placeholders (default `"%(remote_ip)s:%(remote_port)s-[%(username)s]"`). */
  logPrefix?: string;
  /** Bytes a command line may have (default 2048). */
  maxLineLength?: number;
  /** FTPS (RFC 4217): the certificate and the TLS requirements; without it, AUTH is refused. */
  tls?: TLSOptions;
}

/** {@linkcode FTPHandlerOptions} with every default filled in. */
export interface HandlerConfig
  extends Required<Omit<FTPHandlerOptions, "dtp" | "passivePorts" | "tls">> {
  /** Data transfer settings, every one set. */
  dtp: DTPOptions;
  /** The ports passive listeners use; `null`: any the kernel picks. */
  passivePorts: readonly number[] | null;
  /** FTPS settings ready to use; `null` without a certificate. */
  tls: TlsConfig | null;
}

/** Fills in the defaults of `options`. */
export function resolveHandlerOptions(options: FTPHandlerOptions): HandlerConfig {
  return {
    authorizer: options.authorizer,
    banner: options.banner ?? `tsftpd ${VERSION} ready.`,
    timeout: options.timeout ?? 300,
    maxLoginAttempts: options.maxLoginAttempts ?? 3,
    authFailedTimeout: options.authFailedTimeout ?? 3,
    permitForeignAddresses: options.permitForeignAddresses ?? false,
    permitPrivilegedPorts: options.permitPrivilegedPorts ?? false,
    masqueradeAddress: options.masqueradeAddress ?? null,
    masqueradeAddressMap: options.masqueradeAddressMap ?? {},
    passivePorts: options.passivePorts ? [...options.passivePorts] : null,
    useGmtTimes: options.useGmtTimes ?? true,
    tcpNoDelay: options.tcpNoDelay ?? true,
    useSendfile: options.useSendfile ?? true,
    dataConnectTimeout: options.dataConnectTimeout ?? 30,
    dtp: { ...DEFAULT_DTP_OPTIONS, ...options.dtp },
    abstractedFs: options.abstractedFs ?? ((root, handler) => new AbstractedFS(root, handler)),
    commands: options.commands ?? protoCmds,
    logPrefix: options.logPrefix ?? "%(remote_ip)s:%(remote_port)s-[%(username)s]",
    maxLineLength: options.maxLineLength ?? 2048,
    tls: options.tls ? resolveTlsOptions(options.tls) : null,
  };
}

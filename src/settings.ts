/**
 * The settings of a session (pyftplib's `FTPHandler` class attributes) other than
 * its command table, as given and with their defaults filled in.
 *
 * @module
 */

import type { Authorizer } from "./auth/authorizer.ts";
import type { DTPHandlerClass, DTPOptions } from "./data/dtp.ts";
import type { FileSystem } from "./fs/filesystem.ts";
import type { UploadMode } from "./fs/uploads.ts";
import type { Metrics } from "./metrics.ts";
import type { SessionInfo } from "./session_info.ts";
import type { TlsConfig, TLSOptions } from "./tls.ts";

/** Makes the filesystem of a session that logged in with home `root` (an authorizer's path, on disk or not). */
export type FilesystemFactory = (root: string, session: SessionInfo) => FileSystem;

/** The settings of every session, but for its command table. All but `authorizer` are optional. */
export interface SessionOptions {
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
  /** Disable Nagle's algorithm on control and data connections (default true). */
  tcpNoDelay?: boolean;
  /**
   * Plain data connections on native sockets, and plain TYPE I transfers of files
   * that have a descriptor (the local disk's) made by the kernel: downloads with
   * `sendfile(2)`, uploads with `splice(2)` (default true). Only on Linux with FFI granted; elsewhere, or `false`, the runtime's
   * sockets stream every transfer.
   */
  useSendfile?: boolean;
  /** Seconds to wait for a data connection to be made (default 30). */
  dataConnectTimeout?: number;
  /** Data transfer settings: stall timeout, buffer size and rate limits. */
  dtp?: Partial<DTPOptions>;
  /** The class that runs each transfer (default `DTPHandler`; pyftplib's `dtp_handler`). */
  dtpHandler?: DTPHandlerClass;
  /**
   * How uploads are written (default `"atomic-keep-partial"`): to a hidden
   * temporary renamed over the file once complete, a failed upload's bytes kept
   * for REST + STOR to resume (`"atomic-keep-partial"`) or removed (`"atomic"`); or
   * into the file itself (`"direct"`, pyftplib's way).
   */
  uploadMode?: UploadMode;
  /** Flush each complete upload to stable storage (`fsync`) before 226 (default false). */
  fsyncUploads?: boolean;
  /**
   * Seconds a partial upload (or a temporary a crash left) is kept before it is
   * removed, when its directory is next looked at (default 86400: a day).
   */
  partialLifetime?: number;
  /** Makes each session's filesystem view (default: the local disk jailed in the home, an `AbstractedFS`). */
  abstractedFs?: FilesystemFactory;
  /** The session part of log lines, with pyftplib's placeholders (default `"%(remote_ip)s:%(remote_port)s-[%(username)s]"`). */
  logPrefix?: string;
  /** Bytes a command line may have (default 2048). */
  maxLineLength?: number;
  /** FTPS (RFC 4217): the certificate and the TLS requirements; without it, AUTH is refused. */
  tls?: TLSOptions;
  /** Counts sessions, logins, transfers and refusals (default: nothing is counted); servers may share one. */
  metrics?: Metrics | null;
}

/** {@linkcode SessionOptions} with every default filled in: what a command handler sees. */
export interface SessionSettings
  extends Required<Omit<SessionOptions, "dtp" | "passivePorts" | "tls">> {
  /** Data transfer settings, every one set. */
  dtp: DTPOptions;
  /** The ports passive listeners use; `null`: any the kernel picks. */
  passivePorts: readonly number[] | null;
  /** FTPS settings ready to use; `null` without a certificate. */
  tls: TlsConfig | null;
}

/**
 * tsftpd: an FTP server library for Deno, the TypeScript counterpart of pyftplib.
 *
 * ```ts
 * import { DummyAuthorizer, FTPServer } from "./mod.ts";
 *
 * const authorizer = new DummyAuthorizer();
 * authorizer.addUser("user", "12345", ".", { perm: "elradfmwMT" });
 * authorizer.addAnonymous(Deno.cwd());
 * const server = new FTPServer({ port: 2121, authorizer, maxCons: 256, maxConsPerIp: 5 });
 * await server.serve();
 * ```
 *
 * @module
 */

export {
  AuthenticationFailed,
  type Authorizer,
  AuthorizerError,
  LoginRefused,
  type Permission,
  PERMISSION_LETTERS,
  type UserSession,
} from "./src/auth/authorizer.ts";
export {
  ANONYMOUS_USER,
  DummyAuthorizer,
  type DummyAuthorizerOptions,
  type PermOverride,
  type UserOptions,
  type UserRecord,
} from "./src/auth/dummy.ts";
export {
  ARGON2ID_PARAMETERS,
  hashPassword,
  parsePasswordHash,
  type PasswordHash,
  PasswordHashError,
  PasswordVerifier,
  type PasswordVerifierOptions,
} from "./src/auth/hashes.ts";
export type { Network } from "./src/auth/networks.ts";
export {
  UnixAuthorizer,
  type UnixAuthorizerOptions,
  type UnixUserOverride,
} from "./src/auth/unix.ts";
export {
  parseUsersFile,
  type ParseUsersFileOptions,
  type UserAccount,
  type UserOverride,
  UsersFileAuthorizer,
  type UsersFileAuthorizerOptions,
  UsersFileError,
  type UsersFileSummary,
} from "./src/auth/users_file.ts";
export { protoCmds } from "./src/commands/proto_cmds.ts";
export type {
  ActiveTransfer,
  Command,
  CommandContext,
  LoginControl,
  ProtocolState,
  ResolvedPath,
  TransferJob,
  TransferOutcome,
} from "./src/commands/table.ts";
export type { CommandSpec, CommandTable, PathArgument } from "./src/commands/table.ts";
export type { ChunkConverter } from "./src/data/ascii.ts";
export { BufferPool } from "./src/data/buffer_pool.ts";
export {
  DataChannel,
  DataConnectError,
  type DataConnection,
  NoFreePassivePort,
} from "./src/data/channel.ts";
export {
  DEFAULT_DTP_OPTIONS,
  DTPHandler,
  type DTPHandlerClass,
  type DTPOptions,
  TransferError,
  type TransferFailure,
} from "./src/data/dtp.ts";
export { SharedRate } from "./src/data/shared_rate.ts";
export { AbstractedFS, type AbstractedFSOptions, toFileStat } from "./src/fs/abstracted_fs.ts";
export { FilesystemError, OutsideHomeError, toFilesystemError } from "./src/fs/errors.ts";
export { formatFacts } from "./src/fs/facts.ts";
export type {
  DirEntry,
  FactEntry,
  FactType,
  FileDescriptor,
  FileReader,
  FileStat,
  FileSystem,
  FileType,
  FileWriter,
  ListEntry,
  ListFormatOptions,
  WriteMode,
} from "./src/fs/filesystem.ts";
export { formatListLine, type ListLine, listLines } from "./src/fs/listing.ts";
export { MemoryFS, type MemoryFSOptions } from "./src/fs/memory_fs.ts";
export { isUploadTemporary } from "./src/fs/partials.ts";
export { type PrivsepAccount, PrivsepFS, type PrivsepOptions } from "./src/fs/privsep_fs.ts";
export {
  measureUsage,
  Quota,
  QuotaExceeded,
  type QuotaLimits,
  type Usage,
} from "./src/fs/quota.ts";
export { UnixFilesystem } from "./src/fs/unix_fs.ts";
export {
  openUpload,
  type Upload,
  type UploadEnd,
  type UploadMode,
  type UploadRequest,
  type UploadSettings,
} from "./src/fs/uploads.ts";
export { ftpNorm, quote } from "./src/fs/virtual_path.ts";
export {
  type FileSink,
  fileSink,
  formatJson,
  formatText,
  type LogFields,
  type LogFormat,
  Logger,
  type LoggerOptions,
  type LogLevel,
  type LogRecord,
  type LogSink,
  type LogValue,
  stderrSink,
} from "./src/log.ts";
export {
  type ConnectionRefusal,
  type LoginResult,
  Metrics,
  type TlsChannel,
  type TransferDirection,
  type TransferResult,
} from "./src/metrics.ts";
export { serveMetrics, type ServeMetricsOptions } from "./src/metrics_http.ts";
export type { FTPHandlerOptions, HandlerConfig } from "./src/options.ts";
export type { SessionInfo } from "./src/session_info.ts";
export type { FilesystemFactory, SessionOptions, SessionSettings } from "./src/settings.ts";
export {
  type FTPHandlerClass,
  FTPServer,
  type FTPServerOptions,
  type ServeOptions,
} from "./src/server.ts";
export { type EventName, FTPHandler, type SessionHost } from "./src/session/handler.ts";
export { FTPError, type FTPErrorOptions } from "./src/errors.ts";
export {
  type CertificatePem,
  type TlsCarrier,
  type TlsConfig,
  TlsConfigError,
  TlsHandshakeError,
  type TLSOptions,
  TlsTransport,
} from "./src/tls.ts";
export type { NativeConn } from "./src/native/socket.ts";
export { LocalFileError, type Reader, type Transport, type Writer } from "./src/transport.ts";
export { VERSION } from "./src/version.ts";

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
  AuthorizerUnavailable,
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
  SystemAuthorizer,
  type SystemAuthorizerOptions,
  type SystemUserOverride,
} from "./src/auth/system_authorizer.ts";
export {
  UnixAuthorizer,
  type UnixAuthorizerOptions,
  type UnixUserOverride,
} from "./src/auth/unix.ts";
export {
  DatabaseAuthorizer,
  type DatabaseAuthorizerOptions,
  type DatabaseProblem,
} from "./src/auth/database_authorizer.ts";
export { DatabaseBanStore } from "./src/db/bans.ts";
export { AccountStore, type StoredAccount } from "./src/db/accounts.ts";
export {
  connectDatabase,
  DatabaseError,
  type DatabaseOptions,
  initSchema,
  SCHEMA_VERSION,
  type Sql,
} from "./src/db/database.ts";
export { SessionRegistry, type SessionRegistryOptions } from "./src/db/sessions.ts";
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
export { WindowsAuthorizer, type WindowsAuthorizerOptions } from "./src/auth/windows.ts";
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
  type BanRecord,
  type BanStore,
  MemoryBanStore,
  type MemoryBanStoreOptions,
} from "./src/defender/ban_store.ts";
export {
  BANNED_REPLY,
  DEFAULT_POINTS,
  Defender,
  type DefenderEvent,
  type DefenderOptions,
  SessionOffences,
} from "./src/defender/defender.ts";
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
  RenameOptions,
  WriteMode,
} from "./src/fs/filesystem.ts";
export { formatListLine, type ListLine, listLines } from "./src/fs/listing.ts";
export { MemoryFS, type MemoryFSOptions } from "./src/fs/memory_fs.ts";
export { FilesystemThreads, type FilesystemThreadsOptions } from "./src/fs/threads.ts";
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
export {
  type EventName,
  FTPHandler,
  type Proxied,
  type SessionHost,
} from "./src/session/handler.ts";
export {
  parseProxyHeader,
  type ParseProxyOptions,
  type ProxyHeader,
  ProxyHeaderError,
  ProxyHeaderReader,
  type ProxyParse,
  type ProxyProtocolOptions,
} from "./src/proxy_protocol.ts";
export { isWorker, sharedWithWorkers, WorkersUnavailable } from "./src/workers/role.ts";
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
export {
  MAX_UPLOAD_THREADS,
  UploadPumps,
  type UploadPumpsOptions,
} from "./src/native/upload_pumps.ts";
export {
  LocalFileError,
  type Reader,
  type RunningUpload,
  type Transport,
  type UploadOptions,
  type Writer,
} from "./src/transport.ts";
export { VERSION } from "./src/version.ts";

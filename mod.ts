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
  type Permission,
  PERMISSION_LETTERS,
} from "./src/auth/authorizer.ts";
export {
  ANONYMOUS_USER,
  DummyAuthorizer,
  type PermOverride,
  type UserOptions,
  type UserRecord,
} from "./src/auth/dummy.ts";
export { protoCmds } from "./src/commands/proto_cmds.ts";
export type { Command, CommandSpec, CommandTable } from "./src/commands/table.ts";
export type { ChunkConverter } from "./src/data/ascii.ts";
export { BufferPool } from "./src/data/buffer_pool.ts";
export { DataChannel, DataConnectError, NoFreePassivePort } from "./src/data/channel.ts";
export {
  DEFAULT_DTP_OPTIONS,
  DTPHandler,
  type DTPOptions,
  TransferError,
  type TransferFailure,
} from "./src/data/dtp.ts";
export { AbstractedFS } from "./src/fs/abstracted_fs.ts";
export { FilesystemError } from "./src/fs/errors.ts";
export { Logger, type LogLevel, type LogSink } from "./src/log.ts";
export type { FilesystemFactory, FTPHandlerOptions, HandlerConfig } from "./src/options.ts";
export { type FTPHandlerClass, FTPServer, type FTPServerOptions } from "./src/server.ts";
export {
  type ActiveTransfer,
  type EventName,
  FTPHandler,
  type ResolvedPath,
  type SessionHost,
  type TransferJob,
} from "./src/session.ts";
export {
  type CertificatePem,
  type TlsConfig,
  TlsConfigError,
  TlsHandshakeError,
  type TLSOptions,
  TlsTransport,
} from "./src/tls.ts";
export type { Reader, Transport, Writer } from "./src/transport.ts";
export { VERSION } from "./src/version.ts";

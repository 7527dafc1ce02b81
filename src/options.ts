/**
 * The options of a server's sessions and their defaults, which are the seed's.
 *
 * @module
 */

import { protoCmds } from "./commands/proto_cmds.ts";
import type { CommandTable } from "./commands/table.ts";
import { DEFAULT_DTP_OPTIONS, DTPHandler } from "./data/dtp.ts";
import { AbstractedFS } from "./fs/abstracted_fs.ts";
import type { FilesystemFactory, SessionOptions, SessionSettings } from "./settings.ts";
import { resolveTlsOptions } from "./tls.ts";
import { VERSION } from "./version.ts";

/** What every session of a server is configured with. All but `authorizer` are optional. */
export interface FTPHandlerOptions extends SessionOptions {
  /** The command table (default: {@linkcode protoCmds}); extend a copy of it to add SITE commands. */
  commands?: CommandTable;
}

/** {@linkcode FTPHandlerOptions} with every default filled in. */
export interface HandlerConfig extends SessionSettings {
  /** The command table. */
  commands: CommandTable;
}

/** The default filesystem: the local disk, jailed in the home. */
export const localDisk: FilesystemFactory = (root, session) => new AbstractedFS(root, session);

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
    dtpHandler: options.dtpHandler ?? DTPHandler,
    abstractedFs: options.abstractedFs ?? localDisk,
    uploadMode: options.uploadMode ?? "atomic-keep-partial",
    fsyncUploads: options.fsyncUploads ?? false,
    partialLifetime: options.partialLifetime ?? 24 * 3600,
    commands: options.commands ?? protoCmds,
    logPrefix: options.logPrefix ?? "%(remote_ip)s:%(remote_port)s-[%(username)s]",
    maxLineLength: options.maxLineLength ?? 2048,
    tls: options.tls ? resolveTlsOptions(options.tls) : null,
    metrics: options.metrics ?? null,
  };
}

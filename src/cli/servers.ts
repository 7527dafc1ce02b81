/**
 * The servers the command line starts: the main listener, the extra ones
 * (`--listen`) and the implicit FTPS one (`--implicit-port`), all with the same
 * session options.
 *
 * @module
 */

import { DatabaseAuthorizer } from "../auth/database_authorizer.ts";
import type { Authorizer } from "../auth/authorizer.ts";
import { Defender } from "../defender/defender.ts";
import type { Logger } from "../log.ts";
import { Metrics } from "../metrics.ts";
import { formatAddress, isIPv4 } from "../net.ts";
import { FTPServer, type FTPServerOptions } from "../server.ts";
import { TlsConfigError, type TLSOptions } from "../tls.ts";
import { CliError, listenFailure } from "./errors.ts";
import type { CliConfig, TlsCliConfig } from "./parse.ts";
import { sharedWithWorkers, WorkersUnavailable } from "../workers/role.ts";

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/** The TLS options the command line asks for; a generated certificate's fingerprint is logged. */
async function tlsOptions(
  tls: TlsCliConfig,
  hostname: string,
  logger: Logger,
): Promise<TLSOptions> {
  const options: TLSOptions = {
    controlRequired: tls.controlRequired,
    dataRequired: tls.dataRequired,
    requireSessionReuse: tls.requireSessionReuse,
    minVersion: tls.minVersion,
  };
  if (!tls.selfSigned) {
    return { ...options, certfile: tls.certfile!, keyfile: tls.keyfile ?? undefined };
  }
  const { generateSelfSigned } = await import("../self_signed.ts");
  const names = [
    "localhost",
    "127.0.0.1",
    "::1",
    ...(isIPv4(hostname) && hostname !== "0.0.0.0" ? [hostname] : []),
  ];
  // One certificate for the supervisor and every worker.
  const generated = await sharedWithWorkers(
    "SELF_SIGNED_CERTIFICATE",
    () => generateSelfSigned([...new Set(names)]),
  );
  logger.warning(
    `generated a self-signed certificate; its SHA-256 fingerprint is ${generated.fingerprint}`,
  );
  return { ...options, pem: generated };
}

function listen(options: FTPServerOptions): FTPServer {
  try {
    return new FTPServer(options);
  } catch (error) {
    if (error instanceof TlsConfigError) {
      throw new CliError(`cannot use the certificate: ${error.message}`, 1);
    }
    if (error instanceof WorkersUnavailable || error instanceof RangeError) {
      throw new CliError(`cannot start workers: ${error.message}`, 1);
    }
    const address = formatAddress(options.hostname!, options.port!);
    throw new CliError(`cannot listen on ${address}: ${listenFailure(error)}`, 1);
  }
}

/** The server options `config` asks for, with `authorizer`'s accounts and `tls`. */
function serverOptions(
  config: CliConfig,
  logger: Logger,
  authorizer: Authorizer,
  tls: TLSOptions | null,
): FTPServerOptions {
  return {
    hostname: config.hostname,
    port: config.port,
    authorizer,
    logger,
    verbose: config.verbose,
    timeout: config.timeout,
    dataConnectTimeout: config.dataConnectTimeout,
    authFailedTimeout: config.authFailedTimeout,
    ...(config.banner !== null && { banner: config.banner }),
    masqueradeAddress: config.natAddress,
    masqueradeAddressMap: config.natAddressMap,
    passivePorts: config.passivePorts && range(config.passivePorts.from, config.passivePorts.to),
    permitForeignAddresses: config.permitForeignAddresses,
    permitPrivilegedPorts: config.permitPrivilegedPorts,
    useGmtTimes: !config.useLocaltime,
    useSendfile: !config.disableSendfile,
    uploadMode: config.uploadMode,
    fsyncUploads: config.fsyncUploads,
    partialLifetime: config.partialLifetime,
    maxCons: config.maxCons,
    maxConsPerIp: config.maxConsPerIp,
    maxLoginAttempts: config.maxLoginAttempts,
    maxLineLength: config.maxLineLength,
    backlog: config.backlog,
    // One defender for every listener: an address banned on one is banned on all; with
    // the accounts in a database, on every node too.
    defender: config.defender
      ? new Defender({
        ...config.defender,
        logger,
        ...(authorizer instanceof DatabaseAuthorizer && { store: authorizer.bans }),
      })
      : false,
    workers: config.workers,
    ...(config.uploadThreads !== null && { uploadThreads: config.uploadThreads }),
    logPrefix: config.logPrefix,
    metrics: config.metrics && new Metrics(),
    dtp: {
      timeout: config.transferTimeout,
      bufferSize: config.bufferSize,
      bufferBudget: config.bufferBudget,
      readLimit: config.readLimit,
      writeLimit: config.writeLimit,
    },
    ...(tls && { tls: { ...tls, implicit: config.tls!.implicit } }),
    ...(config.trustedProxies && { proxyProtocol: { trusted: config.trustedProxies } }),
  };
}

/**
 * Builds the servers that `config` describes, with `authorizer`'s accounts: the
 * main one, one per `--listen`, and one for `--implicit-port`. Throws
 * {@linkcode CliError} when they cannot start (those started are closed).
 */
export async function createServers(
  config: CliConfig,
  logger: Logger,
  authorizer: Authorizer,
): Promise<FTPServer[]> {
  const tls = config.tls && await tlsOptions(config.tls, config.hostname, logger);
  const options = serverOptions(config, logger, authorizer, tls);
  const servers: FTPServer[] = [];
  try {
    servers.push(listen(options));
    for (const { hostname, port } of config.listen) {
      servers.push(listen({ ...options, hostname, port }));
    }
    if (tls && config.tls!.implicitPort !== null) {
      servers.push(
        listen({ ...options, port: config.tls!.implicitPort, tls: { ...tls, implicit: true } }),
      );
    }
  } catch (error) {
    for (const server of servers) await server.closeAll();
    throw error;
  }
  return servers;
}

/**
 * The `tsftpd` command line, with the flags of `python -m pyftplib` (1.5 and 2.x)
 * and a config file (`--config`): its parts are in `src/cli/`, each with one job.
 *
 * @module
 */

import { PRIVSEP_CHILD_COMMAND, runChild } from "./fs/privsep_child.ts";
import { UsersFileAuthorizer } from "./auth/users_file.ts";
import { createAuthorizer } from "./cli/authorizer.ts";
import { checkConfigCommand } from "./cli/check_config.ts";
import { CliError } from "./cli/errors.ts";
import { onHangup, reloadUsers } from "./cli/hangup.ts";
import { hashPasswordCommand } from "./cli/hash_password.ts";
import { openLog, startMetricsEndpoint } from "./cli/ops.ts";
import { type CliConfig, parseCli } from "./cli/parse.ts";
import { formatConfig } from "./cli/print_config.ts";
import { createServers } from "./cli/servers.ts";
import { USAGE } from "./cli/usage.ts";
import type { Logger } from "./log.ts";
import type { FTPServer } from "./server.ts";
import { writeAll } from "./transport.ts";
import { VERSION } from "./version.ts";

export { CliError, createAuthorizer, createServers, parseCli, USAGE };
export type { CliConfig, TlsCliConfig } from "./cli/parse.ts";

/**
 * The Prometheus endpoint `--metrics` asks for, serving the servers' shared
 * metrics; when it cannot listen, the servers are closed and {@linkcode CliError} thrown.
 */
async function metricsEndpoint(
  config: CliConfig,
  servers: FTPServer[],
  logger: Logger,
): Promise<Deno.HttpServer | null> {
  const metrics = servers[0].config.metrics;
  if (!config.metrics || !metrics) return null;
  try {
    return startMetricsEndpoint(config.metrics, metrics, logger);
  } catch (error) {
    await Promise.all(servers.map((server) => server.closeAll()));
    throw error;
  }
}

/** Runs `tsftpd ARGS`; resolves to the exit status. */
async function run(args: string[]): Promise<number> {
  if (args[0] === "hash-password") return await hashPasswordCommand(args.slice(1));
  if (args[0] === "check-config") return await checkConfigCommand(args.slice(1));
  if (args[0] === PRIVSEP_CHILD_COMMAND) {
    // Not a user's command: how a compiled binary serves a system user's files as that user.
    await runChild(args[1] ?? "");
    return 0;
  }
  const config = await parseCli(args);
  if (config === "help") {
    console.log(USAGE);
    return 0;
  }
  if (config === "version") {
    console.log(`tsftpd ${VERSION}`);
    return 0;
  }
  if (config.printConfig) {
    await writeAll(Deno.stdout, new TextEncoder().encode(formatConfig(config.effective)));
    return 0;
  }
  using log = openLog({ file: config.logFile, format: config.logFormat, level: config.logLevel });
  const { logger } = log;
  const authorizer = await createAuthorizer(config, logger);
  try {
    const servers = await createServers(config, logger, authorizer);
    await using _metrics = await metricsEndpoint(config, servers, logger);
    // The log first, so that what the other actions log goes to the new file.
    using _hangup = onHangup([
      ...(log.reopen ? [log.reopen] : []),
      ...(authorizer instanceof UsersFileAuthorizer ? [reloadUsers(authorizer, logger)] : []),
    ], logger);
    // Each server closes its sessions on SIGINT and SIGTERM.
    await Promise.all(servers.map((server) => server.serve()));
    return 0;
  } finally {
    if (authorizer instanceof UsersFileAuthorizer) authorizer.close();
  }
}

/** Runs the command line; resolves to the process exit status once the server stops. */
export async function main(args: string[]): Promise<number> {
  try {
    return await run(args);
  } catch (error) {
    if (!(error instanceof CliError)) throw error;
    console.error(`tsftpd: ${error.message}`);
    if (error.hint) console.error("Try 'tsftpd --help' for more information.");
    return error.exitCode;
  }
}

/**
 * What the command line gives an operator to watch the server with: the log
 * (stderr or `--log-file`, re-opened on SIGHUP; `--log-format`) and the
 * Prometheus endpoint (`--metrics`).
 *
 * @module
 */

import { systemReason } from "../errors.ts";
import { type FileSink, fileSink, type LogFormat, Logger, type LogLevel } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import { formatAddress } from "../net.ts";
import { serveMetrics } from "../metrics_http.ts";
import { CliError, listenFailure } from "./errors.ts";
import type { HangupAction } from "./hangup.ts";

/** Where and how the command line logs. */
export interface LogSettings {
  /** The file lines are appended to; `null`: stderr. */
  file: string | null;
  /** Text (pyftplib's lines) or JSON lines. */
  format: LogFormat;
  /** The lowest level written. */
  level: LogLevel;
}

/** The command line's log, and what a hangup does to it; dispose of it to close its file. */
export interface OpenLog extends Disposable {
  /** The logger every server writes to. */
  readonly logger: Logger;
  /** Re-opens the log file (logrotate moved it away); `null` when logging to stderr. */
  readonly reopen: HangupAction | null;
}

/** Opens the log `settings` describe. Throws {@linkcode CliError} (status 1) when the file cannot be opened. */
export function openLog(settings: LogSettings): OpenLog {
  const { file: path, format, level } = settings;
  if (path === null) {
    return { logger: new Logger({ level, format }), reopen: null, [Symbol.dispose]() {} };
  }
  let file: FileSink;
  try {
    file = fileSink(path);
  } catch (error) {
    throw new CliError(`cannot open the log file ${path}: ${systemReason(error)}`, 1);
  }
  const logger = new Logger({ level, format, sink: file });
  const reopen = () => {
    try {
      file.reopen();
    } catch (error) {
      logger.error(
        `log file ${path} not re-opened, still writing to the one open: ${systemReason(error)}`,
      );
      return;
    }
    logger.info(`log file re-opened: ${path}`);
  };
  return { logger, reopen, [Symbol.dispose]: () => file.close() };
}

/**
 * Serves `metrics` for Prometheus at `http://hostname:port/metrics`, logging the
 * address. Throws {@linkcode CliError} (status 1) when it cannot listen there.
 */
export function startMetricsEndpoint(
  address: { hostname: string; port: number },
  metrics: Metrics,
  logger: Logger,
): Deno.HttpServer {
  try {
    return serveMetrics(metrics, {
      ...address,
      onListen: ({ hostname, port }) => {
        logger.info(
          `metrics: Prometheus text format at http://${formatAddress(hostname, port)}/metrics`,
        );
      },
    });
  } catch (error) {
    const where = formatAddress(address.hostname, address.port);
    throw new CliError(`cannot serve the metrics on ${where}: ${listenFailure(error)}`, 1);
  }
}

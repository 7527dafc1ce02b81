/**
 * Log lines in pyftplib's format: `[I 2026-11-25 12:03:44] message`.
 *
 * @module
 */

/** Severity of a log line, lowest first. */
export type LogLevel = "debug" | "info" | "warning" | "error";

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warning: 30, error: 40 };
const LETTER: Record<LogLevel, string> = { debug: "D", info: "I", warning: "W", error: "E" };

/** Where finished log lines go; the default writes them to stderr. */
export type LogSink = (line: string) => void;

const encoder = new TextEncoder();

/** Writes a line, newline included, to stderr. */
export const stderrSink: LogSink = (line) => {
  Deno.stderr.writeSync(encoder.encode(line + "\n"));
};

function pad(n: number): string {
  return n < 10 ? "0" + n : String(n);
}

/** Formats a date as `YYYY-MM-DD HH:MM:SS` in local time, as pyftplib's log does. */
export function formatLogTime(date: Date): string {
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

/**
 * A sink that appends each line to the file at `path` (created if missing); dispose
 * of it (`using`) or call its `close` when done.
 */
export function fileSink(path: string): LogSink & Disposable & { close(): void } {
  const file = Deno.openSync(path, { append: true, create: true });
  const sink = (line: string) => {
    const bytes = encoder.encode(line + "\n");
    let written = 0;
    while (written < bytes.length) written += file.writeSync(bytes.subarray(written));
  };
  const close = () => file.close();
  return Object.assign(sink, { close, [Symbol.dispose]: close });
}

/** A leveled logger; lines below `level` are dropped before they are formatted. */
export class Logger {
  /** The lowest level written. */
  level: LogLevel;
  readonly #sink: LogSink;

  /** A logger writing lines of `level` (default info) and above to `sink` (default stderr). */
  constructor(options: { level?: LogLevel; sink?: LogSink } = {}) {
    this.level = options.level ?? "info";
    this.#sink = options.sink ?? stderrSink;
  }

  /** Whether lines of `level` are written. */
  enabled(level: LogLevel): boolean {
    return RANK[level] >= RANK[this.level];
  }

  /** Writes `message` at `level`. */
  log(level: LogLevel, message: string): void {
    if (!this.enabled(level)) return;
    this.#sink(`[${LETTER[level]} ${formatLogTime(new Date())}] ${message}`);
  }

  /** Writes a debug line. */
  debug(message: string): void {
    this.log("debug", message);
  }

  /** Writes an info line. */
  info(message: string): void {
    this.log("info", message);
  }

  /** Writes a warning line. */
  warning(message: string): void {
    this.log("warning", message);
  }

  /** Writes an error line. */
  error(message: string): void {
    this.log("error", message);
  }
}

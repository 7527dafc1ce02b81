/**
 * Log lines, in pyftplib's format (`[I 2026-11-25 12:03:44] message`) or as JSON
 * lines (`{"time":"2026-11-25T06:18:44.120Z","level":"info","message":...}`),
 * and the sinks they go to.
 *
 * A line is a record: its level, its message (the text pyftplib's format shows)
 * and structured fields (the session, the user, a transfer's bytes...), which the
 * JSON format writes as members and the text format leaves out. The field names
 * are listed in the README's "Logs and metrics".
 *
 * @module
 */

/** Severity of a log line, lowest first. */
export type LogLevel = "debug" | "info" | "warning" | "error";

/** The value of a structured field of a log line. */
export type LogValue = string | number | boolean | null;

/** The structured fields of a log line, by name (never `time`, `level` or `message`). */
export type LogFields = Readonly<Record<string, LogValue>>;

/** One log line before it is formatted. */
export interface LogRecord {
  /** When it was logged. */
  readonly time: Date;
  /** Its severity. */
  readonly level: LogLevel;
  /** What happened, in words (the text of pyftplib's line). */
  readonly message: string;
  /** What the text format writes before the message (a session's log prefix), if anything. */
  readonly prefix?: string;
  /** What the JSON format writes besides the message. */
  readonly fields?: LogFields;
}

/** How log lines are written: pyftplib's text lines, or one JSON object a line. */
export type LogFormat = "text" | "json";

/** Every {@linkcode LogFormat}, for parsing one. */
export const LOG_FORMATS: readonly LogFormat[] = ["text", "json"];

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

/** A record as pyftplib's line: `[I 2026-11-25 12:03:44] prefix message`, its fields left out. */
export function formatText(record: LogRecord): string {
  const text = record.prefix === undefined ? record.message : `${record.prefix} ${record.message}`;
  return `[${LETTER[record.level]} ${formatLogTime(record.time)}] ${text}`;
}

/** A record as one JSON object: `time` (ISO-8601, UTC), `level`, `message`, then its fields. */
export function formatJson(record: LogRecord): string {
  const { time, level, message, fields } = record;
  return JSON.stringify({ time: time.toISOString(), level, message, ...fields });
}

const FORMATTERS: Record<LogFormat, (record: LogRecord) => string> = {
  text: formatText,
  json: formatJson,
};

/** A sink writing to a file that can be re-opened by its path (after logrotate moved it). */
export interface FileSink extends Disposable {
  /** Appends `line` and a newline. */
  (line: string): void;
  /**
   * Opens the path again (creating the file if it was moved away) and closes the
   * file written so far: every line written after this goes to the new file.
   * Throws, keeping the old file, when the path cannot be opened.
   */
  reopen(): void;
  /** Closes the file. */
  close(): void;
}

function openAppending(path: string): Deno.FsFile {
  return Deno.openSync(path, { append: true, create: true });
}

/**
 * A sink that appends each line to the file at `path` (created if missing); dispose
 * of it (`using`) or call its `close` when done.
 */
export function fileSink(path: string): FileSink {
  let file = openAppending(path);
  const sink = (line: string) => {
    const bytes = encoder.encode(line + "\n");
    let written = 0;
    while (written < bytes.length) written += file.writeSync(bytes.subarray(written));
  };
  const reopen = () => {
    const old = file;
    file = openAppending(path);
    old.close();
  };
  const close = () => file.close();
  return Object.assign(sink, { reopen, close, [Symbol.dispose]: close });
}

/** Options of a {@linkcode Logger}. */
export interface LoggerOptions {
  /** The lowest level written (default `"info"`). */
  level?: LogLevel;
  /** Where lines go (default {@linkcode stderrSink}). */
  sink?: LogSink;
  /** How lines are written (default `"text"`, pyftplib's). */
  format?: LogFormat;
}

/** A leveled logger; lines below `level` are dropped before they are formatted. */
export class Logger {
  /** The lowest level written. */
  level: LogLevel;
  readonly #sink: LogSink;
  readonly #formatter: (record: LogRecord) => string;

  /** A logger writing lines of `level` (default info) and above to `sink` (default stderr), as `format` says (default text). */
  constructor(options: LoggerOptions = {}) {
    this.level = options.level ?? "info";
    this.#sink = options.sink ?? stderrSink;
    this.#formatter = FORMATTERS[options.format ?? "text"];
  }

  /** Whether lines of `level` are written. */
  enabled(level: LogLevel): boolean {
    return RANK[level] >= RANK[this.level];
  }

  /** Writes `message` at `level`, with structured `fields` for the JSON format. */
  log(level: LogLevel, message: string, fields?: LogFields): void {
    this.write({ level, message, fields });
  }

  /** Writes a record, stamped with the time now, if its level is enabled. */
  write(record: Omit<LogRecord, "time">): void {
    if (!this.enabled(record.level)) return;
    this.#sink(this.#formatter({ ...record, time: new Date() }));
  }

  /** Writes a debug line. */
  debug(message: string, fields?: LogFields): void {
    this.log("debug", message, fields);
  }

  /** Writes an info line. */
  info(message: string, fields?: LogFields): void {
    this.log("info", message, fields);
  }

  /** Writes a warning line. */
  warning(message: string, fields?: LogFields): void {
    this.log("warning", message, fields);
  }

  /** Writes an error line. */
  error(message: string, fields?: LogFields): void {
    this.log("error", message, fields);
  }
}

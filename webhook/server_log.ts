/**
 * A minimal structured logger for the admission server: one JSON object per line, filtered by
 * level. Request logs are written at `debug` only, so a busy webhook stays quiet by default.
 *
 * @module
 */

/** Log levels, most verbose first. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
/** A log level. */
export type LogLevel = typeof LOG_LEVELS[number];

/** Where the server writes its logs. */
export interface Logger {
  /** Whether a record at `level` would be written (lets callers skip building it). */
  enabled(level: LogLevel): boolean;
  /** Writes one record. */
  log(level: LogLevel, message: string, fields?: Record<string, unknown>): void;
}

/** Options of {@linkcode jsonLinesLogger}. */
export interface JsonLinesLoggerOptions {
  /** Lowest level written; default `info`. */
  level?: LogLevel;
  /** Receives each line (without the newline); defaults to `console.error`. */
  write?: (line: string) => void;
  /** Time source for the `ts` field; defaults to `Date.now`. */
  now?: () => number;
  /** Fields added to every record, e.g. `{ logger: "webhook" }`. */
  fields?: Record<string, unknown>;
}

/** A logger that writes `{"ts":...,"level":...,"msg":...,...fields}` lines. */
export function jsonLinesLogger(options: JsonLinesLoggerOptions = {}): Logger {
  const threshold = LOG_LEVELS.indexOf(options.level ?? "info");
  const write = options.write ?? ((line: string) => console.error(line));
  const now = options.now ?? Date.now;
  const enabled = (level: LogLevel) => LOG_LEVELS.indexOf(level) >= threshold;
  return {
    enabled,
    log(level, message, fields) {
      if (!enabled(level)) return;
      const record = {
        ts: new Date(now()).toISOString(),
        level,
        msg: message,
        ...options.fields,
        ...fields,
      };
      write(JSON.stringify(record));
    },
  };
}

/** A logger that writes nothing. */
export const SILENT_LOGGER: Logger = { enabled: () => false, log: () => {} };

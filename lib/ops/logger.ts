/**
 * The structured `Logger`: one JSON object per line (`time`, `level`, `msg`, then the fields) or
 * a `text` line for humans, filtered by level. `formatLogLine` is pure; `createLogger` adds the
 * sink, the clock and the level filter.
 *
 * @module
 */
import type { LogFields, Logger } from "./contracts.ts";

/** Log levels, lowest first. */
export type LogLevel = "debug" | "info" | "warn" | "error";
/** Output formats. */
export type LogFormat = "json" | "text";

const LEVEL_RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };
const RESERVED = new Set(["time", "level", "msg"]);

/** One log record before formatting. */
export interface LogRecord {
  time: Date;
  level: LogLevel;
  msg: string;
  fields: LogFields;
}

/** Turns a field value into something `JSON.stringify` renders faithfully. */
function toJsonValue(value: unknown, seen: Set<unknown>): unknown {
  if (value instanceof Error) {
    return value.name === "Error" ? value.message : `${value.name}: ${value.message}`;
  }
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "function" || typeof value === "symbol") return String(value);
  if (value instanceof Date) return value.toISOString();
  if (typeof value !== "object" || value === null) return value;
  if (seen.has(value)) return "[Circular]";
  seen.add(value);
  const result = Array.isArray(value)
    ? value.map((item) => toJsonValue(item, seen))
    : value instanceof Map
    ? Object.fromEntries([...value].map(([k, v]) => [String(k), toJsonValue(v, seen)]))
    : Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJsonValue(v, seen)]));
  seen.delete(value);
  return result;
}

function fieldEntries(fields: LogFields): [string, unknown][] {
  return Object.entries(fields).filter(([, value]) => value !== undefined).map(([key, value]) => [
    RESERVED.has(key) ? `field.${key}` : key,
    toJsonValue(value, new Set()),
  ]);
}

function textValue(value: unknown): string {
  const text = typeof value === "string" ? value : JSON.stringify(value) ?? String(value);
  return /^[^\s"=]+$/.test(text) ? text : JSON.stringify(text);
}

/**
 * Formats one record as a line without the trailing newline. JSON keys come in the order time,
 * level, msg, then the fields; a field named like a reserved key becomes `field.<key>`.
 */
export function formatLogLine(record: LogRecord, format: LogFormat): string {
  const entries = fieldEntries(record.fields);
  if (format === "json") {
    const head = { time: record.time.toISOString(), level: record.level, msg: record.msg };
    return JSON.stringify({ ...head, ...Object.fromEntries(entries) });
  }
  const level = record.level.toUpperCase().padEnd(5);
  const pairs = entries.map(([key, value]) => ` ${key}=${textValue(value)}`).join("");
  return `${record.time.toISOString()} ${level} ${record.msg}${pairs}`;
}

/** Options of `createLogger`; `write` defaults to synchronous stderr (nothing lost on exit). */
export interface LoggerOptions {
  level?: LogLevel;
  format?: LogFormat;
  write?: (line: string) => void;
}

function writeStderrLine(line: string): void {
  const bytes = new TextEncoder().encode(`${line}\n`);
  let written = 0;
  while (written < bytes.length) written += Deno.stderr.writeSync(bytes.subarray(written));
}

/** Creates a logger; `child()` loggers share its sink and level. */
export function createLogger(options: LoggerOptions = {}, fields: LogFields = {}): Logger {
  const minimum = LEVEL_RANK[options.level ?? "info"];
  const format = options.format ?? "json";
  const write = options.write ?? writeStderrLine;
  function log(level: LogLevel, msg: string, extra?: LogFields): void {
    if (LEVEL_RANK[level] < minimum) return;
    try {
      const fieldsOfLine = { ...fields, ...extra };
      write(formatLogLine({ time: new Date(), level, msg, fields: fieldsOfLine }, format));
    } catch {
      // Logging must never take the caller down (a closed stderr, for example).
    }
  }
  return {
    debug: (msg, extra) => log("debug", msg, extra),
    info: (msg, extra) => log("info", msg, extra),
    warn: (msg, extra) => log("warn", msg, extra),
    error: (msg, extra) => log("error", msg, extra),
    child: (extra) => createLogger(options, { ...fields, ...extra }),
  };
}

/**
 * Tiny in-memory implementations of the ops contracts (Logger, EventRecorder, MetricsRegistry)
 * for controller tests: they keep what they are given so tests can assert on it.
 *
 * @module
 */
import type {
  Counter,
  EventRecorder,
  EventSubject,
  Gauge,
  Histogram,
  LogFields,
  Logger,
  MetricsRegistry,
} from "../lib/ops/contracts.ts";

/** One recorded Event. */
export interface RecordedEvent {
  /** The object. */
  subject: EventSubject;
  /** Normal or Warning. */
  type: "Normal" | "Warning";
  /** The reason. */
  reason: string;
  /** The message. */
  message: string;
}

/** Keeps every Event in memory. */
export class MemoryRecorder implements EventRecorder {
  /** Every Event, in order. */
  readonly events: RecordedEvent[] = [];
  /** Records one Event. */
  record(
    subject: EventSubject,
    type: "Normal" | "Warning",
    reason: string,
    message: string,
  ): void {
    this.events.push({ subject, type, reason, message });
  }
  /** The Events about the object of `kind` named `name`. */
  about(kind: string, name: string): RecordedEvent[] {
    return this.events.filter((e) => e.subject.kind === kind && e.subject.metadata.name === name);
  }
}

function seriesKey(name: string, labels: Record<string, string> = {}): string {
  const pairs = Object.entries(labels).sort(([a], [b]) => a.localeCompare(b));
  return `${name}{${pairs.map(([k, v]) => `${k}=${v}`).join(",")}}`;
}

/** Metrics in a map; histograms keep their observation count. */
export class MemoryMetrics implements MetricsRegistry {
  /** Values by `name{label=value,...}`. */
  readonly values = new Map<string, number>();
  /** A counter. */
  counter(name: string): Counter {
    return {
      inc: (labels, value = 1) => {
        const key = seriesKey(name, labels);
        this.values.set(key, (this.values.get(key) ?? 0) + value);
      },
    };
  }
  /** A gauge. */
  gauge(name: string): Gauge {
    return {
      set: (labels, value) => void this.values.set(seriesKey(name, labels), value),
      inc: (labels, value) => this.counter(name).inc(labels, value),
      remove: (labels) => void this.values.delete(seriesKey(name, labels)),
    };
  }
  /** A histogram (count only). */
  histogram(name: string): Histogram {
    return { observe: (labels) => this.counter(`${name}_count`).inc(labels) };
  }
  /** The value of one series. */
  get(name: string, labels: Record<string, string> = {}): number | undefined {
    return this.values.get(seriesKey(name, labels));
  }
}

/** Levels from least to most severe. */
const LEVELS = ["debug", "info", "warn", "error", "none"];

/**
 * A logger that keeps lines in memory and prints from `defaultLevel` up (errors by default;
 * `"none"` prints nothing); `TEST_LOG=<level>` overrides it (`TEST_LOG=debug` prints all).
 */
export function memoryLogger(
  lines: string[] = [],
  fields: LogFields = {},
  defaultLevel = "error",
): Logger {
  const chosen = LEVELS.indexOf(Deno.env.get("TEST_LOG") ?? defaultLevel);
  const threshold = chosen === -1 ? LEVELS.indexOf("error") : chosen;
  const write = (level: string) => (message: string, extra: LogFields = {}) => {
    const line = JSON.stringify({ level, msg: message, ...fields, ...extra });
    lines.push(line);
    if (LEVELS.indexOf(level) >= threshold) console.error(line);
  };
  return {
    debug: write("debug"),
    info: write("info"),
    warn: write("warn"),
    error: write("error"),
    child: (more) => memoryLogger(lines, { ...fields, ...more }, defaultLevel),
  };
}

/** The value of one series (`name{label="value",...}`) in a `/metrics` text; undefined if absent. */
export function seriesValue(exposition: string, series: string): number | undefined {
  const line = exposition.split("\n").find((text) => text.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

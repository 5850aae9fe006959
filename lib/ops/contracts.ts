/**
 * The seams between the controllers and the operational plumbing (logging, Events, metrics).
 *
 * @module
 */

/** Structured fields attached to a log line. */
export type LogFields = Record<string, unknown>;

/** A structured logger; `child` adds `fields` to every line (for example `{ controller: "x" }`). */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  /** Something unexpected that the process recovered from. */
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

/** The object an Event is about (`namespace` absent for cluster-scoped objects). */
export interface EventSubject {
  apiVersion: string;
  kind: string;
  metadata: { name?: string | undefined; namespace?: string | undefined; uid?: string | undefined };
}

/**
 * Records Kubernetes Events. Best effort and non-blocking: a call never throws and never waits
 * for the API server; implementations may aggregate or rate-limit repeated Events.
 */
export interface EventRecorder {
  /** Records an Event about `subject`, with a CamelCase `reason` and a sentence for users. */
  record(subject: EventSubject, type: "Normal" | "Warning", reason: string, message: string): void;
}

/** A counter that only goes up. */
export interface Counter {
  /** Adds `value` (default 1) for the given label values. */
  inc(labels?: Record<string, string>, value?: number): void;
}

/** A value that goes up and down. */
export interface Gauge {
  set(labels: Record<string, string>, value: number): void;
  /** Adds `value` (a negative one subtracts) for the given label values. */
  inc(labels: Record<string, string>, value: number): void;
  /** Removes the series for the given label values (for example a deleted class). */
  remove(labels: Record<string, string>): void;
}

/** A distribution of observed values, in seconds for durations. */
export interface Histogram {
  observe(labels: Record<string, string>, value: number): void;
}

/** Creates (or returns) metrics; `mod.ts` exposes them on `/metrics`. */
export interface MetricsRegistry {
  counter(name: string, help: string, labelNames?: readonly string[]): Counter;
  gauge(name: string, help: string, labelNames?: readonly string[]): Gauge;
  histogram(
    name: string,
    help: string,
    labelNames?: readonly string[],
    buckets?: readonly number[],
  ): Histogram;
}

/**
 * The seams between the controllers and the operational plumbing (logging, Events, metrics).
 * Controllers depend only on these interfaces; `lib/ops` implements them and `mod.ts` wires them.
 *
 * @module
 */

/** Structured fields attached to a log line. */
export type LogFields = Record<string, unknown>;

/** A structured logger. Implementations write one JSON object per line. */
export interface Logger {
  /** Detail useful only when debugging. */
  debug(message: string, fields?: LogFields): void;
  /** Normal operation worth recording. */
  info(message: string, fields?: LogFields): void;
  /** Something unexpected that the process recovered from. */
  warn(message: string, fields?: LogFields): void;
  /** A failure that needs attention. */
  error(message: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line (for example `{ controller: "hostport" }`). */
  child(fields: LogFields): Logger;
}

/** The object an Event is about. */
export interface EventSubject {
  /** `group/version` of the object. */
  apiVersion: string;
  /** Kind of the object. */
  kind: string;
  /** Metadata of the object; `namespace` is absent for cluster-scoped objects. */
  metadata: { name?: string | undefined; namespace?: string | undefined; uid?: string | undefined };
}

/**
 * Records Kubernetes Events. Best effort and non-blocking: a call never throws and never waits
 * for the API server; implementations may aggregate or rate-limit repeated Events.
 */
export interface EventRecorder {
  /**
   * Records an Event about `subject`.
   *
   * @param subject the object the Event is about
   * @param type `Normal` or `Warning`
   * @param reason a CamelCase reason, for example `PortAllocated`
   * @param message a sentence for users
   */
  record(
    subject: EventSubject,
    type: "Normal" | "Warning",
    reason: string,
    message: string,
  ): void;
}

/** A counter that only goes up. */
export interface Counter {
  /** Adds `value` (default 1) for the given label values. */
  inc(labels?: Record<string, string>, value?: number): void;
}

/** A value that goes up and down. */
export interface Gauge {
  /** Sets the value for the given label values. */
  set(labels: Record<string, string>, value: number): void;
  /** Removes the series for the given label values (for example a deleted class). */
  remove(labels: Record<string, string>): void;
}

/** A distribution of observed values, in seconds for durations. */
export interface Histogram {
  /** Records one observation. */
  observe(labels: Record<string, string>, value: number): void;
}

/** Creates metrics; `mod.ts` exposes them on `/metrics` in the Prometheus text format. */
export interface MetricsRegistry {
  /** Creates or returns the counter `name`. */
  counter(name: string, help: string, labelNames?: readonly string[]): Counter;
  /** Creates or returns the gauge `name`. */
  gauge(name: string, help: string, labelNames?: readonly string[]): Gauge;
  /** Creates or returns the histogram `name` with the given bucket bounds. */
  histogram(
    name: string,
    help: string,
    labelNames?: readonly string[],
    buckets?: readonly number[],
  ): Histogram;
}

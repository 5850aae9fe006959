/**
 * `PrometheusRegistry`: the `MetricsRegistry` of the contracts on one prom-client `Registry` per
 * process, which renders `/metrics`; the controllers and their fakes never import prom-client.
 *
 * @module
 */
import * as prom from "prom-client";
import type { Counter, Gauge, Histogram, MetricsRegistry } from "./contracts.ts";

/** Prometheus' default histogram buckets, in seconds. */
export const DEFAULT_BUCKETS: readonly number[] = //
  [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const METRIC_CLASSES = { counter: prom.Counter, gauge: prom.Gauge, histogram: prom.Histogram };
type Kind = keyof typeof METRIC_CLASSES;
type PromMetric = prom.Counter | prom.Gauge | prom.Histogram;

interface Entry {
  name: string;
  /** The type and label names, which a second registration must repeat. */
  signature: string;
  labelNames: readonly string[];
  metric: PromMetric;
}

/** Label values in `labelNames` order; missing labels are empty (so a series has one name). */
function fullLabels(entry: Entry, labels?: Record<string, string>): Record<string, string> {
  for (const key of Object.keys(labels ?? {})) {
    if (!entry.labelNames.includes(key)) {
      throw new TypeError(
        `Cannot use label "${key}" on metric "${entry.name}": it declares ${
          JSON.stringify(entry.labelNames)
        }`,
      );
    }
  }
  return Object.fromEntries(entry.labelNames.map((label) => [label, labels?.[label] ?? ""]));
}

/** The process's metrics registry; `registry` is the prom-client one `/metrics` renders. */
export class PrometheusRegistry implements MetricsRegistry {
  /** The prom-client registry (for default process metrics and the exposition). */
  readonly registry: prom.Registry = new prom.Registry();
  #entries = new Map<string, Entry>();

  #register(
    kind: Kind,
    config: { name: string; help: string; labelNames: readonly string[]; buckets?: number[] },
  ): Entry {
    const { name, labelNames } = config;
    const signature = JSON.stringify([kind, labelNames]);
    const existing = this.#entries.get(name);
    if (existing && existing.signature !== signature) {
      throw new TypeError(
        `Cannot register metric "${name}" again with another type or other labels`,
      );
    }
    if (existing) return existing;
    const reserved = labelNames.find((label) => label.startsWith("__"));
    if (reserved !== undefined) {
      throw new TypeError(`Cannot register metric "${name}": label "${reserved}" is reserved`);
    }
    let metric: PromMetric;
    try {
      // The three take one config shape; only histograms are given `buckets`.
      const Metric = METRIC_CLASSES[kind] as typeof prom.Histogram;
      metric = new Metric({ ...config, labelNames: [...labelNames], registers: [this.registry] });
    } catch (error) {
      throw new TypeError(`Cannot register metric "${name}": ${(error as Error).message}`);
    }
    const entry = { name, signature, labelNames, metric };
    this.#entries.set(name, entry);
    return entry;
  }

  /** Creates or returns the counter `name`. @throws {RangeError} from `inc` for a negative value */
  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    const entry = this.#register("counter", { name, help, labelNames });
    const counter = entry.metric as prom.Counter;
    return {
      inc(labels, value = 1) {
        if (!(value >= 0)) {
          throw new RangeError(`Cannot decrease counter "${name}": value is ${value}`);
        }
        counter.inc(fullLabels(entry, labels), value);
      },
    };
  }

  /** Creates or returns the gauge `name`. */
  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    const entry = this.#register("gauge", { name, help, labelNames });
    const gauge = entry.metric as prom.Gauge;
    return {
      set: (labels, value) => gauge.set(fullLabels(entry, labels), value),
      inc: (labels, value) => gauge.inc(fullLabels(entry, labels), value),
      remove: (labels) => gauge.remove(fullLabels(entry, labels)),
    };
  }

  /** Creates or returns the histogram `name`; buckets must be finite and strictly increasing. */
  histogram(
    name: string,
    help: string,
    labelNames: readonly string[] = [],
    buckets: readonly number[] = DEFAULT_BUCKETS,
  ): Histogram {
    const increasing = buckets.every((bound, i) =>
      Number.isFinite(bound) && (i === 0 || bound > buckets[i - 1]!)
    );
    if (!increasing || buckets.length === 0) {
      throw new RangeError(
        `Cannot create histogram "${name}": buckets must be finite and strictly increasing`,
      );
    }
    const entry = this.#register("histogram", { name, help, labelNames, buckets: [...buckets] });
    const histogram = entry.metric as prom.Histogram;
    return { observe: (labels, value) => histogram.observe(fullLabels(entry, labels), value) };
  }

  /** Renders every metric in the text format (families in registration order). */
  expose(): Promise<string> {
    return this.registry.metrics();
  }
}

/**
 * `PrometheusRegistry`: the `MetricsRegistry` of the contracts, keeping counters, gauges and
 * histograms in memory and rendering them in the Prometheus text format for `/metrics`.
 *
 * @module
 */
import type { Counter, Gauge, Histogram, MetricsRegistry } from "./contracts.ts";
import {
  type Family,
  histogramSamples,
  type MetricType,
  renderFamily,
  type Sample,
} from "./exposition.ts";

/** Prometheus' default histogram buckets, in seconds. */
export const DEFAULT_BUCKETS: readonly number[] = [
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
];

/** Refreshes metrics at scrape time; may return families of its own. */
export type Collector = () => readonly Family[] | void;

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

interface Series {
  labels: readonly string[];
  value: number;
  buckets: number[];
  sum: number;
}

class Metric {
  readonly series = new Map<string, Series>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: MetricType,
    readonly labelNames: readonly string[],
    readonly buckets: readonly number[],
  ) {}

  /** Label values in `labelNames` order; missing labels are empty, unknown ones throw. */
  values(labels: Record<string, string> | undefined): string[] {
    for (const key of Object.keys(labels ?? {})) {
      if (!this.labelNames.includes(key)) {
        throw new TypeError(
          `Cannot use label "${key}" on metric "${this.name}": it declares ${
            JSON.stringify(this.labelNames)
          }`,
        );
      }
    }
    return this.labelNames.map((name) => String(labels?.[name] ?? ""));
  }

  at(labels: Record<string, string> | undefined): Series {
    const values = this.values(labels);
    const key = JSON.stringify(values);
    let series = this.series.get(key);
    if (!series) {
      series = { labels: values, value: 0, buckets: this.buckets.map(() => 0), sum: 0 };
      this.series.set(key, series);
    }
    return series;
  }

  samples(): Sample[] {
    const sorted = [...this.series.entries()].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0);
    return sorted.flatMap(([, series]) => this.seriesSamples(series));
  }

  seriesSamples(series: Series): Sample[] {
    const labels = this.labelNames.map((name, i) => [name, series.labels[i]!] as const);
    if (this.type !== "histogram") return [{ suffix: "", labels, value: series.value }];
    let total = 0;
    const cumulative = series.buckets.map((count) => total += count);
    return histogramSamples(labels, {
      bounds: this.buckets,
      cumulative,
      count: series.value,
      sum: series.sum,
    });
  }
}

function checkBuckets(name: string, buckets: readonly number[]): void {
  const sorted = buckets.every((bound, i) =>
    Number.isFinite(bound) && (i === 0 || bound > buckets[i - 1]!)
  );
  if (!sorted || buckets.length === 0) {
    throw new RangeError(
      `Cannot create histogram "${name}": buckets must be finite and strictly increasing`,
    );
  }
}

/** A registry of metrics that renders itself in the Prometheus text format. */
export class PrometheusRegistry implements MetricsRegistry {
  #metrics = new Map<string, Metric>();
  #collectors: Collector[] = [];

  #register(
    name: string,
    help: string,
    type: MetricType,
    labelNames: readonly string[],
    buckets: readonly number[] = [],
  ): Metric {
    const existing = this.#metrics.get(name);
    if (existing) {
      if (
        existing.type !== type || JSON.stringify(existing.labelNames) !== JSON.stringify(labelNames)
      ) {
        throw new TypeError(
          `Cannot register metric "${name}" again with another type or other labels`,
        );
      }
      return existing;
    }
    if (!METRIC_NAME.test(name)) {
      throw new TypeError(`Cannot register metric "${name}": invalid name`);
    }
    const badLabel = labelNames.find((label) =>
      !LABEL_NAME.test(label) || label.startsWith("__") || (type === "histogram" && label === "le")
    );
    if (badLabel !== undefined) {
      throw new TypeError(`Cannot register metric "${name}": invalid label name "${badLabel}"`);
    }
    const metric = new Metric(name, help, type, [...labelNames], buckets);
    this.#metrics.set(name, metric);
    return metric;
  }

  /** Creates or returns the counter `name`. @throws {RangeError} from `inc` for a negative value */
  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    const metric = this.#register(name, help, "counter", labelNames);
    return {
      inc(labels, value = 1) {
        if (!(value >= 0)) {
          throw new RangeError(`Cannot decrease counter "${name}": value is ${value}`);
        }
        metric.at(labels).value += value;
      },
    };
  }

  /** Creates or returns the gauge `name`. */
  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    const metric = this.#register(name, help, "gauge", labelNames);
    return {
      set(labels, value) {
        metric.at(labels).value = value;
      },
      remove(labels) {
        metric.series.delete(JSON.stringify(metric.values(labels)));
      },
    };
  }

  /** Creates or returns the histogram `name`; buckets default to `DEFAULT_BUCKETS`. */
  histogram(
    name: string,
    help: string,
    labelNames: readonly string[] = [],
    buckets: readonly number[] = DEFAULT_BUCKETS,
  ): Histogram {
    checkBuckets(name, buckets);
    const metric = this.#register(name, help, "histogram", labelNames, buckets);
    return {
      observe(labels, value) {
        const series = metric.at(labels);
        const index = metric.buckets.findIndex((bound) => value <= bound);
        if (index >= 0) series.buckets[index]! += 1;
        series.value += 1;
        series.sum += value;
      },
    };
  }

  /**
   * Adds a function run at each `expose()`: it may refresh registered gauges (process
   * metrics) and may return whole families computed from another component's counters
   * (rendered after the registered metrics).
   */
  addCollector(collect: Collector): void {
    this.#collectors.push(collect);
  }

  /**
   * The current value of a counter or gauge series (the count of a histogram), or undefined
   * when the series does not exist. For tests and health checks.
   */
  sample(name: string, labels: Record<string, string> = {}): number | undefined {
    const metric = this.#metrics.get(name);
    if (!metric) return undefined;
    return metric.series.get(JSON.stringify(metric.values(labels)))?.value;
  }

  /** Renders every metric in the text format (families in registration order). */
  expose(): string {
    const collected: Family[] = [];
    for (const collect of this.#collectors) {
      try {
        collected.push(...collect() ?? []);
      } catch {
        // A failing collector leaves its gauges at their last values; the scrape goes on.
      }
    }
    const families: Family[] = [...this.#metrics.values()].map((metric) => ({
      name: metric.name,
      help: metric.help,
      type: metric.type,
      samples: metric.samples(),
    }));
    return [...families, ...collected].map(renderFamily).join("");
  }
}

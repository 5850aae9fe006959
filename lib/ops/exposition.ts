/**
 * The Prometheus text exposition format (version 0.0.4): escaping, number formatting and
 * the rendering of one metric family with its `# HELP` and `# TYPE` lines.
 *
 * @module
 */

/** The `Content-Type` of the format. */
export const EXPOSITION_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Metric types of the text format. */
export type MetricType = "counter" | "gauge" | "histogram";

/** One sample line of a family. */
export interface Sample {
  /** Appended to the family name (`_bucket`, `_sum`, `_count`), or empty. */
  suffix: string;
  /** Label names and values, in output order. */
  labels: readonly (readonly [string, string])[];
  /** The value. */
  value: number;
}

/** A metric family: its metadata and samples. */
export interface Family {
  /** The metric name. */
  name: string;
  /** The help text (any characters; escaped on output). */
  help: string;
  /** The type. */
  type: MetricType;
  /** The samples. */
  samples: readonly Sample[];
}

/** The counts of one histogram series, as {@linkcode histogramSamples} renders them. */
export interface HistogramCounts {
  /** Upper bounds of the buckets, increasing; the `+Inf` bucket is implied. */
  readonly bounds: readonly number[];
  /** `cumulative[i]`: observations at or below `bounds[i]` (a missing entry counts as 0). */
  readonly cumulative: readonly number[];
  /** Number of observations (the `+Inf` bucket and `_count`). */
  readonly count: number;
  /** Sum of the observations (`_sum`). */
  readonly sum: number;
}

/**
 * The samples of one histogram series: a `_bucket` per bound (label `le`), the `+Inf` bucket,
 * then `_sum` and `_count`, each with `labels` first.
 */
export function histogramSamples(
  labels: readonly (readonly [string, string])[],
  counts: HistogramCounts,
): Sample[] {
  const buckets = counts.bounds.map((bound, i) => ({
    suffix: "_bucket",
    labels: [...labels, ["le", String(bound)] as const],
    value: counts.cumulative[i] ?? 0,
  }));
  return [
    ...buckets,
    { suffix: "_bucket", labels: [...labels, ["le", "+Inf"] as const], value: counts.count },
    { suffix: "_sum", labels, value: counts.sum },
    { suffix: "_count", labels, value: counts.count },
  ];
}

/** Escapes a `# HELP` text: backslash and line feed. */
export function escapeHelp(text: string): string {
  return text.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
}

/** Escapes a label value: backslash, double quote and line feed. */
export function escapeLabelValue(text: string): string {
  return text.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

/** Formats a sample value: `+Inf`, `-Inf`, `NaN`, or the shortest decimal form. */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

/** Formats a label set as `{a="1",b="2"}`, or the empty string for none. */
export function formatLabels(labels: readonly (readonly [string, string])[]): string {
  if (labels.length === 0) return "";
  return `{${labels.map(([name, value]) => `${name}="${escapeLabelValue(value)}"`).join(",")}}`;
}

/**
 * Renders one family, ending with a newline.
 *
 * @example
 * ```ts
 * import { renderFamily } from "./exposition.ts";
 * renderFamily({ name: "up", help: "Is it up", type: "gauge", samples: [{ suffix: "", labels: [], value: 1 }] });
 * // "# HELP up Is it up\n# TYPE up gauge\nup 1\n"
 * ```
 */
export function renderFamily(family: Family): string {
  const lines = [
    `# HELP ${family.name} ${escapeHelp(family.help)}`,
    `# TYPE ${family.name} ${family.type}`,
  ];
  for (const sample of family.samples) {
    lines.push(
      `${family.name}${sample.suffix}${formatLabels(sample.labels)} ${formatValue(sample.value)}`,
    );
  }
  return `${lines.join("\n")}\n`;
}

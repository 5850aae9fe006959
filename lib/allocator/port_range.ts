/**
 * Inclusive port ranges (the `pools` of a HostPortClass) and small helpers over them.
 *
 * @module
 */

/** The lowest port a pool may contain. */
export const MIN_PORT = 1;

/** The highest port a pool may contain. */
export const MAX_PORT = 65535;

/** An inclusive range of ports, `start` to `end`. A range with `start > end` holds no port. */
export interface PortRange {
  /** The first port of the range. */
  readonly start: number;
  /** The last port of the range (inclusive). */
  readonly end: number;
}

/** Whether `value` is an integer port from {@linkcode MIN_PORT} to {@linkcode MAX_PORT}. */
export function isPort(value: number): boolean {
  return Number.isInteger(value) && value >= MIN_PORT && value <= MAX_PORT;
}

/** Whether `port` lies inside `range` (both ends included). */
export function rangeContains(range: PortRange, port: number): boolean {
  return port >= range.start && port <= range.end;
}

/** The number of ports in `range`: `end - start + 1`, or 0 when `start > end`. */
export function rangeSize(range: PortRange): number {
  return range.end >= range.start ? range.end - range.start + 1 : 0;
}

/** Renders a range as `9000-9100`, or `9000` when it holds a single port. */
export function formatRange(range: PortRange): string {
  return range.start === range.end ? `${range.start}` : `${range.start}-${range.end}`;
}

/**
 * The ports shared by two ranges, or `undefined` when they share none.
 *
 * @example
 * ```ts
 * import { intersectRanges } from "./port_range.ts";
 * intersectRanges({ start: 1, end: 10 }, { start: 5, end: 20 }); // { start: 5, end: 10 }
 * ```
 */
export function intersectRanges(a: PortRange, b: PortRange): PortRange | undefined {
  const start = Math.max(a.start, b.start);
  const end = Math.min(a.end, b.end);
  return start <= end ? { start, end } : undefined;
}

/**
 * Sorts ranges and merges those that overlap or touch, so the result lists every port of the
 * input exactly once, ascending. Empty ranges (`start > end`) are dropped.
 */
export function mergeRanges(ranges: readonly PortRange[]): PortRange[] {
  const sorted = ranges.filter((r) => r.start <= r.end).sort((a, b) => a.start - b.start);
  const merged: PortRange[] = [];
  for (const range of sorted) {
    const last = merged.at(-1);
    if (last !== undefined && range.start <= last.end + 1) {
      merged[merged.length - 1] = { start: last.start, end: Math.max(last.end, range.end) };
    } else {
      merged.push({ start: range.start, end: range.end });
    }
  }
  return merged;
}

/** Checks of classes' pools for the webhooks, as values. @module */

import {
  formatRange,
  intersectRanges,
  isPort,
  MAX_PORT,
  mergeRanges,
  MIN_PORT,
  type PortRange,
} from "./port_bitmap.ts";

/** One problem with a list of pools: of the list, of a pool (`index`), or of a bound (`field`). */
export interface PoolProblem {
  readonly index?: number;
  readonly field?: "start" | "end";
  readonly message: string;
}

/**
 * Every problem with one class's pools: an empty list, a bound that is not a port, `end < start`
 * (the original's message), and each overlapping pair, once, on the later pool (pools with a bad
 * bound are left out of that check).
 */
export function validatePools(pools: readonly PortRange[]): PoolProblem[] {
  if (pools.length === 0) return [{ message: "At least one pool is required" }];
  const problems: PoolProblem[] = [];
  const checked: { index: number; range: PortRange }[] = [];
  pools.forEach((pool, index) => {
    const own: PoolProblem[] = [];
    for (const [field, label] of [["start", "Start"], ["end", "End"]] as const) {
      const value = pool[field];
      const message = `${label} must be an integer from ${MIN_PORT} to ${MAX_PORT}, got ${value}`;
      if (!isPort(value)) own.push({ index, field, message });
    }
    if (own.length === 0 && pool.start > pool.end) {
      own.push({ index, field: "end", message: "End must be greater or equal to start" });
    }
    problems.push(...own);
    if (own.length > 0) return;
    for (const earlier of checked) {
      const shared = intersectRanges(pool, earlier.range);
      if (shared === undefined) continue;
      const pair = `Pool ${index} (${formatRange(pool)}) overlaps pool ${earlier.index}`;
      const message = `${pair} (${formatRange(earlier.range)}) on ${portsPhrase([shared])}`;
      problems.push({ index, message });
    }
    checked.push({ index, range: pool });
  });
  return problems;
}

/**
 * The ports two classes' pools share, as ascending disjoint ranges: allowed (a port taken through
 * one is gone for the other), so this is for warnings. Invalid pools are ignored
 * ({@linkcode validatePools}).
 */
export function sharedPorts(a: readonly PortRange[], b: readonly PortRange[]): PortRange[] {
  const valid = (pools: readonly PortRange[]) =>
    mergeRanges(pools.filter((pool) => isPort(pool.start) && isPort(pool.end)));
  const [x, y] = [valid(a), valid(b)];
  const ranges: PortRange[] = [];
  // Both lists are ascending and disjoint: a two-pointer walk intersects them.
  for (let i = 0, j = 0; i < x.length && j < y.length;) {
    const shared = intersectRanges(x[i]!, y[j]!);
    if (shared !== undefined) ranges.push(shared);
    if (x[i]!.end < y[j]!.end) i++;
    else j++;
  }
  return ranges;
}

/** `port 9000`, or `ports 9000-9009, 9020`. */
export function portsPhrase(ranges: readonly PortRange[]): string {
  const single = ranges.length === 1 && ranges[0]!.start === ranges[0]!.end;
  return `${single ? "port" : "ports"} ${ranges.map(formatRange).join(", ")}`;
}

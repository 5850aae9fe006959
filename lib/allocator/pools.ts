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

/** A class name (only to label the result) and its pools, in any order. */
export interface ClassPools {
  readonly name: string;
  readonly pools: readonly PortRange[];
}

/** Two classes (in input order) whose pools share ports, the shared ranges, and a warning. */
export interface ClassOverlap {
  readonly classes: readonly [string, string];
  readonly ranges: readonly PortRange[];
  readonly message: string;
}

/**
 * Every pair of classes whose pools share a port: allowed (a port taken through one is gone for
 * the other), so this is for warnings. Invalid pools are ignored ({@linkcode validatePools}).
 */
export function findClassOverlaps(classes: readonly ClassPools[]): ClassOverlap[] {
  const merged = classes.map((c) =>
    mergeRanges(c.pools.filter((pool) => isPort(pool.start) && isPort(pool.end)))
  );
  const overlaps: ClassOverlap[] = [];
  for (let i = 0; i < classes.length; i++) {
    for (let j = i + 1; j < classes.length; j++) {
      // Both lists are ascending and disjoint: a two-pointer walk intersects them.
      const a = merged[i] ?? [];
      const b = merged[j] ?? [];
      const ranges: PortRange[] = [];
      for (let x = 0, y = 0; x < a.length && y < b.length;) {
        const shared = intersectRanges(a[x]!, b[y]!);
        if (shared !== undefined) ranges.push(shared);
        if (a[x]!.end < b[y]!.end) x++;
        else y++;
      }
      if (ranges.length === 0) continue;
      const names = [classes[i]?.name ?? "", classes[j]?.name ?? ""] as const;
      const message = `Class "${names[0]}" shares ${portsPhrase(ranges)} with class "${names[1]}"`;
      overlaps.push({ classes: names, ranges, message });
    }
  }
  return overlaps;
}

/** `port 9000`, or `ports 9000-9009, 9020`. */
function portsPhrase(ranges: readonly PortRange[]): string {
  const single = ranges.length === 1 && ranges[0]!.start === ranges[0]!.end;
  return `${single ? "port" : "ports"} ${ranges.map(formatRange).join(", ")}`;
}

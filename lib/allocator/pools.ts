/**
 * Checks of a class's pools for the webhooks: every problem with one class's pools, and the ports
 * two classes share, as values.
 *
 * @module
 */

import {
  formatRange,
  intersectRanges,
  isPort,
  MAX_PORT,
  mergeRanges,
  MIN_PORT,
  type PortRange,
} from "./port_bitmap.ts";

/**
 * One problem with a list of pools. A problem with the list itself has no `index`; one with a
 * whole pool (an overlap) has only `index`; one with a bound has both, so a caller can build a
 * field path such as `spec.pools[1].end`.
 */
export interface PoolProblem {
  readonly index?: number;
  readonly field?: "start" | "end";
  readonly message: string;
}

/**
 * Checks one class's pools and returns every problem found (none: valid): an empty list, a bound
 * that is not a port (`Start must be an integer from 1 to 65535, got <value>`), `end < start`
 * (the original's `End must be greater or equal to start`), and each overlapping pair, once, on
 * the later pool (pools with a bad bound are left out of that check). Overlap between classes is
 * not a problem here; see {@linkcode findClassOverlaps}.
 */
export function validatePools(pools: readonly PortRange[]): PoolProblem[] {
  if (pools.length === 0) return [{ message: "At least one pool is required" }];
  const problems: PoolProblem[] = [];
  const checked: { index: number; range: PortRange }[] = [];
  pools.forEach((pool, index) => {
    const own: PoolProblem[] = [];
    for (const [field, label] of [["start", "Start"], ["end", "End"]] as const) {
      if (!isPort(pool[field])) {
        own.push({
          index,
          field,
          message: `${label} must be an integer from ${MIN_PORT} to ${MAX_PORT}, got ${
            pool[field]
          }`,
        });
      }
    }
    if (own.length === 0 && pool.start > pool.end) {
      own.push({ index, field: "end", message: "End must be greater or equal to start" });
    }
    problems.push(...own);
    if (own.length > 0) return;
    for (const earlier of checked) {
      const shared = intersectRanges(pool, earlier.range);
      if (shared === undefined) continue;
      problems.push({
        index,
        message: `Pool ${index} (${formatRange(pool)}) overlaps pool ${earlier.index} (${
          formatRange(earlier.range)
        }) on ${shared.start === shared.end ? "port" : "ports"} ${formatRange(shared)}`,
      });
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

/**
 * Two classes (in input order) whose pools share ports: every shared port once, as ascending,
 * disjoint ranges, and a warning (`Class "a" shares ports 9000-9009, 9020 with class "b"`).
 */
export interface ClassOverlap {
  readonly classes: readonly [string, string];
  readonly ranges: readonly PortRange[];
  readonly message: string;
}

/**
 * Finds every pair of classes whose pools share a port. That is allowed (a port taken through
 * one class is gone for the other), so the result is for warnings. Pools with a bound that is not
 * a port or with `start > end` are ignored here ({@linkcode validatePools} reports them).
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
      const single = ranges.length === 1 && ranges[0]?.start === ranges[0]?.end;
      overlaps.push({
        classes: names,
        ranges,
        message: `Class "${names[0]}" shares ${single ? "port" : "ports"} ${
          ranges.map(formatRange).join(", ")
        } with class "${names[1]}"`,
      });
    }
  }
  return overlaps;
}

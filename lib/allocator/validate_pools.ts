/**
 * Validation of one class's pools, returning every problem as a value.
 *
 * @module
 */

import { formatRange, intersectRanges, isPort, MAX_PORT, MIN_PORT } from "./port_range.ts";
import type { PortRange } from "./port_range.ts";

/**
 * One problem with a list of pools.
 *
 * `index` and `field` locate it, so a caller can build a field path such as
 * `spec.pools[1].end`: a problem with the list itself has neither; a problem with a whole pool
 * (an overlap) has only `index`; a problem with one bound has both.
 */
export interface PoolProblem {
  /** Index of the pool in the list; absent when the problem is with the list itself. */
  readonly index?: number;
  /** The bound at fault; absent when the problem is with the whole pool or the list. */
  readonly field?: "start" | "end";
  /** Sentence-case description without a final period. */
  readonly message: string;
}

/**
 * Checks one class's pools and returns every problem found (an empty list means valid):
 *
 * - `At least one pool is required` (list): the list is empty.
 * - `Start must be an integer from 1 to 65535, got <value>` (pool, field `start`), and the same
 *   for `End`.
 * - `End must be greater or equal to start` (pool, field `end`): the original's exact message.
 * - `Pool <i> (<range>) overlaps pool <j> (<range>) on ports <range>` (pool `i`, no field):
 *   reported once per overlapping pair, on the later pool. Pools with an invalid bound are left
 *   out of this check.
 *
 * Overlap between classes is not a problem here; see {@linkcode findClassOverlaps}.
 *
 * @example
 * ```ts
 * import { validatePools } from "./validate_pools.ts";
 * validatePools([{ start: 9000, end: 9100 }, { start: 9050, end: 9200 }]);
 * // [{ index: 1, message: "Pool 1 (9050-9200) overlaps pool 0 (9000-9100) on ports 9050-9100" }]
 * ```
 */
export function validatePools(pools: readonly PortRange[]): PoolProblem[] {
  if (pools.length === 0) return [{ message: "At least one pool is required" }];
  const problems: PoolProblem[] = [];
  const checked: { index: number; range: PortRange }[] = [];
  pools.forEach((pool, index) => {
    const own = boundProblems(pool, index);
    problems.push(...own);
    if (own.length > 0) return;
    for (const earlier of checked) {
      const shared = intersectRanges(pool, earlier.range);
      if (shared === undefined) continue;
      problems.push({
        index,
        message: overlapMessage(index, pool, earlier.index, earlier.range, shared),
      });
    }
    checked.push({ index, range: pool });
  });
  return problems;
}

function boundProblems(pool: PortRange, index: number): PoolProblem[] {
  const problems: PoolProblem[] = [];
  if (!isPort(pool.start)) {
    problems.push({ index, field: "start", message: portMessage("Start", pool.start) });
  }
  if (!isPort(pool.end)) {
    problems.push({ index, field: "end", message: portMessage("End", pool.end) });
  }
  if (problems.length === 0 && pool.start > pool.end) {
    problems.push({ index, field: "end", message: "End must be greater or equal to start" });
  }
  return problems;
}

function portMessage(label: string, value: number): string {
  return `${label} must be an integer from ${MIN_PORT} to ${MAX_PORT}, got ${value}`;
}

function overlapMessage(
  index: number,
  pool: PortRange,
  otherIndex: number,
  other: PortRange,
  shared: PortRange,
): string {
  const ports = shared.start === shared.end ? "port" : "ports";
  return `Pool ${index} (${formatRange(pool)}) overlaps pool ${otherIndex} (${
    formatRange(other)
  }) on ${ports} ${formatRange(shared)}`;
}

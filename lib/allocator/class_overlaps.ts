/**
 * Detection of ports shared by the pools of different classes.
 *
 * @module
 */

import { formatRange, isPort, mergeRanges } from "./port_range.ts";
import type { PortRange } from "./port_range.ts";

/** A class name and its pools, the input of {@linkcode findClassOverlaps}. */
export interface ClassPools {
  /** The class name, used only to label the result. */
  readonly name: string;
  /** The class's pools, in any order. */
  readonly pools: readonly PortRange[];
}

/** Two classes whose pools share ports. */
export interface ClassOverlap {
  /** The two class names, in input order. */
  readonly classes: readonly [string, string];
  /** Every shared port exactly once, as ascending, disjoint, non-adjacent ranges. */
  readonly ranges: readonly PortRange[];
  /** For a warning, e.g. `Class "a" shares ports 9000-9009, 9020 with class "b"`. */
  readonly message: string;
}

/**
 * Finds every pair of classes whose pools share at least one port.
 *
 * Ports are unique cluster-wide, so classes that overlap share availability: a port taken
 * through one class is gone for the other. That is allowed, so the result is meant for warnings,
 * not for rejecting a class. Pools with a bound that is not a port (1-65535) or with
 * `start > end` are ignored here ({@linkcode validatePools} reports them).
 *
 * @example
 * ```ts
 * import { findClassOverlaps } from "./class_overlaps.ts";
 * findClassOverlaps([
 *   { name: "a", pools: [{ start: 9000, end: 9100 }] },
 *   { name: "b", pools: [{ start: 9050, end: 9200 }] },
 * ]);
 * // [{ classes: ["a", "b"], ranges: [{ start: 9050, end: 9100 }], message: "..." }]
 * ```
 */
export function findClassOverlaps(classes: readonly ClassPools[]): ClassOverlap[] {
  const merged = classes.map((c) =>
    mergeRanges(c.pools.filter((pool) => isPort(pool.start) && isPort(pool.end)))
  );
  const overlaps: ClassOverlap[] = [];
  for (let i = 0; i < classes.length; i++) {
    for (let j = i + 1; j < classes.length; j++) {
      const ranges = intersectSorted(merged[i] ?? [], merged[j] ?? []);
      if (ranges.length === 0) continue;
      const names = [classes[i]?.name ?? "", classes[j]?.name ?? ""] as const;
      overlaps.push({ classes: names, ranges, message: overlapMessage(names, ranges) });
    }
  }
  return overlaps;
}

/** Intersects two ascending lists of disjoint ranges with a two-pointer walk. */
function intersectSorted(a: readonly PortRange[], b: readonly PortRange[]): PortRange[] {
  const shared: PortRange[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a[i] as PortRange;
    const y = b[j] as PortRange;
    const start = Math.max(x.start, y.start);
    const end = Math.min(x.end, y.end);
    if (start <= end) shared.push({ start, end });
    if (x.end < y.end) i++;
    else j++;
  }
  return shared;
}

function overlapMessage(names: readonly [string, string], ranges: readonly PortRange[]): string {
  const single = ranges.length === 1 && ranges[0]?.start === ranges[0]?.end;
  const list = ranges.map(formatRange).join(", ");
  return `Class "${names[0]}" shares ${single ? "port" : "ports"} ${list} with class "${names[1]}"`;
}

/**
 * Warnings for HostPortClass pools that are legal but risky: ports shared with another class,
 * ports in the NodePort range, privileged ports.
 *
 * @module
 */
import { findClassOverlaps, formatRange, type PortRange } from "../lib/allocator/mod.ts";
import type { HostPortClass } from "../lib/api/mod.ts";
import { goQuote } from "./field_errors.ts";

/** The API server's default Service NodePort range. */
const NODE_PORT_RANGE: PortRange = { start: 30000, end: 32767 };
/** Ports below this are privileged on Linux and often taken by node services. */
const FIRST_UNPRIVILEGED_PORT = 1024;

/**
 * Warnings about a class's pools, in pool order, then overlaps in the order of `others`.
 *
 * @param name the class's name
 * @param pools the class's pools (already validated)
 * @param others the other classes (the class itself is skipped by name), when they are known
 * @returns warning texts
 */
export function poolWarnings(
  name: string,
  pools: readonly PortRange[],
  others: readonly HostPortClass[],
): string[] {
  const warnings: string[] = [];
  pools.forEach((pool, i) => {
    const nodePorts = intersect(pool, NODE_PORT_RANGE);
    if (nodePorts !== undefined) {
      warnings.push(
        `spec.pools[${i}]: ${describe(nodePorts)} in the default NodePort range ` +
          `${formatRange(NODE_PORT_RANGE)}; Service node ports there can collide with host ports`,
      );
    }
    const privileged = intersect(pool, { start: 1, end: FIRST_UNPRIVILEGED_PORT - 1 });
    if (privileged !== undefined) {
      warnings.push(
        `spec.pools[${i}]: ${describe(privileged)} below ${FIRST_UNPRIVILEGED_PORT}; ` +
          "privileged ports are often taken by services on the nodes",
      );
    }
  });
  for (const other of others) {
    const otherName = other.metadata.name ?? "";
    if (otherName === name) continue;
    const [overlap] = findClassOverlaps([{ name, pools }, {
      name: otherName,
      pools: other.spec.pools,
    }]);
    if (overlap === undefined) continue;
    warnings.push(
      `spec.pools: ${overlap.message}; ports are unique cluster-wide, so both classes draw ` +
        "on these ports",
    );
  }
  return warnings;
}

/**
 * The warning when the other classes could not be listed.
 *
 * @param error the lookup failure
 * @returns the warning text
 */
export function overlapCheckFailed(error: unknown): string {
  const reason = error instanceof Error ? error.message : String(error);
  return `spec.pools: cannot check for ports shared with other HostPortClasses: ${reason}`;
}

/**
 * The warning for a claim whose class does not exist (yet).
 *
 * @param className the class name
 * @returns the warning text
 */
export function classMissingWarning(className: string): string {
  return `spec.hostPortClassName: HostPortClass ${goQuote(className)} does not exist; the ` +
    "claim stays Pending until it is created";
}

function describe(range: PortRange): string {
  return range.start === range.end
    ? `port ${formatRange(range)} is`
    : `ports ${formatRange(range)} are`;
}

function intersect(a: PortRange, b: PortRange): PortRange | undefined {
  const start = Math.max(a.start, b.start);
  const end = Math.min(a.end, b.end);
  return start <= end ? { start, end } : undefined;
}

/**
 * Pure port allocation for hostport-allocator: no I/O, no clock, no randomness, and nothing
 * imported from outside this folder.
 *
 * - {@linkcode PortRegistry}: the cluster-wide set of held ports (a port is held by at most one
 *   HostPort, whatever its class) with `allocateNext(pools)`, `allocate(port, pools?)`,
 *   `release`, `has`, `usage(pools)`, `restore(entries)` and `snapshot()`. A class is its ordered
 *   list of pools, passed to each call. "No free port" and "port refused" are values; only
 *   arguments that boundary validation should have refused throw ({@linkcode InvalidPortError},
 *   {@linkcode InvalidPoolError}).
 * - {@linkcode validatePools}: every problem with one class's pools, as values.
 * - {@linkcode findClassOverlaps}: ports shared between classes, for warnings.
 *
 * @example
 * ```ts
 * import { PortRegistry, validatePools } from "./mod.ts";
 *
 * const pools = [{ start: 9500, end: 9600 }, { start: 9000, end: 9000 }];
 * if (validatePools(pools).length > 0) throw new Error("Invalid pools");
 *
 * const registry = new PortRegistry();
 * // Rebuild from the ports HostPorts already hold, and look at what was odd.
 * const report = registry.restore([{ holder: "hpc-a", port: 9500, pools }]);
 * console.log(report.duplicates, report.outsidePools);
 *
 * const next = registry.allocateNext(pools); // first free port, pools in order
 * if (next.ok) console.log(next.port); // 9501
 * else console.log("no free ports to allocate");
 *
 * registry.release(9501); // true: it was held
 * console.log(registry.usage(pools).free); // 101
 * ```
 *
 * @module
 */

export { findClassOverlaps } from "./class_overlaps.ts";
export type { ClassOverlap, ClassPools } from "./class_overlaps.ts";
export { PORT_BITMAP_BYTES, PortBitmap } from "./port_bitmap.ts";
export { formatRange, isPort, MAX_PORT, MIN_PORT } from "./port_range.ts";
export type { PortRange } from "./port_range.ts";
export { InvalidPoolError, InvalidPortError, PortRegistry } from "./port_registry.ts";
export type {
  AllocateNextResult,
  AllocateResult,
  ClassUsage,
  HolderPort,
  PortUsage,
  RestoreEntry,
  RestoreReport,
} from "./port_registry.ts";
export { validatePools } from "./validate_pools.ts";
export type { PoolProblem } from "./validate_pools.ts";

/**
 * The cluster-wide set of held ports and the allocation rule over a class's pools. Expected
 * outcomes are values; the named errors are for arguments validation should have refused.
 * @module
 */

import {
  formatRange,
  inRanges,
  InvalidPortError,
  isPort,
  MAX_PORT,
  mergeRanges,
  MIN_PORT,
  PortBitmap,
  type PortRange,
} from "./port_bitmap.ts";

/** Thrown when a pool bound is not a port (a pool with `start > end` just holds no port). */
export class InvalidPoolError extends Error {
  constructor(readonly index: number, readonly pool: PortRange) {
    const bounds = `from ${MIN_PORT} to ${MAX_PORT}, got ${formatRange(pool)}`;
    super(`Pool ${index} must have integer bounds ${bounds}`);
    this.name = "InvalidPoolError";
  }
}

/** A port a holder already holds, and the pools it should lie in (omitted: not checked). */
export interface RestoreEntry<H> {
  readonly holder: H;
  readonly port: number;
  readonly pools?: readonly PortRange[] | undefined;
}

/**
 * What {@linkcode PortRegistry.restore} found: ports of several holders (ascending), entries
 * outside their pools (held anyway), and entries whose port is not a port (not held).
 */
export interface RestoreReport<H> {
  readonly duplicates: readonly { readonly port: number; readonly holders: readonly H[] }[];
  readonly outsidePools: readonly { readonly holder: H; readonly port: number }[];
  readonly invalid: readonly { readonly holder: H; readonly port: number }[];
}

/** Port counts over one range: held cluster-wide (through any class) and free. */
export interface PortUsage {
  readonly capacity: number;
  readonly allocated: number;
  readonly free: number;
}

/** Counts for a class as a whole (its pools merged) and for each of its pools, in list order. */
export interface ClassUsage extends PortUsage {
  readonly pools: readonly (PortUsage & PortRange)[];
}

/** The ports held cluster-wide (through any class), and allocation from a class's ordered pools. */
export class PortRegistry {
  #held = new PortBitmap();

  /**
   * Takes the first free port by the original's rule: pools in list order, ascending within each.
   *
   * @throws {InvalidPoolError} a pool bound is not an integer from 1 to 65535
   */
  allocateNext(pools: readonly PortRange[]): { ok: true; port: number } | { ok: false } {
    checkPools(pools);
    for (const pool of pools) {
      if (pool.start > pool.end) continue;
      const port = this.#held.firstClear(pool.start, pool.end);
      if (port !== -1) {
        this.#held.set(port);
        return { ok: true, port };
      }
    }
    return { ok: false };
  }

  /** Takes a requested port; false when it is held. @throws {InvalidPortError} not a port */
  allocate(port: number): boolean {
    if (!isPort(port)) throw new InvalidPortError(port);
    return this.#held.set(port);
  }

  /** Frees a port; idempotent, never throws. Returns whether the port was held. */
  release(port: number): boolean {
    return isPort(port) && this.#held.clear(port);
  }

  /** Whether `port` is held (false for any value that is not a port). */
  has(port: number): boolean {
    return isPort(port) && this.#held.has(port);
  }

  /**
   * Counts ports for a class: `allocated` counts held ports through any class, and the class
   * totals count each port once even if its pools overlap (per-pool counts are then not additive).
   *
   * @throws {InvalidPoolError} a pool bound is not an integer from 1 to 65535
   */
  usage(pools: readonly PortRange[]): ClassUsage {
    checkPools(pools);
    const count = (range: PortRange): PortUsage => {
      const capacity = Math.max(0, range.end - range.start + 1);
      const allocated = capacity === 0 ? 0 : this.#held.countSet(range.start, range.end);
      return { capacity, allocated, free: capacity - allocated };
    };
    const merged = mergeRanges(pools).map(count);
    const capacity = merged.reduce((sum, counts) => sum + counts.capacity, 0);
    const allocated = merged.reduce((sum, counts) => sum + counts.allocated, 0);
    const perPool = pools.map((pool) => ({ start: pool.start, end: pool.end, ...count(pool) }));
    return { capacity, allocated, free: capacity - allocated, pools: perPool };
  }

  /** Replaces the state with the ports HostPorts hold, reporting, never fixing, what is wrong. */
  restore<H>(entries: Iterable<RestoreEntry<H>>): RestoreReport<H> {
    this.#held = new PortBitmap();
    const holders = new Map<number, H[]>();
    const outsidePools: { holder: H; port: number }[] = [];
    const invalid: { holder: H; port: number }[] = [];
    for (const { holder, port, pools } of entries) {
      if (!isPort(port)) {
        invalid.push({ holder, port });
        continue;
      }
      if (pools !== undefined && !inRanges(pools, port)) outsidePools.push({ holder, port });
      this.#held.set(port);
      holders.set(port, [...(holders.get(port) ?? []), holder]);
    }
    const duplicates = [...holders].filter(([, list]) => list.length > 1)
      .sort(([a], [b]) => a - b).map(([port, list]) => ({ port, holders: list }));
    return { duplicates, outsidePools, invalid };
  }

  /** Every held port, ascending. */
  snapshot(): number[] {
    return this.#held.toArray();
  }
}

function checkPools(pools: readonly PortRange[]): void {
  pools.forEach((pool, index) => {
    if (!isPort(pool.start) || !isPort(pool.end)) throw new InvalidPoolError(index, pool);
  });
}

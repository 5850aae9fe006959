/**
 * The cluster-wide set of held ports and the allocation rule over one class's pools. Expected
 * outcomes (no free port, port already held) are values; the named errors are for arguments that
 * validation at the boundary should already have refused.
 *
 * @module
 */

import {
  formatRange,
  inRanges,
  isPort,
  MAX_PORT,
  mergeRanges,
  MIN_PORT,
  PortBitmap,
  type PortRange,
} from "./port_bitmap.ts";

/** Thrown when a port argument is not an integer from 1 to 65535. */
export class InvalidPortError extends Error {
  /** Builds the error for the rejected `port`. */
  constructor(readonly port: number) {
    super(`Port must be an integer from ${MIN_PORT} to ${MAX_PORT}, got ${port}`);
    this.name = "InvalidPortError";
  }
}

/**
 * Thrown when a pool bound is not an integer from 1 to 65535. A pool with `start > end` is not an
 * error: like the original, it simply holds no port.
 */
export class InvalidPoolError extends Error {
  /** Builds the error for `pool` at `index` of the list passed. */
  constructor(readonly index: number, readonly pool: PortRange) {
    super(
      `Pool ${index} must have integer bounds from ${MIN_PORT} to ${MAX_PORT}, got ${
        formatRange(pool)
      }`,
    );
    this.name = "InvalidPoolError";
  }
}

/**
 * A port a holder (a HostPort name, echoed in the report) already holds, for
 * {@linkcode PortRegistry.restore}, with the pools it should lie in (omitted: not checked).
 */
export interface RestoreEntry<H> {
  readonly holder: H;
  readonly port: number;
  readonly pools?: readonly PortRange[] | undefined;
}

/**
 * What {@linkcode PortRegistry.restore} found: distinct ports held; ports of more than one entry
 * (ascending, holders in input order); entries outside their pools (held anyway); entries whose
 * port is not a port (not held).
 */
export interface RestoreReport<H> {
  readonly held: number;
  readonly duplicates: readonly { readonly port: number; readonly holders: readonly H[] }[];
  readonly outsidePools: readonly { readonly holder: H; readonly port: number }[];
  readonly invalid: readonly { readonly holder: H; readonly port: number }[];
}

/** Port counts over one range: held cluster-wide (through whichever class) and free. */
export interface PortUsage {
  readonly capacity: number;
  readonly allocated: number;
  readonly free: number;
}

/** Counts for a class as a whole (its pools merged) and for each of its pools, in list order. */
export interface ClassUsage extends PortUsage {
  readonly pools: readonly (PortUsage & PortRange)[];
}

/**
 * The ports held cluster-wide, and allocation from a class's pools. One registry holds every port
 * of every class, so a port held through one class is unavailable to all; a class is just its
 * ordered list of pools, passed to each call. Pure and synchronous.
 */
export class PortRegistry {
  #held = new PortBitmap();

  /** How many ports are held cluster-wide. */
  get size(): number {
    return this.#held.size;
  }

  /**
   * Takes the first free port by the original's rule: pools in list order, ascending within each.
   * The cost depends on the number and width of the pools, not on how many ports are held.
   *
   * @returns `{ ok: true, port }`, or `{ ok: false }` when every port of every pool is held
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

  /**
   * Takes a requested port; with `pools`, it must lie in one of them (checked first). A refused
   * request changes nothing.
   *
   * @returns `{ ok: true, port }`, or `{ ok: false, reason }`: `"outside-pools"` or `"held"`
   * @throws {InvalidPortError} `port` is not an integer from 1 to 65535
   * @throws {InvalidPoolError} a pool bound is not an integer from 1 to 65535
   */
  allocate(
    port: number,
    pools?: readonly PortRange[],
  ): { ok: true; port: number } | { ok: false; reason: "outside-pools" | "held" } {
    if (!isPort(port)) throw new InvalidPortError(port);
    if (pools !== undefined) {
      checkPools(pools);
      if (!inRanges(pools, port)) return { ok: false, reason: "outside-pools" };
    }
    return this.#held.set(port) ? { ok: true, port } : { ok: false, reason: "held" };
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
   * Counts ports for a class. `allocated` counts every held port inside the pools, whichever
   * class's HostPort holds it, so a port held through an overlapping class is never counted free.
   * The class totals count each port once even if its pools overlap; per-pool counts are then
   * not additive.
   *
   * @throws {InvalidPoolError} a pool bound is not an integer from 1 to 65535
   */
  usage(pools: readonly PortRange[]): ClassUsage {
    checkPools(pools);
    const count = (range: PortRange): PortUsage => {
      const capacity = range.end >= range.start ? range.end - range.start + 1 : 0;
      const allocated = capacity === 0 ? 0 : this.#held.countSet(range.start, range.end);
      return { capacity, allocated, free: capacity - allocated };
    };
    let capacity = 0;
    let allocated = 0;
    for (const range of mergeRanges(pools)) {
      const counts = count(range);
      capacity += counts.capacity;
      allocated += counts.allocated;
    }
    const perPool = pools.map((pool) => ({ start: pool.start, end: pool.end, ...count(pool) }));
    return { capacity, allocated, free: capacity - allocated, pools: perPool };
  }

  /**
   * Replaces the whole state with the ports HostPorts already hold. Nothing is "fixed": a
   * duplicated port stays held (once), a port outside its entry's pools stays held, and both are
   * reported; only entries whose port is not a port are left out (reported as invalid).
   */
  restore<H>(entries: Iterable<RestoreEntry<H>>): RestoreReport<H> {
    this.#held.reset();
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
      const list = holders.get(port);
      if (list === undefined) holders.set(port, [holder]);
      else list.push(holder);
    }
    const duplicates = [...holders].filter(([, list]) => list.length > 1)
      .sort(([a], [b]) => a - b).map(([port, list]) => ({ port, holders: list }));
    return { held: this.#held.size, duplicates, outsidePools, invalid };
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

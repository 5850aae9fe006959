/**
 * The cluster-wide set of held ports and the allocation rule over one class's pools, with the
 * input and report types of {@linkcode PortRegistry.restore}, and the named errors for contract
 * violations (the caller passed a value that validation at the boundary should already have
 * refused). Expected outcomes (no free port, port already held) are returned as values instead.
 *
 * @module
 */

import { PortBitmap } from "./port_bitmap.ts";
import {
  formatRange,
  isPort,
  MAX_PORT,
  mergeRanges,
  MIN_PORT,
  rangeContains,
  rangeSize,
} from "./port_range.ts";
import type { PortRange } from "./port_range.ts";

/** Thrown when a port argument is not an integer from 1 to 65535. */
export class InvalidPortError extends Error {
  /** The rejected value. */
  readonly port: number;

  /** Builds the error for the rejected `port`. */
  constructor(port: number) {
    super(`Port must be an integer from ${MIN_PORT} to ${MAX_PORT}, got ${port}`);
    this.name = "InvalidPortError";
    this.port = port;
  }
}

/**
 * Thrown when a pool bound is not an integer from 1 to 65535. A pool with `start > end` is not
 * an error: like the original, it simply holds no port.
 */
export class InvalidPoolError extends Error {
  /** Index of the pool in the list passed. */
  readonly index: number;
  /** The rejected pool. */
  readonly pool: PortRange;

  /** Builds the error for `pool` at `index`. */
  constructor(index: number, pool: PortRange) {
    super(
      `Pool ${index} must have integer bounds from ${MIN_PORT} to ${MAX_PORT}, got ${
        formatRange(pool)
      }`,
    );
    this.name = "InvalidPoolError";
    this.index = index;
    this.pool = pool;
  }
}

/** One port a holder (e.g. a HostPort name) already holds, for {@linkcode PortRegistry.restore}. */
export interface RestoreEntry<H> {
  /** Who holds the port; echoed in the report, never inspected. */
  readonly holder: H;
  /** The held port. */
  readonly port: number;
  /**
   * The pools the port should lie in: the holder's class's pools, or the union of every class's
   * pools to check "outside every pool". Omit it to skip the check (e.g. the class is missing).
   */
  readonly pools?: readonly PortRange[] | undefined;
}

/** A holder and its port, as listed in a {@linkcode RestoreReport}. */
export interface HolderPort<H> {
  /** The holder, as given. */
  readonly holder: H;
  /** The port, as given. */
  readonly port: number;
}

/** What {@linkcode PortRegistry.restore} found. */
export interface RestoreReport<H> {
  /** How many distinct ports are now held. */
  readonly held: number;
  /** Ports given by more than one entry, ascending, with every holder in input order. */
  readonly duplicates: readonly { readonly port: number; readonly holders: readonly H[] }[];
  /** Entries whose port is outside their `pools`; the port is held anyway. */
  readonly outsidePools: readonly HolderPort<H>[];
  /** Entries whose port is not an integer from 1 to 65535; not held. */
  readonly invalid: readonly HolderPort<H>[];
}

/** The result of {@linkcode PortRegistry.allocateNext}: a port, or `ok: false` when none is free. */
export type AllocateNextResult = { readonly ok: true; readonly port: number } | {
  readonly ok: false;
};

/**
 * The result of {@linkcode PortRegistry.allocate}: the port, or why it was refused:
 * `"outside-pools"` (not in any of the pools given) or `"held"` (already held by someone).
 */
export type AllocateResult = { readonly ok: true; readonly port: number } | {
  readonly ok: false;
  readonly reason: "outside-pools" | "held";
};

/** Port counts over one range; `capacity === allocated + free`. */
export interface PortUsage {
  /** Ports in the range. */
  readonly capacity: number;
  /** Ports in the range held cluster-wide, through whichever class. */
  readonly allocated: number;
  /** Ports in the range that nobody holds. */
  readonly free: number;
}

/** Counts for a class as a whole (its pools merged) and for each of its pools, in list order. */
export interface ClassUsage extends PortUsage {
  /** One entry per pool given, in the same order. */
  readonly pools: readonly (PortUsage & PortRange)[];
}

/**
 * The ports held cluster-wide, and allocation from a class's pools.
 *
 * One registry holds every port held by any HostPort of any class, so a port held through one
 * class is unavailable to all of them. A class is just its ordered list of pools, passed to each
 * call. State is a fixed 8 KiB bitmap plus a 256-byte summary of full words, whatever the number
 * of classes or held ports. Pure and synchronous: no clock, no I/O.
 *
 * @example
 * ```ts
 * import { PortRegistry } from "./port_registry.ts";
 * const registry = new PortRegistry();
 * const pools = [{ start: 9500, end: 9600 }, { start: 9000, end: 9000 }];
 * registry.allocateNext(pools); // { ok: true, port: 9500 }
 * registry.allocate(9000, pools); // { ok: true, port: 9000 }
 * registry.release(9500); // true
 * ```
 */
export class PortRegistry {
  #held = new PortBitmap();

  /** How many ports are held cluster-wide. */
  get size(): number {
    return this.#held.size;
  }

  /**
   * Takes the first port that nobody holds, by the original's rule: pools in list order,
   * ascending within each pool. Pools with `start > end` hold no port. The cost depends on the
   * number and width of the pools, not on how many ports are held.
   *
   * @returns `{ ok: true, port }`, or `{ ok: false }` when every port of every pool is held.
   * @throws {InvalidPoolError} a pool bound is not an integer from 1 to 65535.
   */
  allocateNext(pools: readonly PortRange[]): AllocateNextResult {
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
   * Takes a requested port. Refusals are values, not errors, because the request usually comes
   * from user input (a HostPort asking for a port) and the caller must report it. With `pools`,
   * the port must lie in one of them (checked first); without, any port may be taken, e.g. to
   * record a port a HostPort already holds.
   *
   * @returns `{ ok: true, port }`, or `{ ok: false, reason }` with reason `"outside-pools"` or
   * `"held"`; a refused request changes nothing.
   * @throws {InvalidPortError} `port` is not an integer from 1 to 65535.
   * @throws {InvalidPoolError} a pool bound is not an integer from 1 to 65535.
   */
  allocate(port: number, pools?: readonly PortRange[]): AllocateResult {
    if (!isPort(port)) throw new InvalidPortError(port);
    if (pools !== undefined) {
      checkPools(pools);
      if (!pools.some((pool) => rangeContains(pool, port))) {
        return { ok: false, reason: "outside-pools" };
      }
    }
    return this.#held.set(port) ? { ok: true, port } : { ok: false, reason: "held" };
  }

  /**
   * Frees a port. Idempotent: releasing a free port, or a value that is not a port, changes
   * nothing. Never throws.
   *
   * @returns whether the port was held.
   */
  release(port: number): boolean {
    return isPort(port) && this.#held.clear(port);
  }

  /** Whether `port` is held (false for any value that is not a port). Never throws. */
  has(port: number): boolean {
    return isPort(port) && this.#held.has(port);
  }

  /**
   * Counts ports for a class. `allocated` counts every held port inside the pools, whichever
   * class's HostPort holds it (the registry knows ports, not owners), so a port held through
   * another class with an overlapping pool is counted as allocated, never as free. The class
   * totals count each port once even if its pools overlap; per-pool counts are then not additive.
   *
   * @throws {InvalidPoolError} a pool bound is not an integer from 1 to 65535.
   */
  usage(pools: readonly PortRange[]): ClassUsage {
    checkPools(pools);
    const perPool = pools.map((pool) => ({
      start: pool.start,
      end: pool.end,
      ...this.#count(pool),
    }));
    let capacity = 0;
    let allocated = 0;
    for (const range of mergeRanges(pools)) {
      const counts = this.#count(range);
      capacity += counts.capacity;
      allocated += counts.allocated;
    }
    return { capacity, allocated, free: capacity - allocated, pools: perPool };
  }

  /**
   * Replaces the whole state with the ports HostPorts already hold, e.g. at start-up or in a
   * repair pass. Nothing is "fixed": a duplicated port stays held (once), a port outside its
   * entry's pools stays held, and both are reported; only entries whose port is not an integer
   * from 1 to 65535 are left out (reported as invalid). Callers leave out unallocated HostPorts
   * (port 0).
   *
   * @returns what was restored and every anomaly, see {@linkcode RestoreReport}.
   */
  restore<H>(entries: Iterable<RestoreEntry<H>>): RestoreReport<H> {
    this.#held.reset();
    const firstHolder = new Map<number, H>();
    const duplicates = new Map<number, H[]>();
    const outsidePools: HolderPort<H>[] = [];
    const invalid: HolderPort<H>[] = [];
    for (const { holder, port, pools } of entries) {
      if (!isPort(port)) {
        invalid.push({ holder, port });
        continue;
      }
      if (pools !== undefined && !pools.some((pool) => rangeContains(pool, port))) {
        outsidePools.push({ holder, port });
      }
      if (this.#held.set(port)) {
        firstHolder.set(port, holder);
        continue;
      }
      const holders = duplicates.get(port);
      if (holders === undefined) duplicates.set(port, [firstHolder.get(port) as H, holder]);
      else holders.push(holder);
    }
    const dupes = [...duplicates].sort(([a], [b]) => a - b).map(([port, holders]) => ({
      port,
      holders,
    }));
    return { held: this.#held.size, duplicates: dupes, outsidePools, invalid };
  }

  /** Every held port, ascending. */
  snapshot(): number[] {
    return this.#held.toArray();
  }

  #count(range: PortRange): PortUsage {
    const capacity = rangeSize(range);
    const allocated = capacity === 0 ? 0 : this.#held.countSet(range.start, range.end);
    return { capacity, allocated, free: capacity - allocated };
  }
}

function checkPools(pools: readonly PortRange[]): void {
  pools.forEach((pool, index) => {
    if (!isPort(pool.start) || !isPort(pool.end)) throw new InvalidPoolError(index, pool);
  });
}

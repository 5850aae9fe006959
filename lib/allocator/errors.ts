/**
 * Named errors for contract violations: the caller passed a value that validation at the
 * boundary should already have refused. Expected outcomes (no free port, port already held) are
 * returned as values instead.
 *
 * @module
 */

import { formatRange, MAX_PORT, MIN_PORT } from "./port_range.ts";
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

/**
 * Exponential backoff with jitter, as a pure function of the attempt number and an
 * injected random source.
 *
 * @module
 */

/** Backoff settings. */
export interface BackoffOptions {
  /** The first delay, in ms. */
  initialMs: number;
  /** The largest delay before jitter, in ms. */
  maxMs: number;
  /** The growth factor per attempt; defaults to 2. */
  factor?: number;
  /**
   * The share of the delay that is random, from 0 to 1; defaults to 0.5. With 0.5 the
   * result lies in [delay/2, delay), so many clients retrying at once spread out.
   */
  jitter?: number;
}

/** The informer's defaults: 250 ms doubling up to 30 s, half of it random. */
export const DEFAULT_BACKOFF: BackoffOptions = {
  initialMs: 250,
  maxMs: 30_000,
  factor: 2,
  jitter: 0.5,
};

/**
 * Returns the delay before retry number `attempt` (0 for the first retry).
 *
 * @param attempt how many retries happened before this one
 * @param options the curve
 * @param random a source of numbers in [0, 1); defaults to `Math.random`
 */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions,
  random: () => number = Math.random,
): number {
  const factor = options.factor ?? 2;
  const jitter = Math.min(Math.max(options.jitter ?? 0.5, 0), 1);
  const exponent = Math.min(Math.max(attempt, 0), 64);
  const base = Math.min(options.initialMs * factor ** exponent, options.maxMs);
  return Math.round(base * (1 - jitter) + base * jitter * random());
}

/**
 * Time as an injected dependency, so the work queue, backoff, informer and rate limits run under
 * a fake clock in tests; exponential backoff with jitter; and a token bucket.
 *
 * @module
 */

/** An opaque timer handle. */
export type TimerHandle = unknown;

/** The time functions the kube runtime uses. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Calls `callback` once after `ms` milliseconds. */
  setTimeout(callback: () => void, ms: number): TimerHandle;
  /** Cancels a timer from `setTimeout` (a no-op for fired or unknown timers). */
  clearTimeout(handle: TimerHandle): void;
}

/** The real clock. It looks the globals up on each call, so installed fake timers apply. */
export const SYSTEM_CLOCK: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/**
 * Resolves after `ms` milliseconds on `clock`, or as soon as `signal` aborts (it never
 * rejects, so loops can check their own stop flag afterwards).
 */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const onAbort = () => {
      clock.clearTimeout(handle);
      resolve();
    };
    const handle = clock.setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

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

/** Token bucket settings. */
export interface TokenBucketOptions {
  /** Sustained requests per second (> 0). */
  qps: number;
  /** How many requests may go at once after a quiet period; defaults to `ceil(qps)`. */
  burst?: number;
  /** Time source; defaults to the system clock. */
  clock?: Clock;
}

/** A token bucket; each `take()` reserves one token and waits until it is available. */
export class TokenBucket {
  #qps: number;
  #burst: number;
  #clock: Clock;
  #tokens: number;
  #last: number;

  /**
   * Creates a full bucket.
   *
   * @throws {RangeError} when `qps` or `burst` is not positive
   */
  constructor(options: TokenBucketOptions) {
    if (!(options.qps > 0)) {
      throw new RangeError(
        `Cannot create a rate limit as qps must be > 0: current value is ${options.qps}`,
      );
    }
    this.#qps = options.qps;
    this.#burst = options.burst ?? Math.ceil(options.qps);
    if (!(this.#burst >= 1)) {
      throw new RangeError(
        `Cannot create a rate limit as burst must be >= 1: current value is ${this.#burst}`,
      );
    }
    this.#clock = options.clock ?? SYSTEM_CLOCK;
    this.#tokens = this.#burst;
    this.#last = this.#clock.now();
  }

  /** How long the next `take()` would wait, in ms. */
  delayMs(): number {
    this.#refill();
    return this.#tokens >= 1 ? 0 : Math.ceil(((1 - this.#tokens) / this.#qps) * 1000);
  }

  /** Reserves a token and resolves when it is due (early if `signal` aborts). */
  take(signal?: AbortSignal): Promise<void> {
    const wait = this.delayMs();
    this.#tokens -= 1; // a reservation: later callers queue behind this one
    return wait === 0 ? Promise.resolve() : sleep(this.#clock, wait, signal);
  }

  #refill(): void {
    const now = this.#clock.now();
    const elapsed = Math.max(0, now - this.#last) / 1000;
    this.#last = now;
    this.#tokens = Math.min(this.#burst, this.#tokens + elapsed * this.#qps);
  }
}

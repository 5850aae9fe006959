/**
 * An optional client-side request rate limit (token bucket). The REST client uses none by
 * default: the API server's Priority and Fairness already protects it, and controller-runtime
 * dropped its client-side default for the same reason. Set `qps` when a shared cluster asks
 * operators to limit themselves.
 *
 * @module
 */
import { type Clock, sleep, SYSTEM_CLOCK } from "./clock.ts";

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

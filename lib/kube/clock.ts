/**
 * Time as an injected dependency (so tests run under a fake clock), and backoff with jitter.
 *
 * @module
 */

/** An opaque timer handle. */
export type TimerHandle = unknown;

/** The time functions the kube runtime uses. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  setTimeout(callback: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** The real clock. It looks the globals up on each call, so installed fake timers apply. */
export const SYSTEM_CLOCK: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** Resolves after `ms` on `clock`, or as soon as `signal` aborts (it never rejects). */
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

/** A backoff curve: `initialMs` doubling up to `maxMs`, `jitter` (0.5) random. */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /** The random share of the delay, from 0 to 1: 0.5 gives a delay in [d/2, d). */
  jitter?: number;
}

/**
 * Returns the delay before retry number `attempt` (0 for the first retry); the default curve
 * (the informer's) is 250 ms doubling up to 30 s, half of it random.
 */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions = { initialMs: 250, maxMs: 30_000 },
  random: () => number = Math.random,
): number {
  const jitter = Math.min(Math.max(options.jitter ?? 0.5, 0), 1);
  const exponent = Math.min(Math.max(attempt, 0), 64);
  const base = Math.min(options.initialMs * 2 ** exponent, options.maxMs);
  return Math.round(base * (1 - jitter) + base * jitter * random());
}

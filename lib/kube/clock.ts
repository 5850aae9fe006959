/**
 * Time as an injected dependency, so the work queue, backoff and informer run under a
 * fake clock in tests.
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

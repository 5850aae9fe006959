/**
 * Test helper: a `Clock` driven by `@sinonjs/fake-timers`, so rate limits and renew loops
 * run without waiting.
 *
 * @module
 */
import FakeTimers from "@sinonjs/fake-timers";
import type { Clock } from "../kube/clock.ts";

/** A fake clock and the handle that advances it (`tickAsync`). */
export interface FakeClock {
  /** The `Clock` to inject. */
  clock: Clock;
  /** Advances time, running due timers. */
  fake: ReturnType<typeof FakeTimers.createClock>;
}

/** Creates a fake clock starting at `startMs`. */
export function fakeClock(startMs = 1_000_000): FakeClock {
  const fake = FakeTimers.createClock(startMs);
  const clock: Clock = {
    now: () => fake.now,
    setTimeout: (callback, ms) => fake.setTimeout(callback, ms),
    clearTimeout: (handle) => {
      if (handle !== undefined) fake.clearTimeout(handle as never);
    },
  };
  return { clock, fake };
}

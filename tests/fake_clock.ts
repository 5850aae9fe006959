/**
 * Test helper: a `Clock` driven by `@sinonjs/fake-timers`, so backoffs, rate limits, resyncs
 * and renew loops run without waiting. The one fake clock of the repository, for the tests
 * under lib/ and tests/ alike.
 *
 * @module
 */
import FakeTimers from "@sinonjs/fake-timers";
import type { Clock } from "../lib/kube/clock.ts";

/** A fake clock and the fake-timers handle that advances it (`tick`, `tickAsync`). */
export interface FakeClock {
  /** The `Clock` to inject. */
  clock: Clock;
  /** Advances time, running due timers. */
  fake: ReturnType<typeof FakeTimers.createClock>;
}

/** Creates a fake clock starting at `startMs`. */
export function fakeClock(startMs = 0): FakeClock {
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

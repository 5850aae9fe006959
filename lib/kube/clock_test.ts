import assert from "node:assert/strict";
import { backoffDelay } from "./clock.ts";

Deno.test("backoffDelay() doubles from the initial delay up to the cap without jitter", () => {
  const options = { initialMs: 100, maxMs: 1000, jitter: 0 };
  const delays = [0, 1, 2, 3, 4, 5, 50].map((attempt) => backoffDelay(attempt, options));
  assert.deepEqual(delays, [100, 200, 400, 800, 1000, 1000, 1000]);
});

Deno.test("backoffDelay() spreads the delay over [d*(1-jitter), d) with the random source", () => {
  const options = { initialMs: 1000, maxMs: 10_000, jitter: 0.5 };
  assert.equal(backoffDelay(0, options, () => 0), 500);
  assert.equal(backoffDelay(0, options, () => 0.5), 750);
  assert.equal(backoffDelay(0, options, () => 0.999), 1000);
  assert.equal(backoffDelay(10, options, () => 0), 5000);
});

import assert from "node:assert/strict";
import { backoffDelay, TokenBucket } from "./clock.ts";
import { fakeClock } from "../../tests/fake_clock.ts";

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

Deno.test("backoffDelay() honours a custom factor", () => {
  assert.equal(backoffDelay(2, { initialMs: 10, maxMs: 1e6, factor: 3, jitter: 0 }), 90);
});

Deno.test("TokenBucket lets a burst through, then spaces requests at 1/qps", async () => {
  const { clock, fake } = fakeClock(1000);
  const bucket = new TokenBucket({ qps: 10, burst: 2, clock });
  const done: number[] = [];
  for (let i = 0; i < 4; i++) void bucket.take().then(() => done.push(fake.now));
  await fake.tickAsync(0);
  assert.deepEqual(done, [1000, 1000]);
  await fake.tickAsync(100);
  assert.deepEqual(done, [1000, 1000, 1100]);
  await fake.tickAsync(100);
  assert.deepEqual(done, [1000, 1000, 1100, 1200]);
});

Deno.test("TokenBucket refills while idle, up to the burst", async () => {
  const { clock, fake } = fakeClock();
  const bucket = new TokenBucket({ qps: 5, burst: 3, clock });
  for (let i = 0; i < 3; i++) await bucket.take();
  assert.equal(bucket.delayMs(), 200);
  fake.tick(10_000);
  assert.equal(bucket.delayMs(), 0);
  for (let i = 0; i < 3; i++) await bucket.take();
  assert.equal(bucket.delayMs(), 200, "refilled to the burst only");
});

Deno.test("TokenBucket refuses a non-positive rate", () => {
  assert.throws(() => new TokenBucket({ qps: 0 }), RangeError);
  assert.throws(() => new TokenBucket({ qps: 1, burst: 0 }), RangeError);
});

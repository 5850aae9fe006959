import assert from "node:assert/strict";
import { fakeClock } from "./_fake_clock.ts";
import { TokenBucket } from "./rate_limiter.ts";

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

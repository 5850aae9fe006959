import assert from "node:assert/strict";
import { fakeClock } from "../../tests/fake_clock.ts";
import { WorkQueue } from "./work_queue.ts";

Deno.test("WorkQueue.add() of a key queued twice delivers it once", async () => {
  const queue = new WorkQueue<string>();
  queue.add("a");
  queue.add("b");
  queue.add("a");
  assert.equal(queue.length, 2);
  assert.equal(await queue.get(), "a");
  assert.equal(await queue.get(), "b");
  assert.equal(queue.length, 0);
});

Deno.test("WorkQueue.get() waits for the next add", async () => {
  const queue = new WorkQueue<string>();
  const next = queue.get();
  queue.add("late");
  assert.equal(await next, "late");
});

Deno.test("WorkQueue re-delivers a key added while it is processed only after done()", async () => {
  const queue = new WorkQueue<string>();
  queue.add("k");
  const key = await queue.get();
  assert.equal(key, "k");
  queue.add("k");
  queue.add("k");
  assert.equal(queue.length, 0, "never handed out while still processing");
  let second: string | undefined;
  void queue.get().then((k) => second = k);
  await Promise.resolve();
  assert.equal(second, undefined);
  queue.done("k");
  await Promise.resolve();
  assert.equal(second, "k");
  queue.done("k");
  assert.equal(queue.length, 0, "the two adds while processing collapse into one");
});

Deno.test("WorkQueue.done() without a new add does not re-queue", async () => {
  const queue = new WorkQueue<string>();
  queue.add("k");
  queue.done((await queue.get())!);
  assert.equal(queue.length, 0);
  queue.add("k");
  assert.equal(queue.length, 1, "no longer processing: a new add is queued at once");
});

Deno.test("WorkQueue.addAfter() queues the key when the delay has passed", () => {
  const { clock, fake } = fakeClock();
  const queue = new WorkQueue<string>({ clock });
  queue.addAfter("k", 100);
  assert.equal(queue.length, 0);
  fake.tick(99);
  assert.equal(queue.length, 0);
  fake.tick(1);
  assert.equal(queue.length, 1);
});

Deno.test("WorkQueue.addAfter() keeps the earlier time for a key already waiting", () => {
  const { clock, fake } = fakeClock();
  const queue = new WorkQueue<string>({ clock });
  queue.addAfter("k", 500);
  queue.addAfter("k", 100);
  queue.addAfter("k", 300);
  fake.tick(100);
  assert.equal(queue.length, 1);
  fake.tick(1000);
  assert.equal(queue.length, 1, "the later schedules were dropped");
});

Deno.test("WorkQueue.addRateLimited() doubles the delay per failure from 5 ms up to 1000 s", async () => {
  const { clock, fake } = fakeClock();
  const queue = new WorkQueue<string>({ clock });
  const delays: number[] = [];
  let count = 0;
  for (let i = 0; i < 20; i++) {
    const start = fake.now;
    count = queue.addRateLimited("k");
    fake.next();
    assert.equal(queue.length, 1);
    delays.push(fake.now - start);
    queue.done((await queue.get())!);
  }
  assert.deepEqual(delays.slice(0, 4), [5, 10, 20, 40]);
  assert.deepEqual(delays.slice(-3), [655_360, 1_000_000, 1_000_000]);
  assert.equal(count, 20);
});

Deno.test("WorkQueue.forget() resets the backoff of a key", async () => {
  const { clock, fake } = fakeClock();
  const queue = new WorkQueue<string>({ clock });
  queue.addRateLimited("k");
  queue.addRateLimited("k");
  queue.forget("k");
  fake.tick(5);
  assert.equal(queue.length, 1, "the first add still fires after 5 ms");
  queue.done((await queue.get())!);
  assert.equal(queue.addRateLimited("k"), 1, "counted afresh");
  fake.tick(5);
  assert.equal(queue.length, 1, "back at the base delay");
});

Deno.test("WorkQueue keeps backoff per key", () => {
  const { clock, fake } = fakeClock();
  const queue = new WorkQueue<string>({ clock });
  queue.addRateLimited("a");
  assert.equal(queue.addRateLimited("a"), 2);
  assert.equal(queue.addRateLimited("b"), 1);
  fake.tick(5);
  assert.equal(queue.length, 2, "a's first schedule and b both fire at 5 ms");
});

Deno.test("WorkQueue.shutdown() resolves waiting getters and ignores later adds", async () => {
  const { clock, fake } = fakeClock();
  const queue = new WorkQueue<string>({ clock });
  const waiting = queue.get();
  queue.shutdown();
  assert.equal(await waiting, undefined);
  queue.add("x");
  queue.addAfter("y", 10);
  fake.tick(100);
  assert.equal(queue.length, 0);
  assert.equal(await queue.get(), undefined);
});

Deno.test("WorkQueue.shutdown() cancels delayed adds", () => {
  const { clock, fake } = fakeClock();
  const queue = new WorkQueue<string>({ clock });
  queue.addAfter("k", 100);
  queue.shutdown();
  assert.equal(fake.countTimers(), 0);
});

Deno.test("WorkQueue.add() with urgent puts a key ahead of the others, moving it if queued", async () => {
  const queue = new WorkQueue<string>();
  queue.add("a");
  queue.add("b");
  queue.add("c");
  queue.add("d", { urgent: true });
  queue.add("c", { urgent: true }); // already queued: moved forward, not duplicated
  assert.equal(queue.length, 4);
  const order = [];
  for (let i = 0; i < 4; i++) order.push(await queue.get());
  assert.deepEqual(order, ["d", "c", "a", "b"]);
});

Deno.test("WorkQueue re-queues a key made urgent while processed ahead of the others", async () => {
  const queue = new WorkQueue<string>();
  queue.add("k");
  assert.equal(await queue.get(), "k");
  queue.add("x");
  queue.add("k", { urgent: true });
  queue.done("k");
  assert.equal(await queue.get(), "k");
  assert.equal(await queue.get(), "x");
});

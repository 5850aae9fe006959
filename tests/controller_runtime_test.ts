/**
 * The generic controller runtime (lib/controller/controller.ts) under a fake clock: keys are never
 * reconciled concurrently with themselves, errors back off per key, conflicts retry quietly,
 * requeues and resyncs fire, and stop() aborts and waits for in-flight work.
 */
import assert from "node:assert/strict";
import { Controller, createControllerMetrics } from "../lib/controller/controller.ts";
import { ConflictError } from "../lib/kube/mod.ts";
import { fakeClock } from "./fake_clock.ts";
import { done, type Outcome, requeueAfter } from "../lib/reconcile/outcome.ts";
import { memoryLogger, MemoryMetrics } from "./controller_ops_fakes.ts";

/** Lets pending promise callbacks run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
  await new Promise((resolve) => setTimeout(resolve, 0));
}

function controller(
  reconcile: (key: string, signal: AbortSignal) => Promise<Outcome>,
  options: { workers?: number; keys?: string[]; resyncIntervalMs?: number } = {},
) {
  const { clock, fake } = fakeClock();
  const registry = new MemoryMetrics();
  const c = new Controller({
    name: "test",
    reconcile,
    workers: options.workers ?? 2,
    listKeys: () => options.keys ?? [],
    resyncIntervalMs: options.resyncIntervalMs ?? 0,
    metrics: createControllerMetrics(registry),
    logger: memoryLogger([], {}, "none"), // the errors these tests cause are expected
    clock,
  });
  return { c, fake, registry };
}

Deno.test("Controller never reconciles a key concurrently with itself", async () => {
  let running = 0;
  let maxSameKey = 0;
  let maxOverall = 0;
  const active = new Map<string, number>();
  const gates: (() => void)[] = [];
  const { c } = controller(async (key) => {
    active.set(key, (active.get(key) ?? 0) + 1);
    running++;
    maxSameKey = Math.max(maxSameKey, active.get(key)!);
    maxOverall = Math.max(maxOverall, running);
    await new Promise<void>((resolve) => gates.push(resolve));
    running--;
    active.set(key, active.get(key)! - 1);
    return done();
  }, { workers: 3 });
  c.start();
  for (const key of ["a", "a", "b", "a", "c"]) c.enqueue(key);
  await settle();
  assert.equal(running, 3, "three distinct keys run on three workers");
  c.enqueue("a"); // while "a" runs: queued again for after it
  while (gates.length > 0) {
    gates.shift()!();
    await settle();
  }
  assert.equal(maxSameKey, 1);
  assert.equal(maxOverall, 3);
  await c.stop();
});

Deno.test("Controller retries a failing key with growing delays and forgets after success", async () => {
  const calls: number[] = [];
  let failures = 3;
  const { c, fake, registry } = controller(() => {
    calls.push(fake.now);
    if (failures-- > 0) return Promise.reject(new Error("boom"));
    return Promise.resolve(done());
  });
  c.start();
  c.enqueue("k");
  await settle();
  for (let i = 0; i < 6; i++) {
    await fake.tickAsync(40);
    await settle();
  }
  assert.deepEqual(calls, [0, 5, 15, 35], "5 ms, then 10 ms, then 20 ms");
  assert.equal(
    registry.get("controller_runtime_reconcile_errors_total", { controller: "test" }),
    3,
  );
  assert.equal(
    registry.get("controller_runtime_reconcile_total", { controller: "test", result: "success" }),
    1,
  );
  failures = 1;
  c.enqueue("k");
  await settle();
  await fake.tickAsync(5);
  await settle();
  assert.deepEqual(calls.slice(4).map((t) => t - calls[4]!), [0, 5], "the backoff was reset");
  await c.stop();
});

Deno.test("Controller retries write conflicts without counting them as errors", async () => {
  let attempts = 0;
  const conflict = new ConflictError({ code: 409, reason: "Conflict", message: "stale" });
  const { c, fake, registry } = controller(() => {
    attempts++;
    return attempts === 1 ? Promise.reject(conflict) : Promise.resolve(done());
  });
  c.start();
  c.enqueue("k");
  await settle();
  await fake.tickAsync(10);
  await settle();
  assert.equal(attempts, 2);
  assert.equal(
    registry.get("controller_runtime_reconcile_errors_total", { controller: "test" }),
    undefined,
  );
  assert.equal(
    registry.get("controller_runtime_reconcile_total", { controller: "test", result: "conflict" }),
    1,
  );
  await c.stop();
});

Deno.test("Controller reconciles again after requeueAfter and on every resync", async () => {
  const calls: [string, number][] = [];
  const { c, fake } = controller((key) => {
    calls.push([key, fake.now]);
    return Promise.resolve(key === "timer" && calls.length === 1 ? requeueAfter(250) : done());
  }, { keys: ["timer", "other"], resyncIntervalMs: 1_000 });
  c.start();
  c.enqueue("timer");
  await settle();
  await fake.tickAsync(250);
  await settle();
  assert.deepEqual(calls, [["timer", 0], ["timer", 250]]);
  await fake.tickAsync(850); // the resync's jitter is up to 10%
  await settle();
  assert.deepEqual(calls.slice(2).map(([key]) => key).sort(), ["other", "timer"]);
  await c.stop();
});

Deno.test("Controller.stop() aborts the in-flight reconcile and waits for it", async () => {
  let aborted = false;
  let finished = false;
  const { c, registry } = controller(async (_key, signal) => {
    await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve()));
    aborted = signal.aborted;
    await settle();
    finished = true;
    return done();
  });
  c.start();
  c.enqueue("k");
  await settle();
  await c.stop();
  assert.equal(aborted, true);
  assert.equal(finished, true, "stop() resolved only after the reconcile returned");
  c.enqueue("late");
  assert.equal(
    registry.get("workqueue_depth", { name: "test" }),
    0,
    "a stopped controller takes no keys",
  );
});

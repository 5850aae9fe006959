import assert from "node:assert/strict";
import { EventCorrelator } from "./event_correlator.ts";

Deno.test("EventCorrelator.observe() joins identical events within the window into one series", () => {
  const correlator = new EventCorrelator({ seriesWindowMs: 60_000 });
  const first = correlator.observe("s", "o", 0);
  const second = correlator.observe("s", "o", 30_000);
  assert.equal(first.action, "publish");
  assert.equal(second.action, "publish");
  if (first.action !== "publish" || second.action !== "publish") return;
  assert.equal(first.entry, second.entry);
  assert.equal(second.entry.count, 2);
  assert.equal(second.entry.lastMs, 30_000);
});

Deno.test("EventCorrelator.observe() starts a new series after a quiet window", () => {
  const correlator = new EventCorrelator({ seriesWindowMs: 60_000 });
  const first = correlator.observe("s", "o", 0);
  const later = correlator.observe("s", "o", 60_001);
  assert.ok(first.action === "publish" && later.action === "publish");
  assert.notEqual(first.entry, later.entry);
  assert.equal(later.entry.count, 1);
  assert.equal(later.entry.eventName, undefined);
});

Deno.test("EventCorrelator.observe() limits each object to its burst, then one per refill", () => {
  const correlator = new EventCorrelator({ spamBurst: 3, spamRefillMs: 1_000 });
  const outcomes = [0, 0, 0, 0].map((_, i) => correlator.observe(`s${i}`, "o", 0).action);
  assert.deepEqual(outcomes, ["publish", "publish", "publish", "drop"]);
  assert.equal(correlator.observe("other", "another object", 0).action, "publish");
  assert.equal(correlator.observe("s9", "o", 999).action, "drop");
  assert.equal(correlator.observe("s9", "o", 1_000).action, "publish");
});

Deno.test("EventCorrelator.observe() lets free occurrences through the spam filter", () => {
  const correlator = new EventCorrelator({ spamBurst: 1 });
  assert.equal(correlator.observe("s", "o", 0).action, "publish");
  assert.equal(correlator.observe("s", "o", 1).action, "drop");
  const free = correlator.observe("s", "o", 2, true);
  assert.ok(free.action === "publish");
  assert.equal(free.entry.count, 2);
});

Deno.test("EventCorrelator forgets the least recently used series beyond its bound", () => {
  const correlator = new EventCorrelator({ maxTracked: 2 });
  correlator.observe("a", "o1", 0);
  correlator.observe("b", "o2", 0);
  correlator.observe("a", "o1", 1);
  correlator.observe("c", "o3", 2);
  assert.equal(correlator.size, 2);
  assert.equal(correlator.get("b"), undefined);
  assert.equal(correlator.get("a")?.count, 2);
});

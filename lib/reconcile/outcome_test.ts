import assert from "node:assert/strict";
import { awaitChange, done, requeueAfter, soonest } from "./outcome.ts";

Deno.test("requeueAfter() rounds up and never asks for less than 1 ms", () => {
  assert.deepEqual(requeueAfter(0), { type: "requeueAfter", ms: 1 });
  assert.deepEqual(requeueAfter(2.1), { type: "requeueAfter", ms: 3 });
});

Deno.test("soonest() prefers the earliest requeue, then waiting, then done", () => {
  assert.deepEqual(soonest(requeueAfter(50), requeueAfter(10)), requeueAfter(10));
  assert.deepEqual(soonest(done(), requeueAfter(10)), requeueAfter(10));
  assert.deepEqual(soonest(done(), awaitChange("pods")), awaitChange("pods"));
  assert.deepEqual(soonest(done(), done()), done());
});

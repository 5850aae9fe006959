import assert from "node:assert/strict";
import { condition, T0, T1 } from "../../tests/reconcile_fixtures.ts";
import { conditionChanged, requeueAfter, setConditions } from "./outcome.ts";

Deno.test("requeueAfter() rounds up and never asks for less than 1 ms", () => {
  assert.deepEqual(requeueAfter(0), { type: "requeueAfter", ms: 1 });
  assert.deepEqual(requeueAfter(2.1), { type: "requeueAfter", ms: 3 });
});

const NOW = Date.parse(T1);
const bound = { type: "Bound", status: "True", reason: "Allocated", message: "ok" } as const;

Deno.test("setConditions() adds a new type at the end with the current time in whole seconds", () => {
  const existing = [condition("Allocated", "True", "Allocated", "x")];
  const result = setConditions(existing, [bound], NOW + 999);
  assert.equal(result.length, 2);
  assert.deepEqual(result[1], { ...bound, lastTransitionTime: T1 });
  assert.equal(existing.length, 1, "the input is not modified");
});

Deno.test("setConditions() keeps the transition time when only the reason or message changes", () => {
  const existing = [condition("Bound", "False", "WaitingForAllocation", "waiting")];
  const result = setConditions(existing, [{
    type: "Bound",
    status: "False",
    reason: "PoolExhausted",
    message: "no free ports to allocate",
  }], NOW);
  assert.equal(result[0]?.lastTransitionTime, T0);
  assert.equal(result[0]?.reason, "PoolExhausted");
});

Deno.test("setConditions() moves the transition time when the status flips", () => {
  const existing = [condition("Bound", "False", "WaitingForAllocation", "waiting")];
  const [result] = setConditions(existing, [bound], NOW);
  assert.equal(result?.lastTransitionTime, T1);
});

Deno.test("setConditions() keeps the order of existing types", () => {
  const existing = [condition("B", "True", "R", "m"), condition("A", "True", "R", "m")];
  const result = setConditions(existing, [
    { type: "A", status: "False", reason: "R", message: "m" },
    { type: "C", status: "True", reason: "R", message: "m" },
  ], NOW);
  assert.deepEqual(result.map((c) => c.type), ["B", "A", "C"]);
});

Deno.test("conditionChanged() is true for a new type, status or reason, not for a message", () => {
  const existing = [condition("Bound", "False", "WaitingForAllocation", "waiting")];
  const same = { type: "Bound", status: "False", reason: "WaitingForAllocation" } as const;
  assert.equal(conditionChanged(existing, { ...same, message: "other words" }), false);
  assert.equal(conditionChanged(existing, { ...same, reason: "PoolExhausted", message: "" }), true);
  assert.equal(conditionChanged(existing, { ...same, status: "True", message: "" }), true);
  assert.equal(conditionChanged(undefined, { ...same, message: "" }), true);
});

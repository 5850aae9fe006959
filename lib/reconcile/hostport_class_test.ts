import assert from "node:assert/strict";
import { PortRegistry } from "../allocator/mod.ts";
import type { HostPortClass } from "../api/mod.ts";
import { deleting, hostPortClass, noFinalizer, T1 } from "../../tests/reconcile_fixtures.ts";
import { type ClassInput, type ClassPlan, planHostPortClass } from "./hostport_class.ts";

const NOW = Date.parse(T1);

function input(object: HostPortClass, overrides: Partial<ClassInput> = {}): ClassInput {
  const registry = new PortRegistry();
  registry.allocate(9000);
  return {
    hostPortClass: object,
    hostPortCount: 1,
    usage: registry.usage(object.spec.pools),
    nowMs: NOW,
    lastStatusWriteMs: undefined,
    ...overrides,
  };
}

function stepTypes(plan: ClassPlan): string[] {
  return plan.steps.map((step) => step.type === "event" ? `event:${step.reason}` : step.type);
}

function statusOf(plan: ClassPlan): HostPortClass["status"] {
  const step = plan.steps.find((s) => s.type === "setStatus");
  return step?.type === "setStatus" ? step.status : undefined;
}

Deno.test("planHostPortClass() adds a missing finalizer and writes the usage status", () => {
  const plan = planHostPortClass(input(hostPortClass("c1", noFinalizer)));
  assert.deepEqual(stepTypes(plan), ["addFinalizer", "setStatus"]);
  const status = statusOf(plan);
  assert.deepEqual(
    { capacity: status?.capacity, allocated: status?.allocated, free: status?.free },
    { capacity: 3, allocated: 1, free: 2 },
  );
  assert.deepEqual(status?.pools, [{ start: 9000, end: 9002, capacity: 3, allocated: 1, free: 2 }]);
  assert.equal(status?.observedGeneration, 1);
  assert.equal(status?.conditions?.[0]?.type, "Available");
  assert.equal(status?.conditions?.[0]?.status, "True");
});

Deno.test("planHostPortClass() writes nothing when the status is current", () => {
  const first = statusOf(planHostPortClass(input(hostPortClass("c1"))));
  const plan = planHostPortClass(input({ ...hostPortClass("c1"), status: first }));
  assert.deepEqual(plan.steps, []);
  assert.equal(plan.outcome.type, "done");
});

Deno.test("planHostPortClass() defers a status write until the interval has passed", () => {
  const plan = planHostPortClass(input(hostPortClass("c1"), { lastStatusWriteMs: NOW - 300 }));
  assert.deepEqual(plan.steps, []);
  assert.deepEqual(plan.outcome, { type: "requeueAfter", ms: 700 });
});

Deno.test("planHostPortClass() reports a full class as not Available", () => {
  const registry = new PortRegistry();
  for (const port of [9000, 9001, 9002]) registry.allocate(port);
  const object = hostPortClass("c1");
  const plan = planHostPortClass(input(object, { usage: registry.usage(object.spec.pools) }));
  const available = statusOf(plan)?.conditions?.[0];
  assert.equal(available?.status, "False");
  assert.equal(available?.reason, "PoolExhausted");
  assert.equal(available?.message, "no free ports to allocate");
});

Deno.test("planHostPortClass() keeps a deleting class in use, with a condition and an Event", () => {
  const plan = planHostPortClass(input(hostPortClass("c1", deleting), { hostPortCount: 2 }));
  assert.deepEqual(stepTypes(plan), ["setStatus", "event:ClassInUse"]);
  assert.equal(plan.outcome.type, "awaitChange");
  const blocked = statusOf(plan)?.conditions?.find((c) => c.type === "DeletionBlocked");
  assert.equal(blocked?.status, "True");
  assert.equal(blocked?.reason, "HostPortsExist");
  assert.match(blocked?.message ?? "", /^2 HostPorts of this class still exist/);
});

Deno.test("planHostPortClass() repeats no Event for a class still in use", () => {
  const first = statusOf(planHostPortClass(input(hostPortClass("c1", deleting))));
  const again = planHostPortClass(input({ ...hostPortClass("c1", deleting), status: first }));
  assert.deepEqual(again.steps, []);
});

Deno.test("planHostPortClass() removes the finalizer of a deleting class no HostPort uses", () => {
  const plan = planHostPortClass(input(hostPortClass("c1", deleting), { hostPortCount: 0 }));
  assert.deepEqual(stepTypes(plan), ["removeFinalizer"]);
});

Deno.test("planHostPortClass() does nothing for a deleting class without the finalizer", () => {
  const plan = planHostPortClass(input(hostPortClass("c1", deleting, noFinalizer)));
  assert.deepEqual(plan.steps, []);
  assert.equal(plan.outcome.type, "done");
});

Deno.test("planHostPortClass() defers the in-use condition with its Event, and comes back", () => {
  const plan = planHostPortClass(
    input(hostPortClass("c1", deleting), { hostPortCount: 2, lastStatusWriteMs: NOW - 400 }),
  );
  assert.deepEqual(plan.steps, []);
  assert.deepEqual(plan.outcome, { type: "requeueAfter", ms: 600 });
});

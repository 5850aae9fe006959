import assert from "node:assert/strict";
import type { HostPort, HostPortClaim, HostPortClass } from "../api/mod.ts";
import {
  claim,
  claimRef,
  condition,
  deleting,
  hostPort,
  hostPortClass,
  hostPortStatus,
  named,
  noFinalizer,
  pools,
  T1,
} from "../../tests/reconcile_fixtures.ts";
import {
  type AllocationResult,
  type HostPortPlan,
  type HostPortStep,
  isClaimGone,
  isDynamicHostPort,
  needsPort,
  planHostPort,
  type ReleaseFacts,
} from "./hostport.ts";
import type { Outcome } from "./outcome.ts";
import type { PodSummary } from "./pods.ts";

function stepTypes(steps: readonly HostPortStep[]): string[] {
  return steps.map((step) => step.type === "event" ? `event:${step.reason}` : step.type);
}

function statusOf(steps: readonly HostPortStep[]): HostPort["status"] {
  const step = steps.find((s) => s.type === "setStatus");
  return step?.type === "setStatus" ? step.status : undefined;
}

const c1 = hostPortClass("c1");
const NOW = Date.parse(T1);
const runningPod: PodSummary = {
  metadata: { name: "p", namespace: "ns1", annotations: { "claim.hostport.rmb938.com/web": "a" } },
  status: { phase: "Running" },
};
const liveClaim = claim();
const allocated = hostPortStatus({
  phase: "Allocated",
  port: 9000,
  conditions: [
    condition("Allocated", "True", "Allocated", 'Port 9000 allocated from HostPortClass "c1"'),
    condition("OutOfPool", "False", "InPools", 'Port 9000 lies in the pools of HostPortClass "c1"'),
  ],
});

interface Case {
  name: string;
  hostPort: HostPort;
  hostPortClass?: HostPortClass | undefined;
  claim?: HostPortClaim | undefined;
  /** The reservation made while gathering, for a HostPort that needs a port. */
  allocation?: AllocationResult;
  /** Defaults: no pod holds the port; this process finalized the claim itself. */
  release?: Partial<ReleaseFacts>;
  steps: string[];
  outcome: Outcome["type"];
  check?: (plan: HostPortPlan) => void;
}

const cases: Case[] = [
  {
    name: "a deleting HostPort without the finalizer needs nothing",
    hostPort: hostPort(deleting, noFinalizer, allocated),
    steps: [],
    outcome: "done",
  },
  {
    name: "a deleting HostPort whose claim is gone loses its finalizer and releases its port",
    hostPort: hostPort(deleting, allocated),
    steps: ["removeFinalizer"],
    outcome: "done",
    check: (plan) =>
      assert.deepEqual(plan.steps[0], {
        type: "removeFinalizer",
        releasePort: 9000,
        podsOf: hostPort().spec.claimRef,
      }),
  },
  {
    name: "a deleting HostPort whose claim is gone keeps its port while a pod holds it",
    hostPort: hostPort(deleting, allocated),
    release: { holdingPods: [runningPod] },
    steps: ["setStatus", "event:PortStillInUse"],
    outcome: "awaitChange",
    check: (plan) => {
      const status = statusOf(plan.steps);
      assert.equal(status?.phase, "Deleting");
      assert.equal(status?.port, 9000, "the port stays held");
      const blocked = status?.conditions?.find((c) => c.type === "DeletionBlocked");
      assert.equal(blocked?.status, "True");
      assert.equal(blocked?.reason, "PodsHoldPort");
      assert.match(blocked?.message ?? "", /pod ns1\/p can still run/);
    },
  },
  {
    name: "a HostPort already blocked by the same pod is not written again",
    hostPort: hostPort(deleting, allocated, (hp) => ({
      ...hp,
      status: {
        ...hp.status,
        phase: "Deleting",
        conditions: [
          ...hp.status?.conditions ?? [],
          condition(
            "DeletionBlocked",
            "True",
            "PodsHoldPort",
            'Port 9000 stays held: HostPortClaim "ns1/a" is gone but pod ns1/p can still run with it',
          ),
        ],
      },
    })),
    release: { holdingPods: [runningPod] },
    steps: [],
    outcome: "awaitChange",
  },
  {
    name: "a claim finalized elsewhere: the port waits out the deletion window from first seen",
    hostPort: hostPort(deleting, allocated),
    release: { claimFinalizedHere: false, claimGoneSeenMs: NOW - 10_000 },
    steps: ["setStatus"],
    outcome: "requeueAfter",
    check: (plan) => {
      assert.deepEqual(plan.outcome, { type: "requeueAfter", ms: 55_000 });
      assert.equal(statusOf(plan.steps)?.phase, "Deleting");
    },
  },
  {
    name: "a claim finalized elsewhere: the port is released once the window passed",
    hostPort: hostPort(deleting, allocated),
    release: { claimFinalizedHere: false, claimGoneSeenMs: NOW - 65_000 },
    steps: ["removeFinalizer"],
    outcome: "done",
  },
  {
    name: "a deleting HostPort without a port releases nothing",
    hostPort: hostPort(deleting),
    steps: ["removeFinalizer"],
    outcome: "done",
    check: (plan) =>
      assert.deepEqual(plan.steps[0], {
        type: "removeFinalizer",
        releasePort: undefined,
        podsOf: undefined,
      }),
  },
  {
    name: "a deleting HostPort whose claim exists turns Deleting and keeps its finalizer",
    hostPort: hostPort(deleting, allocated),
    claim: liveClaim,
    steps: ["setStatus"],
    outcome: "awaitChange",
    check: (plan) => {
      assert.equal(statusOf(plan.steps)?.phase, "Deleting");
      assert.equal(statusOf(plan.steps)?.port, 9000, "the port stays held");
    },
  },
  {
    name: "a Deleting HostPort whose claim exists is not written again",
    hostPort: hostPort(deleting, hostPortStatus({ phase: "Deleting", port: 9000 })),
    claim: liveClaim,
    steps: [],
    outcome: "awaitChange",
  },
  {
    name: "a deleting HostPort whose claim was recreated (another uid) is finalized",
    hostPort: hostPort(deleting, allocated),
    claim: claim((c) => ({ ...c, metadata: { ...c.metadata, uid: "new-uid" } })),
    steps: ["removeFinalizer"],
    outcome: "done",
  },
  {
    name: "a deleting static HostPort without a claim is finalized",
    hostPort: hostPort(named("static1"), claimRef(undefined), deleting, allocated),
    steps: ["removeFinalizer"],
    outcome: "done",
  },
  {
    name: "a Pending dynamic HostPort whose claim is gone is deleted",
    hostPort: hostPort(),
    hostPortClass: c1,
    steps: ["deleteOrphan"],
    outcome: "done",
  },
  {
    name: "an Allocated dynamic HostPort whose claim has another uid is deleted",
    hostPort: hostPort(allocated),
    hostPortClass: c1,
    claim: claim((c) => ({ ...c, metadata: { ...c.metadata, uid: "new-uid" } })),
    steps: ["deleteOrphan"],
    outcome: "done",
  },
  {
    name: "an orphan without the finalizer gets it first, so its port is released on deletion",
    hostPort: hostPort(noFinalizer, allocated),
    steps: ["addFinalizer", "deleteOrphan"],
    outcome: "done",
  },
  {
    name: "a static HostPort whose claim is gone is kept",
    hostPort: hostPort(named("static1"), allocated),
    hostPortClass: c1,
    steps: [],
    outcome: "done",
  },
  {
    name: "a live HostPort without the finalizer gets it",
    hostPort: hostPort(noFinalizer, allocated),
    hostPortClass: c1,
    claim: liveClaim,
    steps: ["addFinalizer"],
    outcome: "done",
  },
  {
    name: "a HostPort without a port writes the port reserved while gathering",
    hostPort: hostPort(),
    hostPortClass: hostPortClass("c1", pools([9500, 9600], [9000, 9000])),
    claim: liveClaim,
    allocation: { ok: true, port: 9500 },
    steps: ["setStatus", "event:PortAllocated"],
    outcome: "done",
    check: (plan) => {
      const step = plan.steps[0];
      assert.equal(step?.type === "setStatus" && step.allocates, 9500);
      assert.equal(statusOf(plan.steps)?.port, 9500);
    },
  },
  {
    name: "a HostPort without the finalizer gets it before the reserved port is written",
    hostPort: hostPort(noFinalizer),
    hostPortClass: c1,
    claim: liveClaim,
    allocation: { ok: true, port: 9000 },
    steps: ["addFinalizer", "setStatus", "event:PortAllocated"],
    outcome: "done",
  },
  {
    name: "a HostPort whose pools are exhausted waits for a release",
    hostPort: hostPort(),
    hostPortClass: c1,
    claim: liveClaim,
    allocation: { ok: false },
    steps: ["setStatus", "event:PoolExhausted"],
    outcome: "awaitChange",
  },
  {
    name: "a HostPort whose allocation is unavailable looks again when the allocator says",
    hostPort: hostPort(),
    hostPortClass: c1,
    claim: liveClaim,
    allocation: { ok: false, unavailable: "Allocation is unavailable: paused", retryInMs: 5000 },
    steps: ["setStatus", "event:AllocationUnavailable"],
    outcome: "requeueAfter",
    check: (plan) => assert.deepEqual(plan.outcome, { type: "requeueAfter", ms: 5000 }),
  },
  {
    name: "a HostPort whose allocation is unavailable with no time given looks again in a second",
    hostPort: hostPort(),
    hostPortClass: c1,
    claim: liveClaim,
    allocation: { ok: false, unavailable: "Cannot reserve port 9000 as it failed" },
    steps: ["setStatus", "event:AllocationUnavailable"],
    outcome: "requeueAfter",
    check: (plan) => assert.deepEqual(plan.outcome, { type: "requeueAfter", ms: 1000 }),
  },
  {
    name: "a HostPort whose class is missing is Pending with ClassNotFound and an Event",
    hostPort: hostPort(),
    claim: liveClaim,
    steps: ["setStatus", "event:ClassNotFound"],
    outcome: "awaitChange",
    check: (plan) => {
      const status = statusOf(plan.steps);
      assert.equal(status?.phase, "Pending");
      assert.equal(status?.port, 0);
      assert.equal(status?.conditions?.[0]?.reason, "ClassNotFound");
    },
  },
  {
    name: "a HostPort already Pending for a missing class is not written again",
    hostPort: hostPort(hostPortStatus({
      phase: "Pending",
      port: 0,
      conditions: [
        condition("Allocated", "False", "ClassNotFound", 'HostPortClass "c1" does not exist'),
      ],
    })),
    claim: liveClaim,
    steps: [],
    outcome: "awaitChange",
  },
  {
    name: "an Allocated HostPort with current conditions needs nothing",
    hostPort: hostPort(allocated),
    hostPortClass: c1,
    claim: liveClaim,
    steps: [],
    outcome: "done",
  },
  {
    name: "a port left outside shrunk pools is marked OutOfPool with an Event",
    hostPort: hostPort(allocated),
    hostPortClass: hostPortClass("c1", pools([9001, 9002])),
    claim: liveClaim,
    steps: ["setStatus", "event:PortOutOfPool"],
    outcome: "done",
    check: (plan) => {
      const status = statusOf(plan.steps);
      assert.equal(status?.port, 9000, "the port stays held");
      assert.equal(status?.conditions?.[1]?.type, "OutOfPool");
      assert.equal(status?.conditions?.[1]?.status, "True");
      assert.equal(status?.conditions?.[1]?.reason, "PortOutsidePools");
      assert.equal(status?.conditions?.[1]?.lastTransitionTime, T1);
    },
  },
];

/** No pod holds the port; this process finalized the claim itself. */
const NO_PODS: ReleaseFacts = {
  holdingPods: [],
  claimFinalizedHere: true,
  claimGoneSeenMs: 0,
  deletionWindowMs: 65_000,
};

Deno.test("planHostPort() over phase, deletion, finalizer and claim", async (t) => {
  for (const tc of cases) {
    await t.step(tc.name, () => {
      const plan = planHostPort({
        hostPort: tc.hostPort,
        hostPortClass: tc.hostPortClass,
        claim: tc.claim,
        nowMs: NOW,
        release: { ...NO_PODS, ...tc.release },
        ...(tc.allocation === undefined ? {} : { allocation: tc.allocation }),
      });
      assert.deepEqual(stepTypes(plan.steps), tc.steps);
      assert.equal(plan.outcome.type, tc.outcome);
      tc.check?.(plan);
    });
  }
});

/** The steps of the plan of a HostPort that needs a port, once its reservation returned `result`. */
function statusAfterAllocation(
  hp: HostPort,
  hpc: HostPortClass,
  result: AllocationResult,
  nowMs: number,
): readonly HostPortStep[] {
  return planHostPort({
    hostPort: hp,
    hostPortClass: hpc,
    claim: liveClaim,
    nowMs,
    release: NO_PODS,
    allocation: result,
  }).steps;
}

Deno.test("planHostPort() writes the reserved port as Allocated with conditions and an Event", () => {
  const steps = statusAfterAllocation(hostPort(), c1, { ok: true, port: 9001 }, NOW);
  assert.deepEqual(stepTypes(steps), ["setStatus", "event:PortAllocated"]);
  assert.deepEqual(statusOf(steps), {
    phase: "Allocated",
    port: 9001,
    conditions: [
      {
        type: "Allocated",
        status: "True",
        reason: "Allocated",
        message: 'Port 9001 allocated from HostPortClass "c1"',
        lastTransitionTime: T1,
        observedGeneration: 1,
      },
      {
        type: "OutOfPool",
        status: "False",
        reason: "InPools",
        message: 'Port 9001 lies in the pools of HostPortClass "c1"',
        lastTransitionTime: T1,
        observedGeneration: 1,
      },
    ],
  });
});

Deno.test("planHostPort() writes Pending with the original's message when exhausted", () => {
  const steps = statusAfterAllocation(hostPort(), c1, { ok: false }, NOW);
  assert.deepEqual(stepTypes(steps), ["setStatus", "event:PoolExhausted"]);
  const status = statusOf(steps);
  assert.equal(status?.phase, "Pending");
  assert.equal(status?.port, 0);
  assert.equal(status?.conditions?.[0]?.reason, "PoolExhausted");
  assert.equal(status?.conditions?.[0]?.message, "no free ports to allocate");
});

Deno.test("planHostPort() repeats neither the write nor the Event when still exhausted", () => {
  const first = statusOf(statusAfterAllocation(hostPort(), c1, { ok: false }, NOW));
  const again = statusAfterAllocation(hostPort(hostPortStatus(first)), c1, { ok: false }, NOW);
  assert.deepEqual(again, []);
});

Deno.test("planHostPort() does not adopt a port another HostPort holds, unless it allocated it", () => {
  const forged = hostPort(
    hostPortStatus({
      phase: "Allocated",
      port: 9000,
      conditions: [condition("Allocated", "False", "PoolExhausted", "no free ports to allocate")],
    }),
  );
  const holders = [forged.metadata.name!, "hpc-first"];
  const plan = planHostPort({
    hostPort: forged,
    hostPortClass: c1,
    claim: liveClaim,
    nowMs: NOW,
    portHolders: holders,
    release: NO_PODS,
  });
  assert.deepEqual(stepTypes(plan.steps), ["setStatus", "event:PortConflict"]);
  assert.equal(plan.outcome.type, "awaitChange");
  const status = statusOf(plan.steps);
  assert.equal(status?.port, 9000);
  assert.equal(status?.conditions?.[0]?.reason, "PortConflict");
  assert.match(status?.conditions?.[0]?.message ?? "", /also held by HostPort "hpc-first"/);

  const original = hostPort(allocated);
  const kept = planHostPort({
    hostPort: original,
    hostPortClass: c1,
    claim: liveClaim,
    nowMs: NOW,
    portHolders: holders,
    release: NO_PODS,
  });
  assert.deepEqual(stepTypes(kept.steps), [], "the original holder keeps its port as it is");
});

Deno.test("statusAfterAllocation() writes Pending with AllocationUnavailable and a Warning", () => {
  const steps = statusAfterAllocation(hostPort(), c1, {
    ok: false,
    unavailable: "Allocation is unavailable: the allocation record was deleted",
  }, NOW);
  assert.deepEqual(stepTypes(steps), ["setStatus", "event:AllocationUnavailable"]);
  const status = statusOf(steps);
  assert.equal(status?.phase, "Pending");
  assert.equal(status?.conditions?.[0]?.reason, "AllocationUnavailable");
  assert.match(status?.conditions?.[0]?.message ?? "", /record was deleted/);
});

Deno.test("needsPort() is true only for a live HostPort without a port, of an existing class, not orphaned", () => {
  assert.equal(needsPort(hostPort(), c1, liveClaim), true);
  assert.equal(needsPort(hostPort(allocated), c1, liveClaim), false, "it holds a port");
  assert.equal(needsPort(hostPort(), undefined, liveClaim), false, "its class is missing");
  assert.equal(needsPort(hostPort(deleting), c1, liveClaim), false, "it is being deleted");
  assert.equal(needsPort(hostPort(), c1, undefined), false, "its claim is gone: collected");
  assert.equal(needsPort(hostPort(named("static1")), c1, undefined), true, "static: kept");
});

Deno.test("planHostPort() refuses to plan a HostPort that needs a port without its reservation", () => {
  assert.throws(
    () =>
      planHostPort({
        hostPort: hostPort(),
        hostPortClass: c1,
        claim: liveClaim,
        nowMs: NOW,
        release: NO_PODS,
      }),
    /without a reservation result/,
  );
});

Deno.test("isDynamicHostPort() is true only for hpc-<uid of its claimRef>", () => {
  assert.equal(isDynamicHostPort(hostPort()), true);
  assert.equal(isDynamicHostPort(hostPort(named("static1"))), false);
  assert.equal(isDynamicHostPort(hostPort(claimRef(undefined))), false);
  assert.equal(isDynamicHostPort(hostPort(claimRef({ namespace: "ns1", name: "a" }))), false);
});

Deno.test("isClaimGone() is true for a missing claim or one with another uid", () => {
  assert.equal(isClaimGone(hostPort(), undefined), true);
  assert.equal(isClaimGone(hostPort(), claim()), false);
  const recreated = claim((c) => ({ ...c, metadata: { ...c.metadata, uid: "new" } }));
  assert.equal(isClaimGone(hostPort(), recreated), true);
  assert.equal(isClaimGone(hostPort(claimRef(undefined)), undefined), false, "no claimRef");
});

import assert from "node:assert/strict";
import { FINALIZER, type HostPort } from "../api/mod.ts";
import {
  claim,
  CLAIM_UID,
  claimRef,
  claimStatus,
  condition,
  deleting,
  DYNAMIC_NAME,
  hostPort,
  hostPortStatus,
  named,
  noFinalizer,
  ofClass,
  T0,
  T1,
  withHostPortName,
} from "../../tests/reconcile_fixtures.ts";
import {
  allocated,
  bound,
  type ClaimCase,
  claimInput,
  claimStepTypes,
  NOW,
  plannedClaimStatus,
} from "../../tests/claim_cases.ts";
import { planHostPortClaim } from "./hostport_claim.ts";

const dynamic = withHostPortName(DYNAMIC_NAME);

const bindingCases: ClaimCase[] = [
  {
    name: "a claim whose HostPort holds a port is written Bound with the port",
    input: claimInput(claim(dynamic), { hostPort: hostPort(allocated) }),
    steps: ["setStatus"],
    outcome: "done",
    check: (plan) => {
      const s = plannedClaimStatus(plan);
      assert.equal(s?.phase, "Bound");
      assert.equal(s?.port, 9000);
      assert.deepEqual(s?.conditions?.[0], {
        type: "Bound",
        status: "True",
        reason: "Allocated",
        message: `Bound to HostPort "${DYNAMIC_NAME}" with port 9000`,
        lastTransitionTime: T1,
        observedGeneration: 1,
      });
    },
  },
  {
    name: "a Bound claim whose status is current needs no write",
    input: claimInput(claim(dynamic, bound), { hostPort: hostPort(allocated) }),
    steps: [],
    outcome: "done",
  },
  {
    name: "a claim without a phase waits quietly while its HostPort is being allocated",
    input: claimInput(claim(dynamic), { hostPort: hostPort(), firstSeenMs: NOW - 500 }),
    steps: [],
    outcome: "requeueAfter",
    check: (plan) => assert.deepEqual(plan.outcome, { type: "requeueAfter", ms: 1_500 }),
  },
  {
    name: "a claim still unbound after the delay is written Pending, waiting for allocation",
    input: claimInput(claim(dynamic), { hostPort: hostPort() }),
    steps: ["setStatus"],
    outcome: "awaitChange",
    check: (plan) => {
      assert.equal(plannedClaimStatus(plan)?.phase, "Pending");
      assert.equal(plannedClaimStatus(plan)?.conditions?.[0]?.reason, "WaitingForAllocation");
      assert.equal(plannedClaimStatus(plan)?.port, undefined);
    },
  },
  {
    name: "an exhausted pool is reported on the claim at once",
    input: claimInput(claim(dynamic), {
      firstSeenMs: NOW,
      hostPort: hostPort(hostPortStatus({
        phase: "Pending",
        port: 0,
        conditions: [condition("Allocated", "False", "PoolExhausted", "no free ports to allocate")],
      })),
    }),
    steps: ["setStatus"],
    outcome: "awaitChange",
    check: (plan) =>
      assert.equal(plannedClaimStatus(plan)?.conditions?.[0]?.reason, "PoolExhausted"),
  },
  {
    name: "a missing class is reported on the claim at once",
    input: claimInput(claim(dynamic), {
      hostPort: hostPort(),
      classExists: false,
      firstSeenMs: NOW,
    }),
    steps: ["setStatus"],
    outcome: "awaitChange",
    check: (plan) =>
      assert.equal(plannedClaimStatus(plan)?.conditions?.[0]?.reason, "ClassNotFound"),
  },
  {
    name: "a claim whose dynamic HostPort is missing recreates it",
    input: claimInput(claim(dynamic), { firstSeenMs: NOW }),
    steps: ["createHostPort"],
    outcome: "requeueAfter",
  },
  {
    name: "a claim naming a HostPort that does not exist is Pending with an Event",
    input: claimInput(claim(withHostPortName("nosuch"))),
    steps: ["setStatus", "event:HostPortNotFound"],
    outcome: "awaitChange",
    check: (plan) => {
      assert.equal(plannedClaimStatus(plan)?.phase, "Pending");
      assert.equal(
        plannedClaimStatus(plan)?.conditions?.[0]?.message,
        'HostPort "nosuch" does not exist',
      );
    },
  },
  {
    name: "a claim already Pending for a missing HostPort is not written again",
    input: claimInput(
      claim(
        withHostPortName("nosuch"),
        claimStatus({
          phase: "Pending",
          conditions: [
            condition("Bound", "False", "HostPortNotFound", 'HostPort "nosuch" does not exist'),
          ],
        }),
      ),
    ),
    steps: [],
    outcome: "awaitChange",
  },
  {
    name: "a free static HostPort of the class is claimed by CAS and the claim is Bound",
    input: claimInput(claim(withHostPortName("static1")), {
      hostPort: hostPort(named("static1"), claimRef(undefined), allocated),
    }),
    steps: ["bindHostPort", "setStatus"],
    outcome: "done",
    check: (plan) => {
      const bind = plan.steps[0];
      if (bind?.type !== "bindHostPort") return assert.fail("no bind step");
      assert.equal(bind.hostPort.spec.claimRef?.uid, CLAIM_UID);
      assert.equal(bind.hostPort.metadata.name, "static1");
      assert.equal(plannedClaimStatus(plan)?.phase, "Bound");
    },
  },
  {
    name: "a static HostPort bound to another claim is refused with an Event",
    input: claimInput(claim(withHostPortName("static1")), {
      hostPort: hostPort(
        named("static1"),
        claimRef({ namespace: "other", name: "victim", uid: "v-uid" }),
        allocated,
      ),
    }),
    steps: ["setStatus", "event:BindingRefused"],
    outcome: "awaitChange",
    check: (plan) => {
      assert.equal(plannedClaimStatus(plan)?.phase, "Pending");
      assert.equal(plannedClaimStatus(plan)?.port, undefined, "the victim's port is never copied");
      assert.equal(plannedClaimStatus(plan)?.conditions?.[0]?.reason, "HostPortClaimedByOther");
    },
  },
  {
    name: "a HostPort bound to an earlier claim of the same name is refused",
    input: claimInput(claim(withHostPortName("static1")), {
      hostPort: hostPort(
        named("static1"),
        claimRef({ namespace: "ns1", name: "a", uid: "old" }),
        allocated,
      ),
    }),
    steps: ["setStatus", "event:BindingRefused"],
    outcome: "awaitChange",
  },
  {
    name: "a free HostPort of another class is refused",
    input: claimInput(claim(withHostPortName("static1")), {
      hostPort: hostPort(named("static1"), claimRef(undefined), ofClass("c2"), allocated),
    }),
    steps: ["setStatus", "event:BindingRefused"],
    outcome: "awaitChange",
    check: (plan) =>
      assert.equal(plannedClaimStatus(plan)?.conditions?.[0]?.reason, "ClassMismatch"),
  },
  {
    name: "a HostPort pre-bound by namespace and name only counts as bound to the claim",
    input: claimInput(claim(withHostPortName("static1")), {
      hostPort: hostPort(named("static1"), claimRef({ namespace: "ns1", name: "a" }), allocated),
    }),
    steps: ["setStatus"],
    outcome: "done",
  },
  {
    name: "a Bound claim whose HostPort is being deleted stays Bound with a False condition",
    input: claimInput(claim(dynamic, bound), { hostPort: hostPort(allocated, deleting) }),
    steps: ["setStatus"],
    outcome: "awaitChange",
    check: (plan) => {
      const s = plannedClaimStatus(plan);
      assert.equal(s?.phase, "Bound");
      assert.equal(s?.port, 9000);
      assert.equal(s?.conditions?.[0]?.status, "False");
      assert.equal(s?.conditions?.[0]?.reason, "HostPortDeleting");
      assert.equal(s?.conditions?.[0]?.lastTransitionTime, T1);
    },
  },
  {
    name: "a claim missing the finalizer gets it before its status",
    input: claimInput(claim(dynamic, noFinalizer), { hostPort: hostPort(allocated) }),
    steps: ["updateClaim", "setStatus"],
    outcome: "done",
    check: (plan) => {
      const update = plan.steps[0];
      if (update?.type === "updateClaim") {
        assert.deepEqual(update.claim.metadata.finalizers, [FINALIZER]);
      }
    },
  },
  {
    name: "a claim whose HostPort's port another HostPort holds stays Pending with PortConflict",
    input: claimInput(claim(dynamic), {
      hostPort: hostPort(allocated),
      portHolders: [DYNAMIC_NAME, "hpc-other"],
    }),
    steps: ["setStatus", "event:PortConflict"],
    outcome: "awaitChange",
    check: (plan) => {
      const s = plannedClaimStatus(plan);
      assert.equal(s?.phase, "Pending");
      assert.equal(s?.port, undefined);
      assert.equal(s?.conditions?.[0]?.reason, "PortConflict");
      assert.equal(
        s?.conditions?.[0]?.message,
        `Port 9000 of HostPort "${DYNAMIC_NAME}" is also held by HostPort "hpc-other"`,
      );
    },
  },
  {
    name: "a claim already Bound with that very port stays Bound despite a conflicting HostPort",
    input: claimInput(claim(dynamic, bound), {
      hostPort: hostPort(allocated),
      portHolders: [DYNAMIC_NAME, "hpc-other"],
    }),
    steps: [],
    outcome: "done",
  },
  {
    name: "a claim whose HostPort cannot be allocated now says why",
    input: claimInput(claim(dynamic), {
      hostPort: hostPort(hostPortStatus({
        phase: "Pending",
        conditions: [
          condition("Allocated", "False", "AllocationUnavailable", "the record was deleted"),
        ],
      })),
    }),
    steps: ["setStatus"],
    outcome: "awaitChange",
    check: (plan) => {
      const s = plannedClaimStatus(plan);
      assert.equal(s?.phase, "Pending");
      assert.equal(s?.conditions?.[0]?.reason, "AllocationUnavailable");
      assert.match(s?.conditions?.[0]?.message ?? "", /the record was deleted/);
    },
  },
];

Deno.test("planHostPortClaim() binding", (t) => runClaimCases(t, bindingCases));

Deno.test("planHostPortClaim() keeps the transition time of an unchanged condition", () => {
  const pending = claimStatus({
    phase: "Pending",
    conditions: [condition("Bound", "False", "WaitingForAllocation", "old message")],
  });
  const hostPortObject: HostPort = hostPort(hostPortStatus({
    phase: "Pending",
    port: 0,
    conditions: [condition("Allocated", "False", "PoolExhausted", "no free ports to allocate")],
  }));
  const plan = planHostPortClaim(claimInput(claim(dynamic, pending), { hostPort: hostPortObject }));
  assert.equal(plannedClaimStatus(plan)?.conditions?.[0]?.reason, "PoolExhausted");
  assert.equal(plannedClaimStatus(plan)?.conditions?.[0]?.lastTransitionTime, T0);
});

/** Runs a table of claim cases as test steps. */
async function runClaimCases(t: Deno.TestContext, cases: readonly ClaimCase[]): Promise<void> {
  for (const tc of cases) {
    await t.step(tc.name, () => {
      const plan = planHostPortClaim(tc.input);
      assert.deepEqual(claimStepTypes(plan), tc.steps);
      assert.equal(plan.outcome.type, tc.outcome);
      tc.check?.(plan);
    });
  }
}

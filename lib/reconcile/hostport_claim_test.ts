import assert from "node:assert/strict";
import { FINALIZER } from "../api/mod.ts";
import {
  claim,
  CLAIM_UID,
  claimStatus,
  deleting,
  DYNAMIC_NAME,
  hostPort,
  named,
  noFinalizer,
  withHostPortName,
} from "../../tests/reconcile_fixtures.ts";
import {
  bound,
  type ClaimCase,
  claimInput,
  claimStepTypes,
  NOW,
  plannedClaimStatus,
} from "../../tests/claim_cases.ts";
import { planHostPortClaim } from "./hostport_claim.ts";

const deletionCases: ClaimCase[] = [
  {
    name: "a deleting claim without the finalizer needs nothing",
    input: claimInput(claim(deleting, noFinalizer)),
    steps: [],
    outcome: "done",
  },
  {
    name: "a deleting claim used by a pod turns Deleting and waits for pod changes",
    input: claimInput(claim(deleting, withHostPortName(DYNAMIC_NAME), bound), { blockingPods: 1 }),
    steps: ["setStatus"],
    outcome: "awaitChange",
    check: (plan) => {
      assert.equal(plannedClaimStatus(plan)?.phase, "Deleting");
      assert.equal(
        plannedClaimStatus(plan)?.port,
        9000,
        "the port stays visible while pods use it",
      );
    },
  },
  {
    name: "a Deleting claim without pods waits out the grace period since deletion was seen",
    input: claimInput(claim(deleting, claimStatus({ phase: "Deleting" })), {
      deletionSeenMs: NOW - 1_500,
    }),
    steps: [],
    outcome: "requeueAfter",
    check: (plan) => assert.deepEqual(plan.outcome, { type: "requeueAfter", ms: 3_500 }),
  },
  {
    name: "a deletion seen for the first time waits the whole grace period",
    input: claimInput(claim(deleting, claimStatus({ phase: "Deleting" })), { deletionSeenMs: NOW }),
    steps: [],
    outcome: "requeueAfter",
    check: (plan) => assert.deepEqual(plan.outcome, { type: "requeueAfter", ms: 5_000 }),
  },
  {
    name: "after the grace period a claim without pods has its finalizer removed",
    input: claimInput(claim(deleting, claimStatus({ phase: "Deleting" }))),
    steps: ["removeFinalizer"],
    outcome: "done",
  },
  {
    name: "a Bound claim deleted with no pods turns Deleting and loses its finalizer together",
    input: claimInput(claim(deleting, bound)),
    steps: ["setStatus", "removeFinalizer"],
    outcome: "done",
  },
];

const provisioningCases: ClaimCase[] = [
  {
    name: "a new claim gets its HostPort created and named, with the finalizer, in two writes",
    input: claimInput(claim(noFinalizer)),
    steps: ["createHostPort", "updateClaim"],
    outcome: "awaitChange",
    check: (plan) => {
      const [create, update] = plan.steps;
      assert.equal(create?.type, "createHostPort");
      if (create?.type !== "createHostPort" || update?.type !== "updateClaim") return;
      assert.deepEqual(create.hostPort.metadata, { name: DYNAMIC_NAME, finalizers: [FINALIZER] });
      assert.deepEqual(create.hostPort.spec, {
        hostPortClassName: "c1",
        claimRef: {
          apiVersion: "hostport.rmb938.com/v1alpha1",
          kind: "HostPortClaim",
          namespace: "ns1",
          name: "a",
          uid: CLAIM_UID,
        },
      });
      assert.equal(update.claim.spec.hostPortName, DYNAMIC_NAME);
      assert.deepEqual(update.claim.metadata.finalizers, [FINALIZER]);
    },
  },
  {
    name: "a new claim that has the finalizer keeps exactly one",
    input: claimInput(claim()),
    steps: ["createHostPort", "updateClaim"],
    outcome: "awaitChange",
    check: (plan) => {
      const update = plan.steps[1];
      if (update?.type === "updateClaim") {
        assert.deepEqual(update.claim.metadata.finalizers, [FINALIZER]);
      }
    },
  },
];

const QUOTA = {
  quota: "gold",
  resource: "gold.hostportclass.hostport.rmb938.com/hostportclaims",
  used: 3,
  limit: 3,
};

const quotaCases: ClaimCase[] = [
  {
    name: "a claim a quota holds back creates no HostPort and waits Pending with QuotaExceeded",
    input: claimInput(claim(), { quotaExceeded: QUOTA }),
    steps: ["setStatus", "event:QuotaExceeded"],
    outcome: "awaitChange",
    check: (plan) => {
      const status = plannedClaimStatus(plan);
      assert.equal(status?.phase, "Pending");
      assert.equal(status?.conditions?.[0]?.reason, "QuotaExceeded");
      assert.equal(
        status?.conditions?.[0]?.message,
        `exceeded quota: gold, requested: ${QUOTA.resource}=1, used: ${QUOTA.resource}=3, ` +
          `limited: ${QUOTA.resource}=3`,
      );
    },
  },
  {
    name: "a claim naming a free HostPort does not bind it while a quota holds it back",
    input: claimInput(claim(withHostPortName("static")), {
      hostPort: hostPort(named("static"), (h) => ({ ...h, spec: { hostPortClassName: "c1" } })),
      quotaExceeded: QUOTA,
    }),
    steps: ["setStatus", "event:QuotaExceeded"],
    outcome: "awaitChange",
  },
  {
    name: "a claim already held back writes nothing again",
    input: claimInput(
      claim(claimStatus(
        plannedClaimStatus(planHostPortClaim(claimInput(claim(), { quotaExceeded: QUOTA }))),
      )),
      { quotaExceeded: QUOTA },
    ),
    steps: [],
    outcome: "awaitChange",
  },
  {
    name: "a deleting claim is finalized whatever its quota says",
    input: claimInput(claim(deleting, claimStatus({ phase: "Deleting" })), {
      quotaExceeded: QUOTA,
    }),
    steps: ["removeFinalizer"],
    outcome: "done",
  },
];

Deno.test("planHostPortClaim() quotas", (t) => runClaimCases(t, quotaCases));

Deno.test("planHostPortClaim() deletion", (t) => runClaimCases(t, deletionCases));

Deno.test("planHostPortClaim() provisioning", (t) => runClaimCases(t, provisioningCases));

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

import assert from "node:assert/strict";
import { MIN_ORPHAN_MS, planTemplateClaim, type TemplateClaimInput } from "./template_claim.ts";

const base: TemplateClaimInput = {
  ownerReferences: [],
  createdMs: 0,
  nowMs: 1_000,
  graceMs: 65_000,
  podName: "web-3",
  pod: { uid: "p1", phase: "Pending", namesClaim: true },
};
const set = (whenDeleted: "Retain" | "Delete", whenScaled: "Retain" | "Delete", replicas = 5) => ({
  uid: "s1",
  replicas,
  start: 0,
  whenDeleted,
  whenScaled,
});
const setRef = { apiVersion: "apps/v1", kind: "StatefulSet", name: "web", uid: "s1" };
const podRef = { apiVersion: "v1", kind: "Pod", name: "web-3", uid: "p1" };

Deno.test("planTemplateClaim() gives a pod's claim its pod as controller owner once it is stored", () => {
  assert.deepEqual(planTemplateClaim(base), {
    action: "setOwners",
    ownerReferences: [{ ...podRef, controller: true }],
  });
  const owned = { ...base, ownerReferences: [{ ...podRef, controller: true }] };
  assert.equal(planTemplateClaim(owned).action, "none");
});

Deno.test("planTemplateClaim() deletes a finished pod's claim, and one no pod took after the window", () => {
  const finished = { ...base, pod: { uid: "p1", phase: "Succeeded", namesClaim: true } };
  assert.equal(planTemplateClaim(finished).action, "delete");
  const orphan = { ...base, pod: undefined };
  assert.deepEqual(planTemplateClaim(orphan), {
    action: "none",
    outcome: { type: "requeueAfter", ms: 64_000 },
  });
  assert.equal(planTemplateClaim({ ...orphan, nowMs: 65_000 }).action, "delete");
  // A short deletion window still leaves the webhook its longest wait.
  const short = { ...orphan, graceMs: 1_000, nowMs: 2_000 };
  assert.equal(planTemplateClaim(short).action, "none");
  assert.equal(planTemplateClaim({ ...short, nowMs: MIN_ORPHAN_MS }).action, "delete");
  // Owned by a pod that is gone: the garbage collector's turn.
  const gone = { ...orphan, ownerReferences: [{ ...podRef, uid: "old", controller: true }] };
  assert.deepEqual(planTemplateClaim({ ...gone, nowMs: 1e9 }).action, "none");
});

Deno.test("planTemplateClaim() follows persistentVolumeClaimRetentionPolicy as the StatefulSet controller", () => {
  const sts = (s: ReturnType<typeof set> | undefined, ordinal = 3) => ({
    ...base,
    statefulSet: { name: "web", ordinal, set: s },
  });
  const owners = (input: TemplateClaimInput) => {
    const plan = planTemplateClaim(input);
    return plan.action === "setOwners"
      ? plan.ownerReferences.map((r) => r.kind)
      : plan.action === "none"
      ? input.ownerReferences.map((r) => r.kind)
      : "deleted";
  };
  assert.deepEqual(owners(sts(set("Retain", "Retain"))), []);
  assert.deepEqual(owners(sts(set("Delete", "Retain"))), ["StatefulSet"]);
  assert.deepEqual(owners(sts(set("Retain", "Delete"))), []);
  assert.deepEqual(owners(sts(set("Delete", "Delete"))), ["StatefulSet"]);
  // Ordinal 3 scaled away (replicas 3): whenScaled Delete hands the claim to the pod.
  assert.deepEqual(owners(sts(set("Retain", "Retain", 3))), []);
  assert.deepEqual(owners(sts(set("Delete", "Retain", 3))), ["StatefulSet"]);
  assert.deepEqual(owners(sts(set("Retain", "Delete", 3))), ["Pod"]);
  assert.deepEqual(owners(sts(set("Delete", "Delete", 3))), ["Pod"]);
  // ...and deletes it when the pod is already gone, as the garbage collector would have.
  assert.equal(owners({ ...sts(set("Retain", "Delete", 3)), pod: undefined }), "deleted");
  assert.deepEqual(owners({ ...sts(set("Retain", "Retain", 3)), pod: undefined }), []);
  // Scaled back up before the pod went: the pod is no owner any more.
  const handed = { ...sts(set("Delete", "Delete")), ownerReferences: [podRef] };
  assert.deepEqual(owners(handed), ["StatefulSet"]);
  // The set is gone: the garbage collector acts on its reference.
  const gone = { ...sts(undefined), ownerReferences: [setRef] };
  assert.equal(planTemplateClaim(gone).action, "none");
});

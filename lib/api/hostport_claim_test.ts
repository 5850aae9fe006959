import assert from "node:assert/strict";
import { parseHostPortClaim, safeParseHostPortClaim } from "./hostport_claim.ts";

const UID = "3f2c9a10-5b7e-4f7c-9d51-0c4e2b8a6d11";

/** The original's sample (`config/samples/hostport_v1alpha1_hostportclaim.yaml`). */
function sample(): Record<string, unknown> {
  return {
    apiVersion: "hostport.rmb938.com/v1alpha1",
    kind: "HostPortClaim",
    metadata: { name: "echo-web", namespace: "default" },
    spec: { hostPortClassName: "sample" },
  };
}

function issuePaths(value: unknown): string[] {
  const result = safeParseHostPortClaim(value);
  assert.equal(result.ok, false, "expected the value to be rejected");
  // Distinct paths: one field may break several rules (an empty reason is too short and unmatched).
  return result.ok ? [] : [...new Set(result.error.issues.map((issue) => issue.path))];
}

Deno.test("parseHostPortClaim() accepts the original's sample", () => {
  const claim = parseHostPortClaim(sample());
  assert.equal(claim.spec.hostPortClassName, "sample");
  assert.equal(claim.spec.hostPortName, undefined);
  assert.equal(claim.metadata.namespace, "default");
});

Deno.test("parseHostPortClaim() accepts the original's bound claim (seed 2.5)", () => {
  const claim = parseHostPortClaim({
    ...sample(),
    metadata: {
      name: "echo-web",
      namespace: "default",
      uid: UID,
      finalizers: ["hostport.rmb938.com"],
    },
    spec: { hostPortClassName: "sample", hostPortName: `hpc-${UID}` },
    status: { phase: "Bound" },
  });
  assert.equal(claim.status?.phase, "Bound");
  assert.equal(claim.spec.hostPortName, `hpc-${UID}`);
});

Deno.test("parseHostPortClaim() accepts what the original's webhook stored: empty names", () => {
  const claim = parseHostPortClaim({
    ...sample(),
    spec: { hostPortClassName: "", hostPortName: "" },
    status: { phase: "Pending" },
  });
  assert.equal(claim.spec.hostPortClassName, "");
  assert.equal(claim.spec.hostPortName, "");
});

Deno.test("parseHostPortClaim() accepts the status this operator writes", () => {
  const claim = parseHostPortClaim({
    ...sample(),
    status: {
      phase: "Bound",
      port: 9000,
      conditions: [{
        type: "Bound",
        status: "True",
        reason: "Allocated",
        message: "Port 9000 is allocated",
        lastTransitionTime: "2026-01-02T15:04:05Z",
      }],
    },
  });
  assert.equal(claim.status?.port, 9000);
  assert.equal(claim.status?.conditions?.[0]?.reason, "Allocated");
});

Deno.test("parseHostPortClaim() rejects a missing class, an unknown phase and a bad port", () => {
  assert.deepEqual(issuePaths({ ...sample(), spec: {} }), ["spec.hostPortClassName"]);
  assert.deepEqual(issuePaths({ ...sample(), status: { phase: "Lost" } }), ["status.phase"]);
  assert.deepEqual(issuePaths({ ...sample(), status: { port: 65536 } }), ["status.port"]);
  assert.throws(() => parseHostPortClaim({ ...sample(), spec: { hostPortClassName: 7 } }), {
    name: "InvalidObjectError",
    message:
      'Cannot parse HostPortClaim "default/echo-web": spec.hostPortClassName: Invalid input: expected string, received number',
  });
});

Deno.test("parseHostPortClaim() rejects conditions that metav1.Condition would reject", () => {
  const condition = {
    type: "Bound",
    status: "True",
    reason: "Allocated",
    message: "",
    lastTransitionTime: "2026-01-02T15:04:05Z",
  };
  const withCondition = (override: Record<string, unknown>) => ({
    ...sample(),
    status: { conditions: [{ ...condition, ...override }] },
  });
  assert.equal(safeParseHostPortClaim(withCondition({})).ok, true);
  assert.deepEqual(issuePaths(withCondition({ reason: "not a reason" })), [
    "status.conditions[0].reason",
  ]);
  assert.deepEqual(issuePaths(withCondition({ reason: "" })), ["status.conditions[0].reason"]);
  assert.deepEqual(issuePaths(withCondition({ status: "true" })), ["status.conditions[0].status"]);
  assert.deepEqual(issuePaths(withCondition({ type: "-Bound" })), ["status.conditions[0].type"]);
  assert.equal(safeParseHostPortClaim(withCondition({ type: "example.com/Bound" })).ok, true);
});

Deno.test("parseHostPortClaim() keeps unknown fields at every level", () => {
  const value = {
    ...sample(),
    metadata: { name: "echo-web", namespace: "default", annotations: { a: "b" }, zzz: 1 },
    spec: { hostPortClassName: "sample", protocol: "UDP" },
    status: { phase: "Pending", observedGeneration: 2 },
    topLevel: [1, 2],
  };
  assert.deepEqual(parseHostPortClaim(structuredClone(value)), value);
});

Deno.test("parseHostPortClaim() accepts a condition's observedGeneration beyond 2^53", () => {
  const huge = 2 ** 60;
  const claim = parseHostPortClaim({
    ...sample(),
    status: {
      conditions: [{
        type: "Bound",
        status: "True",
        observedGeneration: huge,
        lastTransitionTime: "2026-01-01T00:00:00Z",
        reason: "Bound",
        message: "",
      }],
    },
  });
  assert.equal(claim.status?.conditions?.[0]?.observedGeneration, huge);
});

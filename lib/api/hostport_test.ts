import assert from "node:assert/strict";
import type { HostPortClaim } from "./hostport_claim.ts";
import {
  claimRefMatches,
  hasClaimRef,
  parseHostPort,
  safeParseHostPort,
  salvageHostPort,
} from "./hostport.ts";

const UID = "3f2c9a10-5b7e-4f7c-9d51-0c4e2b8a6d11";

/** A HostPort as the original operator leaves it (seed 2.5). */
function allocated(): Record<string, unknown> {
  return {
    apiVersion: "hostport.rmb938.com/v1alpha1",
    kind: "HostPort",
    metadata: { name: `hpc-${UID}`, finalizers: ["hostport.rmb938.com"] },
    spec: {
      claimRef: { namespace: "default", name: "echo-web", uid: UID },
      hostPortClassName: "sample",
    },
    status: { phase: "Allocated", port: 9000 },
  };
}

function issuePaths(value: unknown): string[] {
  const result = safeParseHostPort(value);
  assert.equal(result.ok, false, "expected the value to be rejected");
  return result.ok ? [] : result.error.issues.map((issue) => issue.path);
}

Deno.test("parseHostPort() accepts the original's allocated HostPort", () => {
  const hostPort = parseHostPort(allocated());
  // Compile-time check: the literal types survive parsing.
  const typed: { apiVersion: "hostport.rmb938.com/v1alpha1"; kind: "HostPort" } = hostPort;
  assert.equal(typed.kind, "HostPort");
  assert.deepEqual(hostPort.spec.claimRef, { namespace: "default", name: "echo-web", uid: UID });
  assert.equal(hostPort.status?.port, 9000);
  assert.equal(hostPort.status?.phase, "Allocated");
});

Deno.test("parseHostPort() accepts the original's manual samples (class only, port 0)", () => {
  const hostPort = parseHostPort({
    apiVersion: "hostport.rmb938.com/v1alpha1",
    kind: "HostPort",
    metadata: { name: "sample2" },
    spec: { hostPortClassName: "sample" },
  });
  assert.equal(hostPort.spec.claimRef, undefined);
  const pending = parseHostPort({ ...allocated(), status: { phase: "Pending", port: 0 } });
  assert.equal(pending.status?.port, 0);
});

Deno.test("parseHostPort() accepts a claimRef with every ObjectReference field", () => {
  const claimRef = {
    apiVersion: "hostport.rmb938.com/v1alpha1",
    kind: "HostPortClaim",
    namespace: "default",
    name: "echo-web",
    uid: UID,
    resourceVersion: "12",
    fieldPath: "",
  };
  const hostPort = parseHostPort({
    ...allocated(),
    spec: { claimRef, hostPortClassName: "sample" },
  });
  assert.deepEqual(hostPort.spec.claimRef, claimRef);
});

Deno.test("parseHostPort() accepts the conditions this operator writes", () => {
  const hostPort = parseHostPort({
    ...allocated(),
    status: {
      phase: "Allocated",
      port: 9000,
      conditions: [
        {
          type: "Allocated",
          status: "True",
          reason: "Allocated",
          message: "Allocated port 9000",
          lastTransitionTime: "2026-01-02T15:04:05Z",
        },
        {
          type: "OutOfPool",
          status: "True",
          reason: "PortOutsidePools",
          message: 'Port 9000 is outside the pools of HostPortClass "sample"',
          lastTransitionTime: "2026-01-02T15:04:05Z",
        },
      ],
    },
  });
  assert.equal(hostPort.status?.conditions?.length, 2);
});

Deno.test("parseHostPort() rejects a missing class, a bad port, a bad phase and a bad claimRef", () => {
  assert.deepEqual(issuePaths({ ...allocated(), spec: { claimRef: {} } }), [
    "spec.hostPortClassName",
  ]);
  assert.deepEqual(issuePaths({ ...allocated(), status: { port: -1 } }), ["status.port"]);
  assert.deepEqual(issuePaths({ ...allocated(), status: { phase: "Bound" } }), ["status.phase"]);
  assert.deepEqual(
    issuePaths({ ...allocated(), spec: { hostPortClassName: "c", claimRef: { uid: 5 } } }),
    ["spec.claimRef.uid"],
  );
});

Deno.test("parseHostPort() keeps unknown fields at every level", () => {
  const value = {
    ...allocated(),
    spec: {
      claimRef: { namespace: "default", name: "echo-web", uid: UID, extra: "kept" },
      hostPortClassName: "sample",
      reclaimPolicy: "Retain",
    },
    status: { phase: "Allocated", port: 9000, nodeName: "n1" },
  };
  assert.deepEqual(parseHostPort(structuredClone(value)), value);
});

Deno.test("salvageHostPort() keeps the name, class and a valid port of an object that does not parse", () => {
  const salvaged = salvageHostPort({
    metadata: { name: "hp", generation: "x" },
    spec: { hostPortClassName: "c1", claimRef: 7 },
    status: { port: 9000, phase: "Weird" },
  });
  assert.equal(salvaged.metadata.name, "hp");
  assert.equal(salvaged.spec.hostPortClassName, "c1");
  assert.equal(salvaged.status?.port, 9000);
  assert.equal(salvageHostPort({ status: { port: 70_000 } }).status, undefined);
  assert.equal(salvageHostPort({ status: { port: "9000" } }).status, undefined);
  assert.equal(salvageHostPort("garbage").metadata.name, "");
});

Deno.test("claimRefMatches() is the one claimRef rule: names match, and the uid when the ref has one", () => {
  const claim = (uid?: string) =>
    ({
      metadata: { namespace: "ns", name: "c", ...uid === undefined ? {} : { uid } },
      spec: { hostPortClassName: "k" },
    }) as HostPortClaim;
  const ref = { namespace: "ns", name: "c" };
  assert.equal(claimRefMatches({ ...ref, uid: "u1" }, claim("u1")), true);
  assert.equal(claimRefMatches({ ...ref, uid: "u1" }, claim("u2")), false);
  assert.equal(claimRefMatches({ ...ref, uid: "u1" }, claim()), false);
  assert.equal(claimRefMatches({ ...ref, uid: "u1" }, claim("")), false);
  assert.equal(claimRefMatches(ref, claim("u1")), true);
  assert.equal(claimRefMatches({ ...ref, uid: "" }, claim("u1")), true);
  assert.equal(claimRefMatches({ namespace: "other", name: "c" }, claim("u1")), false);
  assert.equal(claimRefMatches(undefined, claim("u1")), false);
  assert.equal(hasClaimRef({ namespace: "ns" }), false);
  assert.equal(hasClaimRef(ref), true);
});

import assert from "node:assert/strict";
import { z } from "zod";
import {
  claimRefMatches,
  formatPath,
  hasClaimRef,
  type HostPort,
  type HostPortClaim,
  HostPortClaimSchema,
  type HostPortClass,
  HostPortClassSchema,
  HostPortSchema,
  InvalidObjectError,
  jsonEqual,
  parseObject,
  safeParseHostPort,
  safeParseHostPortClaim,
  safeParseObject,
  salvageHostPort,
} from "./types.ts";

// Each kind parsed as lib/kube's client parses it (`parseObject` with the kind's schema).
function parseHostPort(value: unknown): HostPort {
  return parseObject(HostPortSchema, value, "HostPort");
}

function parseHostPortClaim(value: unknown): HostPortClaim {
  return parseObject(HostPortClaimSchema, value, "HostPortClaim");
}

function parseHostPortClass(value: unknown): HostPortClass {
  return parseObject(HostPortClassSchema, value, "HostPortClass");
}

const Thing = z.object({
  metadata: z.object({ name: z.string() }).loose(),
  spec: z.object({ items: z.array(z.object({ port: z.int().min(1) })) }),
});

Deno.test("formatPath() prints paths as Kubernetes field paths", () => {
  assert.equal(formatPath([]), "");
  assert.equal(formatPath(["spec", "pools", 0, "end"]), "spec.pools[0].end");
  assert.equal(formatPath(["items", 3, "metadata"]), "items[3].metadata");
});

Deno.test("parseObject() throws an InvalidObjectError naming the object and every bad field", () => {
  const value = {
    metadata: { name: "a", namespace: "ns1" },
    spec: { items: [{ port: 0 }, { port: "x" }] },
  };
  const caught = catchError(() => parseObject(Thing, value, "Thing"));
  assert.ok(caught instanceof InvalidObjectError);
  assert.ok(caught instanceof TypeError);
  assert.equal(caught.name, "InvalidObjectError");
  assert.equal(caught.kind, "Thing");
  assert.equal(caught.objectName, "ns1/a");
  assert.deepEqual(caught.issues.map((issue) => issue.path), [
    "spec.items[0].port",
    "spec.items[1].port",
  ]);
  assert.match(caught.message, /^Cannot parse Thing "ns1\/a": spec\.items\[0\]\.port: .*>=1/);
  assert.match(caught.message, /; spec\.items\[1\]\.port: .*expected number/);
});

Deno.test("parseObject() names only the kind when the value has no name", () => {
  assert.throws(() => parseObject(Thing, "nope", "Thing"), {
    name: "InvalidObjectError",
    message: /^Cannot parse Thing: Invalid input: expected object, received string$/,
  });
});

Deno.test("safeParseObject() returns the value or the error without throwing", () => {
  const good = safeParseObject(Thing, { metadata: { name: "a" }, spec: { items: [] } }, "Thing");
  assert.deepEqual(good, { ok: true, value: { metadata: { name: "a" }, spec: { items: [] } } });
  const bad = safeParseObject(Thing, { metadata: { name: "b" } }, "Thing");
  assert.equal(bad.ok, false);
  if (!bad.ok) {
    assert.equal(bad.error.objectName, "b");
    assert.deepEqual(bad.error.issues.map((issue) => issue.path), ["spec"]);
  }
});

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error("Expected the call to throw");
}

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

/** The original's sample (`config/samples/hostport_v1alpha1_hostportclaim.yaml`). */
function claimSample(): Record<string, unknown> {
  return {
    apiVersion: "hostport.rmb938.com/v1alpha1",
    kind: "HostPortClaim",
    metadata: { name: "echo-web", namespace: "default" },
    spec: { hostPortClassName: "sample" },
  };
}

function claimIssuePaths(value: unknown): string[] {
  const result = safeParseHostPortClaim(value);
  assert.equal(result.ok, false, "expected the value to be rejected");
  // Distinct paths: one field may break several rules (an empty reason is too short and unmatched).
  return result.ok ? [] : [...new Set(result.error.issues.map((issue) => issue.path))];
}

Deno.test("parseHostPortClaim() accepts the original's sample", () => {
  const claim = parseHostPortClaim(claimSample());
  assert.equal(claim.spec.hostPortClassName, "sample");
  assert.equal(claim.spec.hostPortName, undefined);
  assert.equal(claim.metadata.namespace, "default");
});

Deno.test("parseHostPortClaim() accepts the original's bound claim (seed 2.5)", () => {
  const claim = parseHostPortClaim({
    ...claimSample(),
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
    ...claimSample(),
    spec: { hostPortClassName: "", hostPortName: "" },
    status: { phase: "Pending" },
  });
  assert.equal(claim.spec.hostPortClassName, "");
  assert.equal(claim.spec.hostPortName, "");
});

Deno.test("parseHostPortClaim() accepts the status this operator writes", () => {
  const claim = parseHostPortClaim({
    ...claimSample(),
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
  assert.deepEqual(claimIssuePaths({ ...claimSample(), spec: {} }), ["spec.hostPortClassName"]);
  assert.deepEqual(claimIssuePaths({ ...claimSample(), status: { phase: "Lost" } }), [
    "status.phase",
  ]);
  assert.deepEqual(claimIssuePaths({ ...claimSample(), status: { port: 65536 } }), ["status.port"]);
  assert.throws(() => parseHostPortClaim({ ...claimSample(), spec: { hostPortClassName: 7 } }), {
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
    ...claimSample(),
    status: { conditions: [{ ...condition, ...override }] },
  });
  assert.equal(safeParseHostPortClaim(withCondition({})).ok, true);
  assert.deepEqual(claimIssuePaths(withCondition({ reason: "not a reason" })), [
    "status.conditions[0].reason",
  ]);
  assert.deepEqual(claimIssuePaths(withCondition({ reason: "" })), ["status.conditions[0].reason"]);
  assert.deepEqual(claimIssuePaths(withCondition({ status: "true" })), [
    "status.conditions[0].status",
  ]);
  assert.deepEqual(claimIssuePaths(withCondition({ type: "-Bound" })), [
    "status.conditions[0].type",
  ]);
  assert.equal(safeParseHostPortClaim(withCondition({ type: "example.com/Bound" })).ok, true);
});

Deno.test("parseHostPortClaim() keeps unknown fields at every level", () => {
  const value = {
    ...claimSample(),
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
    ...claimSample(),
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

/** The original's sample (`config/samples/hostport_v1alpha1_hostportclass.yaml`). */
function classSample(): Record<string, unknown> {
  return {
    apiVersion: "hostport.rmb938.com/v1alpha1",
    kind: "HostPortClass",
    metadata: { name: "sample" },
    spec: { pools: [{ start: 9000, end: 9000 }, { start: 9500, end: 9600 }] },
  };
}

function classIssuePaths(value: unknown): string[] {
  try {
    parseHostPortClass(value);
  } catch (error) {
    assert.ok(error instanceof InvalidObjectError, String(error));
    return error.issues.map((issue) => issue.path);
  }
  assert.fail("expected the value to be rejected");
}

Deno.test("parseHostPortClass() accepts the original's sample", () => {
  const hostPortClass = parseHostPortClass(classSample());
  assert.equal(hostPortClass.metadata.name, "sample");
  assert.deepEqual(hostPortClass.spec.pools, [
    { start: 9000, end: 9000 },
    { start: 9500, end: 9600 },
  ]);
  assert.equal(hostPortClass.status, undefined);
});

Deno.test("parseHostPortClass() accepts objects stored by the original (empty pools and status)", () => {
  const stored = {
    ...classSample(),
    metadata: {
      name: "legacy",
      uid: "0c6b7f1e-1111-4a4a-9e9e-5f5f5f5f5f5f",
      resourceVersion: "42",
      generation: 1,
      creationTimestamp: "2024-05-01T10:00:00Z",
      finalizers: ["hostport.rmb938.com"],
    },
    spec: { pools: [] },
    status: {},
  };
  const hostPortClass = parseHostPortClass(stored);
  assert.deepEqual(hostPortClass.spec.pools, []);
  assert.deepEqual(hostPortClass.metadata.finalizers, ["hostport.rmb938.com"]);
});

Deno.test("parseHostPortClass() accepts the status this operator writes", () => {
  const hostPortClass = parseHostPortClass({
    ...classSample(),
    status: {
      capacity: 102,
      allocated: 2,
      free: 100,
      pools: [
        { start: 9000, end: 9000, capacity: 1, allocated: 1, free: 0 },
        { start: 9500, end: 9600, capacity: 101, allocated: 1, free: 100 },
      ],
      observedGeneration: 3,
      conditions: [{
        type: "Available",
        status: "True",
        reason: "PortsAvailable",
        message: "100 of 102 ports are free",
        lastTransitionTime: "2026-01-02T15:04:05Z",
        observedGeneration: 3,
      }],
    },
  });
  assert.equal(hostPortClass.status?.free, 100);
  assert.equal(hostPortClass.status?.pools?.[1]?.capacity, 101);
});

Deno.test("parseHostPortClass() rejects ports outside 1-65535 with their field paths", () => {
  const value = { ...classSample(), spec: { pools: [{ start: 0, end: 70000 }] } };
  assert.deepEqual(classIssuePaths(value), ["spec.pools[0].start", "spec.pools[0].end"]);
  assert.throws(() => parseHostPortClass(value), {
    name: "InvalidObjectError",
    message:
      /^Cannot parse HostPortClass "sample": spec\.pools\[0\]\.start: .*>=1; spec\.pools\[0\]\.end: .*<=65535$/,
  });
});

Deno.test("parseHostPortClass() rejects a missing spec, missing pool ends and fractional ports", () => {
  const { spec: _spec, ...withoutSpec } = classSample();
  assert.deepEqual(classIssuePaths(withoutSpec), ["spec"]);
  assert.deepEqual(classIssuePaths({ ...classSample(), spec: { pools: [{ start: 9000 }] } }), [
    "spec.pools[0].end",
  ]);
  assert.deepEqual(
    classIssuePaths({ ...classSample(), spec: { pools: [{ start: 9000.5, end: 9001 }] } }),
    [
      "spec.pools[0].start",
    ],
  );
});

Deno.test("parseHostPortClass() rejects another kind or apiVersion", () => {
  assert.deepEqual(classIssuePaths({ ...classSample(), kind: "HostPort" }), ["kind"]);
  assert.deepEqual(classIssuePaths({ ...classSample(), apiVersion: "hostport.rmb938.com/v1" }), [
    "apiVersion",
  ]);
});

Deno.test("parseHostPortClass() keeps unknown fields at every level", () => {
  const value = {
    ...classSample(),
    extra: { a: 1 },
    metadata: { name: "sample", labels: { team: "games" }, futureMetaField: true },
    spec: { pools: [{ start: 9000, end: 9001, protocol: "UDP" }], reserved: [22] },
    status: { free: 2, futureStatusField: "x" },
  };
  assert.deepEqual(parseHostPortClass(structuredClone(value)), value);
});

Deno.test("parseHostPortClass() accepts int64 values beyond 2^53 in status", () => {
  const huge = JSON.parse("9007199254740993"); // 2^53 + 1, rounded by JSON.parse
  const condition = {
    type: "Ready",
    status: "True",
    observedGeneration: huge,
    lastTransitionTime: "2026-01-01T00:00:00Z",
    reason: "PoolsValid",
    message: "",
  };
  const parsed = parseHostPortClass({
    ...classSample(),
    metadata: { name: "sample", generation: huge },
    status: { observedGeneration: huge, capacity: huge, conditions: [condition] },
  });
  assert.equal(parsed.status?.observedGeneration, huge);
  assert.equal(parsed.status?.conditions?.[0]?.observedGeneration, huge);
  assert.deepEqual(classIssuePaths({ ...classSample(), status: { observedGeneration: 1.5 } }), [
    "status.observedGeneration",
  ]);
  assert.deepEqual(classIssuePaths({ ...classSample(), status: { observedGeneration: -1 } }), [
    "status.observedGeneration",
  ]);
});

Deno.test("jsonEqual() ignores member order but not array order", () => {
  assert.equal(jsonEqual({ a: 1, b: [1, 2] }, { b: [1, 2], a: 1 }), true);
  assert.equal(jsonEqual([1, 2], [2, 1]), false);
  assert.equal(jsonEqual({ a: 1 }, { a: 1, b: 2 }), false);
  assert.equal(jsonEqual(null, {}), false);
  assert.equal(jsonEqual({ a: 1, b: undefined }, { a: 1 }), true);
});

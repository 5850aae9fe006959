import assert from "node:assert/strict";
import { parseHostPortClass } from "./hostport_class.ts";
import { InvalidObjectError } from "./meta.ts";

/** The original's sample (`config/samples/hostport_v1alpha1_hostportclass.yaml`). */
function sample(): Record<string, unknown> {
  return {
    apiVersion: "hostport.rmb938.com/v1alpha1",
    kind: "HostPortClass",
    metadata: { name: "sample" },
    spec: { pools: [{ start: 9000, end: 9000 }, { start: 9500, end: 9600 }] },
  };
}

function issuePaths(value: unknown): string[] {
  try {
    parseHostPortClass(value);
  } catch (error) {
    assert.ok(error instanceof InvalidObjectError, String(error));
    return error.issues.map((issue) => issue.path);
  }
  assert.fail("expected the value to be rejected");
}

Deno.test("parseHostPortClass() accepts the original's sample", () => {
  const hostPortClass = parseHostPortClass(sample());
  assert.equal(hostPortClass.metadata.name, "sample");
  assert.deepEqual(hostPortClass.spec.pools, [
    { start: 9000, end: 9000 },
    { start: 9500, end: 9600 },
  ]);
  assert.equal(hostPortClass.status, undefined);
});

Deno.test("parseHostPortClass() accepts objects stored by the original (empty pools and status)", () => {
  const stored = {
    ...sample(),
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
    ...sample(),
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
  const value = { ...sample(), spec: { pools: [{ start: 0, end: 70000 }] } };
  assert.deepEqual(issuePaths(value), ["spec.pools[0].start", "spec.pools[0].end"]);
  assert.throws(() => parseHostPortClass(value), {
    name: "InvalidObjectError",
    message:
      /^Cannot parse HostPortClass "sample": spec\.pools\[0\]\.start: .*>=1; spec\.pools\[0\]\.end: .*<=65535$/,
  });
});

Deno.test("parseHostPortClass() rejects a missing spec, missing pool ends and fractional ports", () => {
  const { spec: _spec, ...withoutSpec } = sample();
  assert.deepEqual(issuePaths(withoutSpec), ["spec"]);
  assert.deepEqual(issuePaths({ ...sample(), spec: { pools: [{ start: 9000 }] } }), [
    "spec.pools[0].end",
  ]);
  assert.deepEqual(issuePaths({ ...sample(), spec: { pools: [{ start: 9000.5, end: 9001 }] } }), [
    "spec.pools[0].start",
  ]);
});

Deno.test("parseHostPortClass() rejects another kind or apiVersion", () => {
  assert.deepEqual(issuePaths({ ...sample(), kind: "HostPort" }), ["kind"]);
  assert.deepEqual(issuePaths({ ...sample(), apiVersion: "hostport.rmb938.com/v1" }), [
    "apiVersion",
  ]);
});

Deno.test("parseHostPortClass() keeps unknown fields at every level", () => {
  const value = {
    ...sample(),
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
    ...sample(),
    metadata: { name: "sample", generation: huge },
    status: { observedGeneration: huge, capacity: huge, conditions: [condition] },
  });
  assert.equal(parsed.status?.observedGeneration, huge);
  assert.equal(parsed.status?.conditions?.[0]?.observedGeneration, huge);
  assert.deepEqual(issuePaths({ ...sample(), status: { observedGeneration: 1.5 } }), [
    "status.observedGeneration",
  ]);
  assert.deepEqual(issuePaths({ ...sample(), status: { observedGeneration: -1 } }), [
    "status.observedGeneration",
  ]);
});

import assert from "node:assert/strict";
import { admissionReview, CRD_KIND, failingLookups, patchOf } from "./fixtures_test.ts";
import { handleAdmission } from "./handler.ts";
import { applyJsonPatch, type JsonPatchOp } from "./json_patch.ts";
import { WEBHOOK_PATHS } from "./paths.ts";
import type { AdmissionResponse } from "./review.ts";

type CrdKind = keyof typeof CRD_KIND;
const PATH: Record<CrdKind, string> = {
  HostPort: WEBHOOK_PATHS.mutateHostPort,
  HostPortClaim: WEBHOOK_PATHS.mutateHostPortClaim,
  HostPortClass: WEBHOOK_PATHS.mutateHostPortClass,
};

async function mutate(
  kind: CrdKind,
  object: Record<string, unknown>,
  operation: "CREATE" | "UPDATE" = "CREATE",
): Promise<AdmissionResponse> {
  const body = admissionReview({ kind: CRD_KIND[kind], operation, object, oldObject: object });
  const result = await handleAdmission(PATH[kind], body, failingLookups("no lookups"));
  if (result.kind !== "review") throw new Error(`Expected a review, got HTTP ${result.status}`);
  return result.review.response;
}

function object(kind: CrdKind, metadata: Record<string, unknown>, spec: unknown = { x: 1 }) {
  return {
    apiVersion: "hostport.rmb938.com/v1alpha1",
    kind,
    metadata: { name: "o", ...metadata },
    spec,
  };
}

const FINALIZERS = "/metadata/finalizers";

interface MutationCase {
  name: string;
  metadata: Record<string, unknown>;
  operation?: "CREATE" | "UPDATE";
  patch: JsonPatchOp[];
}

const CASES: MutationCase[] = [
  {
    name: "S10: an object without finalizers gets the finalizer",
    metadata: {},
    patch: [{ op: "add", path: FINALIZERS, value: ["hostport.rmb938.com"] }],
  },
  {
    name: "S10: the finalizer is appended to other finalizers",
    metadata: { finalizers: ["other.example.com/x"] },
    patch: [{ op: "add", path: `${FINALIZERS}/-`, value: "hostport.rmb938.com" }],
  },
  {
    name: "S10: a finalizer removed from a live object is re-added on UPDATE",
    metadata: { finalizers: [] },
    operation: "UPDATE",
    patch: [{ op: "add", path: `${FINALIZERS}/-`, value: "hostport.rmb938.com" }],
  },
  {
    name: "S10: an object that has the finalizer needs no patch",
    metadata: { finalizers: ["hostport.rmb938.com"] },
    patch: [],
  },
  {
    name: "S10: an object being deleted does not get the finalizer back",
    metadata: { finalizers: [], deletionTimestamp: "2026-01-01T00:00:00Z" },
    operation: "UPDATE",
    patch: [],
  },
];

Deno.test("mutating webhooks add the finalizer to all three kinds", async (t) => {
  for (const kind of ["HostPort", "HostPortClaim", "HostPortClass"] as const) {
    for (const c of CASES) {
      await t.step(`${kind}: ${c.name}`, async () => {
        const input = object(kind, c.metadata, { hostPortClassName: "c1", hostPortName: "" });
        const response = await mutate(kind, input, c.operation);
        assert.equal(response.allowed, true);
        assert.deepEqual(patchOf(response), c.patch);
        const patched = applyJsonPatch(input, patchOf(response)) as { spec: unknown };
        assert.deepEqual(patched.spec, input.spec);
      });
    }
  }
});

Deno.test('mutating webhook sets spec.hostPortName to "" on a new claim, as the original', async () => {
  const input = object("HostPortClaim", {}, { hostPortClassName: "c1" });
  const response = await mutate("HostPortClaim", input);
  assert.deepEqual(applyJsonPatch(input, patchOf(response)), {
    ...input,
    metadata: { name: "o", finalizers: ["hostport.rmb938.com"] },
    spec: { hostPortClassName: "c1", hostPortName: "" },
  });
});

Deno.test("mutating webhook keeps a claim's pre-set hostPortName and leaves updates' spec alone", async () => {
  const preset = object("HostPortClaim", { finalizers: ["hostport.rmb938.com"] }, {
    hostPortClassName: "c1",
    hostPortName: "static1",
  });
  assert.deepEqual(patchOf(await mutate("HostPortClaim", preset)), []);
  const updated = object("HostPortClaim", { finalizers: ["hostport.rmb938.com"] }, {
    hostPortClassName: "c1",
  });
  assert.deepEqual(patchOf(await mutate("HostPortClaim", updated, "UPDATE")), []);
});

Deno.test("mutating webhook answers 400 when the metadata cannot be read", async () => {
  const response = await mutate(
    "HostPort",
    object("HostPort", { finalizers: "hostport.rmb938.com" }),
  );
  assert.equal(response.allowed, false);
  assert.equal(response.status?.code, 400);
  assert.equal(
    response.status?.message,
    "Cannot decode the HostPort: metadata.finalizers: Invalid input: expected array, received string",
  );
});

Deno.test("mutating webhook never blocks an update of an object it cannot read", async () => {
  const unreadable = object("HostPortClass", { finalizers: "hostport.rmb938.com" });
  const response = await mutate("HostPortClass", unreadable, "UPDATE");
  assert.equal(response.allowed, true);
  assert.deepEqual(patchOf(response), []);
});

import assert from "node:assert/strict";
import type { HostPort } from "../lib/api/mod.ts";
import { admissionReview, CRD_KIND, failingLookups, hostPort } from "./_fixtures.ts";
import { handleAdmission } from "./handler.ts";
import { WEBHOOK_PATHS } from "./paths.ts";
import type { AdmissionResponse } from "./review.ts";

async function validate(object: HostPort, oldObject?: HostPort): Promise<AdmissionResponse> {
  const operation = oldObject === undefined ? "CREATE" : "UPDATE";
  const body = admissionReview({ kind: CRD_KIND.HostPort, operation, object, oldObject });
  const result = await handleAdmission(WEBHOOK_PATHS.validateHostPort, body, failingLookups("x"));
  if (result.kind !== "review") throw new Error(`Expected a review, got HTTP ${result.status}`);
  return result.review.response;
}

const REF = { namespace: "ns1", name: "a", uid: "u1" };
const BOUND = hostPort("hp", { port: 9000, claimRef: REF });
const HEAD = 'HostPort.hostport.rmb938.com "hp" is invalid: ';

function withSpec(base: HostPort, spec: Partial<HostPort["spec"]>): HostPort {
  return { ...base, spec: { ...base.spec, ...spec } };
}

Deno.test("HostPort webhook refuses changes to immutable fields (S9)", async (t) => {
  const cases: { name: string; object: HostPort; old: HostPort; message: string }[] = [
    {
      name: "the class",
      object: withSpec(BOUND, { hostPortClassName: "c2" }),
      old: BOUND,
      message: `${HEAD}spec.hostPortClassName: Forbidden: cannot change hostPortClassName`,
    },
    {
      name: "another claim in claimRef",
      object: withSpec(BOUND, { claimRef: { ...REF, name: "b" } }),
      old: BOUND,
      message: `${HEAD}spec.claimRef: Forbidden: cannot change claimRef`,
    },
    {
      name: "claimRef removed",
      object: { ...BOUND, spec: { hostPortClassName: "c1" } },
      old: BOUND,
      message: `${HEAD}spec.claimRef: Forbidden: cannot change claimRef`,
    },
    {
      name: "the port",
      object: { ...BOUND, status: { phase: "Allocated", port: 9001 } },
      old: BOUND,
      message: `${HEAD}status.port: Forbidden: cannot change port`,
    },
    {
      name: "a port without the Allocated phase",
      object: hostPort("hp", { port: 9000, phase: "Pending" }),
      old: hostPort("hp"),
      message: `${HEAD}status.port: Invalid value: 9000: port can only be set when also ` +
        "setting the phase to Allocated",
    },
    {
      name: "several at once",
      object: withSpec(BOUND, { hostPortClassName: "c2", claimRef: { ...REF, uid: "u2" } }),
      old: BOUND,
      message: `${HEAD}[spec.hostPortClassName: Forbidden: cannot change hostPortClassName, ` +
        "spec.claimRef: Forbidden: cannot change claimRef]",
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const response = await validate(c.object, c.old);
      assert.equal(response.allowed, false);
      assert.equal(response.status?.code, 422);
      assert.equal(response.status?.reason, "Invalid");
      assert.equal(response.status?.message, c.message);
      assert.equal(response.status?.details?.kind, "HostPort");
      assert.equal(response.status?.details?.group, "hostport.rmb938.com");
    });
  }
});

Deno.test("HostPort webhook lets claimRef go from unset to set once (static binding)", async () => {
  const unbound = hostPort("hp", { port: 9000 });
  assert.equal((await validate(withSpec(unbound, { claimRef: REF }), unbound)).allowed, true);
});

Deno.test("HostPort webhook allows creates and updates that keep the immutable fields", async () => {
  assert.equal((await validate(BOUND)).allowed, true);
  const relabelled = { ...BOUND, metadata: { ...BOUND.metadata, labels: { a: "b" } } };
  assert.equal((await validate(relabelled, BOUND)).allowed, true);
  const allocated = hostPort("hp", { port: 9000, claimRef: REF });
  assert.equal(
    (await validate(allocated, withSpec(hostPort("hp"), { claimRef: REF }))).allowed,
    true,
  );
});

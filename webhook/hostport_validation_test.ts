import assert from "node:assert/strict";
import type { HostPort } from "../lib/api/mod.ts";
import { admissionReview, CRD_KIND, failingLookups, hostPort } from "./fixtures_test.ts";
import { handleAdmission } from "./handler.ts";
import { WEBHOOK_PATHS } from "./paths.ts";
import type { AdmissionResponse } from "./review.ts";

const OPERATOR = "system:serviceaccount:hostport-allocator-system:hostport-allocator";

async function validate(
  object: unknown,
  oldObject?: unknown,
  who: { username?: string; operator?: string | undefined } = {},
): Promise<AdmissionResponse> {
  const operation = oldObject === undefined ? "CREATE" : "UPDATE";
  const username = who.username ?? OPERATOR;
  const body = admissionReview({ kind: CRD_KIND.HostPort, operation, object, oldObject, username });
  const operator = "operator" in who ? who.operator : OPERATOR;
  const result = await handleAdmission(
    WEBHOOK_PATHS.validateHostPort,
    body,
    failingLookups("x"),
    { operatorUsername: () => operator },
  );
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

Deno.test("HostPort webhook lets only the operator write a port (issue #9 item 8)", async (t) => {
  const pending = withSpec(hostPort("hp"), { claimRef: REF });
  const allocated = withSpec(hostPort("hp", { port: 9000 }), { claimRef: REF });
  const refusal = `${HEAD}status.port: Forbidden: only the operator allocates ports`;
  await t.step("an admin or tenant setting the port is refused", async () => {
    for (const username of ["kubernetes-admin", "system:serviceaccount:ns1:default"]) {
      const response = await validate(allocated, pending, { username });
      assert.equal(response.allowed, false);
      assert.equal(response.status?.message, refusal);
    }
  });
  await t.step("moving the phase to Allocated without a port is refused too", async () => {
    const phaseOnly = { ...pending, status: { phase: "Allocated" } } as HostPort;
    const response = await validate(phaseOnly, pending, { username: "kubernetes-admin" });
    assert.equal(response.status?.message, refusal);
  });
  await t.step("the operator's own write is admitted", async () => {
    assert.equal((await validate(allocated, pending)).allowed, true);
  });
  await t.step("while the operator's username is unknown, nobody writes a port", async () => {
    const response = await validate(allocated, pending, { operator: undefined });
    assert.equal(response.status?.message, refusal);
  });
  await t.step("others may still change what holds no port", async () => {
    const labelled = { ...allocated, metadata: { ...allocated.metadata, labels: { a: "b" } } };
    const pendingPhase = { ...pending, status: { phase: "Pending" } } as HostPort;
    const username = "kubernetes-admin";
    assert.equal((await validate(labelled, allocated, { username })).allowed, true);
    assert.equal((await validate(pendingPhase, pending, { username })).allowed, true);
  });
});

Deno.test("HostPort webhook never blocks repairs of a HostPort it cannot decode", async (t) => {
  const broken = { ...hostPort("hp"), spec: { hostPortClassName: 7 } };
  const username = "kubernetes-admin";
  await t.step("an old object that does not decode is judged on the new one", async () => {
    assert.equal((await validate(hostPort("hp"), broken, { username })).allowed, true);
    const stolen = await validate(hostPort("hp", { port: 9000 }), broken, { username });
    assert.equal(
      stolen.status?.message,
      `${HEAD}status.port: Forbidden: only the operator allocates ports`,
    );
  });
  await t.step("removing the finalizer of one where neither decodes is admitted", async () => {
    const held = {
      ...broken,
      metadata: { ...broken.metadata, finalizers: ["hostport.rmb938.com"] },
    };
    assert.equal((await validate(broken, held, { username })).allowed, true);
  });
  await t.step("changing the spec of one where neither decodes is still refused", async () => {
    const other = { ...broken, spec: { hostPortClassName: 8 } };
    assert.equal((await validate(other, broken, { username })).status?.code, 400);
  });
});

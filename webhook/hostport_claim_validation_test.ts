import assert from "node:assert/strict";
import type { HostPortClaim } from "../lib/api/mod.ts";
import {
  admissionReview,
  claim,
  CRD_KIND,
  failingLookups,
  fakeLookups,
  hostPort,
  hostPortClass,
  hostPortFor,
} from "./fixtures_test.ts";
import { handleAdmission } from "./handler.ts";
import type { AdmissionLookups } from "./lookups.ts";
import { WEBHOOK_PATHS } from "./paths.ts";
import type { AdmissionResponse } from "./review.ts";

const LOOKUPS = fakeLookups({
  classes: [hostPortClass("c1", [{ start: 9000, end: 9002 }])],
  hostPorts: [
    hostPortFor("victim", 9000),
    hostPort("static1", { port: 9001 }),
    hostPort("other-class", { port: 9002, className: "c2" }),
    hostPort("going", { port: 9003, deleting: true }),
  ],
});

async function validate(
  object: HostPortClaim,
  old?: HostPortClaim,
  lookups: AdmissionLookups = LOOKUPS,
): Promise<AdmissionResponse> {
  const body = admissionReview({
    kind: CRD_KIND.HostPortClaim,
    operation: old === undefined ? "CREATE" : "UPDATE",
    namespace: "ns1",
    object,
    oldObject: old,
  });
  const result = await handleAdmission(WEBHOOK_PATHS.validateHostPortClaim, body, lookups);
  if (result.kind !== "review") throw new Error(`Expected a review, got HTTP ${result.status}`);
  return result.review.response;
}

const HEAD = 'HostPortClaim.hostport.rmb938.com "s" is invalid: ';

Deno.test("HostPortClaim webhook refuses changes to immutable fields (S9)", async (t) => {
  const bound = claim("s", { hostPortName: "hpc-1" });
  const cases = [
    {
      name: "the class",
      object: claim("s", { hostPortName: "hpc-1", className: "c2" }),
      message: `${HEAD}spec.hostPortClassName: Forbidden: cannot change hostPortClassName`,
    },
    {
      name: "hostPortName once set",
      object: claim("s", { hostPortName: "other" }),
      message: `${HEAD}spec.hostPortName: Forbidden: cannot change hostPortName once set`,
    },
    {
      name: "hostPortName cleared",
      object: claim("s", { hostPortName: "" }),
      message: `${HEAD}spec.hostPortName: Forbidden: cannot change hostPortName once set`,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const response = await validate(c.object, bound);
      assert.equal(response.allowed, false);
      assert.equal(response.status?.code, 422);
      assert.equal(response.status?.message, c.message);
    });
  }
});

Deno.test("HostPortClaim webhook refuses binding to a HostPort it may not use (seed 5.2 #10)", async (t) => {
  const cases = [
    {
      name: "bound to another claim",
      hostPortName: "hpc-uid-victim",
      message: `${HEAD}spec.hostPortName: Invalid value: "hpc-uid-victim": hostport is bound ` +
        "to another hostPortClaim",
    },
    {
      name: "of another class",
      hostPortName: "other-class",
      message: `${HEAD}spec.hostPortName: Invalid value: "other-class": hostport is of ` +
        'hostPortClass "c2", not "c1"',
    },
    {
      name: "being deleted",
      hostPortName: "going",
      message: `${HEAD}spec.hostPortName: Invalid value: "going": hostport is deleting`,
    },
  ];
  for (const c of cases) {
    await t.step(`on CREATE: ${c.name}`, async () => {
      const response = await validate(claim("s", { hostPortName: c.hostPortName }));
      assert.equal(response.status?.message, c.message);
    });
    await t.step(`on UPDATE from empty: ${c.name}`, async () => {
      const response = await validate(
        claim("s", { hostPortName: c.hostPortName }),
        claim("s", { hostPortName: "" }),
      );
      assert.equal(response.status?.message, c.message);
    });
  }
});

Deno.test("HostPortClaim webhook allows S9's and S16's bindings", async (t) => {
  await t.step("S16: a static HostPort without claimRef", async () => {
    const response = await validate(claim("s", { hostPortName: "static1" }));
    assert.equal(response.allowed, true);
    assert.equal(response.warnings, undefined);
  });
  await t.step("S9: the operator binding a claim to its own HostPort", async () => {
    const response = await validate(
      claim("victim", { hostPortName: "hpc-uid-victim" }),
      claim("victim", { hostPortName: "" }),
    );
    assert.equal(response.allowed, true);
  });
  await t.step("S16: a HostPort that does not exist yet, with a warning", async () => {
    const response = await validate(claim("s", { hostPortName: "nosuch" }));
    assert.equal(response.allowed, true);
    assert.deepEqual(response.warnings, [
      'spec.hostPortName: HostPort "nosuch" does not exist; the claim stays Pending until it is created',
    ]);
  });
  await t.step("an update that keeps the binding needs no lookup", async () => {
    const bound = claim("s", { hostPortName: "hpc-uid-victim" });
    const response = await validate(bound, bound, failingLookups("no lookups"));
    assert.equal(response.allowed, true);
  });
});

Deno.test("HostPortClaim webhook warns when the class does not exist", async () => {
  const response = await validate(claim("s", { hostPortName: "", className: "nosuch" }));
  assert.equal(response.allowed, true);
  assert.deepEqual(response.warnings, [
    'spec.hostPortClassName: HostPortClass "nosuch" does not exist; the claim stays Pending ' +
    "until it is created",
  ]);
});

Deno.test("HostPortClaim webhook reports a failed HostPort lookup as an internal error", async () => {
  const response = await validate(
    claim("s", { hostPortName: "static1" }),
    undefined,
    failingLookups("down"),
  );
  assert.equal(response.status?.message, `${HEAD}spec.hostPortName: Internal error: down`);
});

Deno.test("HostPortClaim webhook lets an admin repair or delete a claim it cannot decode", async (t) => {
  const broken = (finalizers: string[]) => ({
    apiVersion: "hostport.rmb938.com/v1alpha1",
    kind: "HostPortClaim",
    metadata: { name: "s", namespace: "ns1", finalizers },
    spec: { hostPortClassName: 7 },
  });
  await t.step("removing the finalizer (neither object decodes) is allowed", async () => {
    const response = await validate(
      broken([]) as unknown as HostPortClaim,
      broken(["hostport.rmb938.com"]) as unknown as HostPortClaim,
    );
    assert.equal(response.allowed, true);
  });
  await t.step("fixing the spec is judged on the new object alone", async () => {
    const fixed = claim("s", { className: "c1" });
    const response = await validate(fixed, broken([]) as unknown as HostPortClaim);
    assert.equal(response.allowed, true);
    const taken = claim("s", { className: "c1", hostPortName: "hpc-uid-victim" });
    const refused = await validate(taken, broken([]) as unknown as HostPortClaim);
    assert.equal(refused.allowed, false);
    assert.match(refused.status?.message ?? "", /spec\.hostPortName/);
  });
});

Deno.test("HostPortClaim webhook refuses a claim over a per-class quota in the API server's words", async () => {
  const resource = "c1.hostportclass.hostport.rmb938.com/hostportclaims";
  const asked: string[] = [];
  const lookups: AdmissionLookups = {
    ...LOOKUPS,
    claimQuota: {
      admit(claim, { dryRun }) {
        asked.push(`${claim.metadata.name}${dryRun ? " (dry run)" : ""}`);
        return { quota: "tenant", resource, used: 2, limit: 2 };
      },
    },
  };
  const response = await validate(claim("s", { hostPortName: "" }), undefined, lookups);
  assert.equal(response.allowed, false);
  assert.equal(response.status?.code, 403);
  assert.equal(response.status?.reason, "Forbidden");
  assert.equal(
    response.status?.message,
    `hostportclaims.hostport.rmb938.com "s" is forbidden: exceeded quota: tenant, requested: ` +
      `${resource}=1, used: ${resource}=2, limited: ${resource}=2`,
  );
  // A claim refused for another reason never reaches the quota (nor counts against it).
  const invalid = await validate(claim("t", { hostPortName: "other-class" }), undefined, lookups);
  assert.equal(invalid.status?.code, 422);
  // Updates are never checked: the class cannot change.
  const update = await validate(
    {
      ...claim("s", { hostPortName: "" }),
      metadata: { ...claim("s").metadata, labels: { a: "b" } },
    },
    claim("s", { hostPortName: "" }),
    lookups,
  );
  assert.equal(update.allowed, true);
  assert.deepEqual(asked, ["s"]);
});

Deno.test("HostPortClaim webhook applies the controllers' claimRef rule, also to a claim without a uid", async (t) => {
  await t.step(
    "a uid-less claim named like the one a HostPort is bound to is refused",
    async () => {
      const response = await validate(claim("victim", { uid: "", hostPortName: "hpc-uid-victim" }));
      assert.equal(
        response.status?.message,
        'HostPortClaim.hostport.rmb938.com "victim" is invalid: spec.hostPortName: Invalid value: ' +
          '"hpc-uid-victim": hostport is bound to another hostPortClaim',
      );
    },
  );
  await t.step("a HostPort pre-bound by name (no uid) admits that claim", async () => {
    const lookups = fakeLookups({
      classes: [hostPortClass("c1", [{ start: 9000, end: 9000 }])],
      hostPorts: [hostPort("pre", { port: 9000, claimRef: { namespace: "ns1", name: "s" } })],
    });
    const response = await validate(claim("s", { hostPortName: "pre" }), undefined, lookups);
    assert.equal(response.allowed, true);
  });
});

import assert from "node:assert/strict";
import type { HostPort, HostPortClaim, HostPortClass } from "../lib/api/mod.ts";
import {
  admissionReview,
  applyJsonPatch,
  claim,
  CRD_KIND,
  failingLookups,
  fakeLookups,
  hostPort,
  hostPortClass,
  hostPortFor,
  patchOf,
} from "./fixtures_test.ts";
import { handleAdmission } from "./handler.ts";
import type { AdmissionLookups } from "./lookups.ts";
import type { WebhookId } from "./configurations.ts";
import type { AdmissionResponse, JsonPatchOp } from "./review.ts";

type CrdKind = keyof typeof CRD_KIND;
const MUTATING = {
  HostPort: "mutateHostPort",
  HostPortClaim: "mutateHostPortClaim",
  HostPortClass: "mutateHostPortClass",
} as const satisfies Record<CrdKind, WebhookId>;

async function mutate(
  kind: CrdKind,
  object: Record<string, unknown>,
  operation: "CREATE" | "UPDATE" = "CREATE",
): Promise<AdmissionResponse> {
  const body = admissionReview({ kind: CRD_KIND[kind], operation, object, oldObject: object });
  const result = await handleAdmission(MUTATING[kind], body, failingLookups("no lookups"));
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

type Pools = { start: number; end: number }[];

async function validateClass(
  pools: Pools,
  options: { old?: Pools; lookups?: AdmissionLookups; name?: string } = {},
): Promise<AdmissionResponse> {
  const name = options.name ?? "sample";
  const body = admissionReview({
    kind: CRD_KIND.HostPortClass,
    operation: options.old === undefined ? "CREATE" : "UPDATE",
    object: hostPortClass(name, pools),
    oldObject: options.old === undefined ? undefined : hostPortClass(name, options.old),
  });
  const lookups = options.lookups ?? fakeLookups();
  const result = await handleAdmission("validateHostPortClass", body, lookups);
  if (result.kind !== "review") throw new Error(`Expected a review, got HTTP ${result.status}`);
  return result.review.response;
}

const CLASS_HEAD = 'HostPortClass.hostport.rmb938.com "sample" is invalid: ';

Deno.test("HostPortClass webhook refuses bad pools with 422 Invalid", async (t) => {
  const cases: { name: string; pools: Pools; message: string }[] = [
    {
      name: "S8: end before start, with the original's exact message",
      pools: [{ start: 9100, end: 9000 }],
      message:
        `${CLASS_HEAD}spec.pools[0].end: Invalid value: 9000: End must be greater or equal to start`,
    },
    {
      name: "no pools",
      pools: [],
      message: `${CLASS_HEAD}spec.pools: Required value: At least one pool is required`,
    },
    {
      name: "pools overlapping within the class",
      pools: [{ start: 9000, end: 9100 }, { start: 9050, end: 9200 }],
      message:
        `${CLASS_HEAD}spec.pools[1]: Invalid value: "9050-9200": Pool 1 (9050-9200) overlaps ` +
        "pool 0 (9000-9100) on ports 9050-9100",
    },
    {
      name: "a bound that is not a port, beside an inverted pool",
      pools: [{ start: 0, end: 10 }, { start: 20, end: 10 }],
      message:
        `${CLASS_HEAD}[spec.pools[0].start: Invalid value: 0: Start must be an integer from 1 ` +
        "to 65535, got 0, spec.pools[1].end: Invalid value: 10: End must be greater or equal to start]",
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const response = await validateClass(c.pools);
      assert.equal(response.allowed, false);
      assert.equal(response.status?.code, 422);
      assert.equal(response.status?.reason, "Invalid");
      assert.equal(response.status?.message, c.message);
    });
  }
});

Deno.test("HostPortClass webhook gives causes with reason, message and field", async () => {
  const response = await validateClass([{ start: 9100, end: 9000 }]);
  assert.deepEqual(response.status?.details, {
    group: "hostport.rmb938.com",
    kind: "HostPortClass",
    name: "sample",
    causes: [{
      reason: "FieldValueInvalid",
      message: "Invalid value: 9000: End must be greater or equal to start",
      field: "spec.pools[0].end",
    }],
  });
});

Deno.test("HostPortClass webhook allows S8's shrink and metadata-only updates of bad pools", async () => {
  const shrink = await validateClass([{ start: 9000, end: 9001 }], {
    old: [{ start: 9000, end: 9002 }],
  });
  assert.equal(shrink.allowed, true);
  // A class stored by the original may hold overlapping pools; its finalizer must still come off.
  const legacy = [{ start: 9000, end: 9100 }, { start: 9050, end: 9200 }];
  assert.equal((await validateClass(legacy, { old: legacy })).allowed, true);
});

Deno.test("HostPortClass webhook warns about risky but legal pools", async () => {
  const others: HostPortClass[] = [
    hostPortClass("sample", [{ start: 1, end: 65535 }]), // itself: skipped
    hostPortClass("games", [{ start: 9050, end: 9060 }, { start: 9070, end: 9070 }]),
    hostPortClass("far", [{ start: 20000, end: 20010 }]),
  ];
  const response = await validateClass(
    [{ start: 9000, end: 9100 }, { start: 32000, end: 33000 }, { start: 80, end: 80 }],
    { lookups: fakeLookups({ classes: others }) },
  );
  assert.equal(response.allowed, true);
  assert.deepEqual(response.warnings, [
    "spec.pools[1]: ports 32000-32767 are in the default NodePort range 30000-32767; Service " +
    "node ports there can collide with host ports",
    "spec.pools[2]: port 80 is below 1024; privileged ports are often taken by services on the nodes",
    'spec.pools: Class "sample" shares ports 9050-9060, 9070 with class "games"; ports are ' +
    "unique cluster-wide, so both classes draw on these ports",
  ]);
});

Deno.test("HostPortClass webhook still admits when the other classes cannot be listed", async () => {
  const response = await validateClass([{ start: 9000, end: 9100 }], {
    lookups: failingLookups("timeout"),
  });
  assert.equal(response.allowed, true);
  assert.deepEqual(response.warnings, [
    "spec.pools: cannot check for ports shared with other HostPortClasses: timeout",
  ]);
});

Deno.test("HostPortClass webhook sends no warnings for a plain class", async () => {
  const response = await validateClass([{ start: 9000, end: 9100 }]);
  assert.equal(response.allowed, true);
  assert.equal(response.warnings, undefined);
});

async function review(
  operation: "CREATE" | "UPDATE",
  object: unknown,
  oldObject?: unknown,
): Promise<AdmissionResponse> {
  const body = admissionReview({ kind: CRD_KIND.HostPortClass, operation, object, oldObject });
  const result = await handleAdmission("validateHostPortClass", body, fakeLookups());
  if (result.kind !== "review") throw new Error(`Expected a review, got HTTP ${result.status}`);
  return result.review.response;
}

/** A class stored under the original's CRDs without spec (its status may hold anything). */
function specless(finalizers: string[] = ["hostport.rmb938.com"]): Record<string, unknown> {
  return {
    apiVersion: "hostport.rmb938.com/v1alpha1",
    kind: "HostPortClass",
    metadata: { name: "sample", finalizers },
  };
}

Deno.test("HostPortClass webhook lets an admin repair or delete a class without spec", async (t) => {
  await t.step("adding the missing spec is judged on the new object alone", async () => {
    const fixed = hostPortClass("sample", [{ start: 9000, end: 9009 }]);
    assert.equal((await review("UPDATE", fixed, specless())).allowed, true);
    const bad = hostPortClass("sample", [{ start: 9009, end: 9000 }]);
    const refused = await review("UPDATE", bad, specless());
    assert.equal(refused.allowed, false);
    assert.equal(refused.status?.code, 422);
  });
  await t.step("removing the finalizer (neither object decodes) is allowed", async () => {
    assert.equal((await review("UPDATE", specless([]), specless())).allowed, true);
  });
  await t.step(
    "a new object that does not decode, with a changed spec, is still refused",
    async () => {
      const broken = { ...specless(), spec: { pools: "9000-9009" } };
      const refused = await review("UPDATE", broken, specless());
      assert.equal(refused.allowed, false);
      assert.equal(refused.status?.code, 400);
    },
  );
});

const LOOKUPS = fakeLookups({
  classes: [hostPortClass("c1", [{ start: 9000, end: 9002 }])],
  hostPorts: [
    hostPortFor("victim", 9000),
    hostPort("static1", { port: 9001 }),
    hostPort("other-class", { port: 9002, className: "c2" }),
    hostPort("going", { port: 9003, deleting: true }),
  ],
});

async function validateClaim(
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
  const result = await handleAdmission("validateHostPortClaim", body, lookups);
  if (result.kind !== "review") throw new Error(`Expected a review, got HTTP ${result.status}`);
  return result.review.response;
}

const CLAIM_HEAD = 'HostPortClaim.hostport.rmb938.com "s" is invalid: ';

Deno.test("HostPortClaim webhook refuses changes to immutable fields (S9)", async (t) => {
  const bound = claim("s", { hostPortName: "hpc-1" });
  const cases = [
    {
      name: "the class",
      object: claim("s", { hostPortName: "hpc-1", className: "c2" }),
      message: `${CLAIM_HEAD}spec.hostPortClassName: Forbidden: cannot change hostPortClassName`,
    },
    {
      name: "hostPortName once set",
      object: claim("s", { hostPortName: "other" }),
      message: `${CLAIM_HEAD}spec.hostPortName: Forbidden: cannot change hostPortName once set`,
    },
    {
      name: "hostPortName cleared",
      object: claim("s", { hostPortName: "" }),
      message: `${CLAIM_HEAD}spec.hostPortName: Forbidden: cannot change hostPortName once set`,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const response = await validateClaim(c.object, bound);
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
      message:
        `${CLAIM_HEAD}spec.hostPortName: Invalid value: "hpc-uid-victim": hostport is bound ` +
        "to another hostPortClaim",
    },
    {
      name: "of another class",
      hostPortName: "other-class",
      message: `${CLAIM_HEAD}spec.hostPortName: Invalid value: "other-class": hostport is of ` +
        'hostPortClass "c2", not "c1"',
    },
    {
      name: "being deleted",
      hostPortName: "going",
      message: `${CLAIM_HEAD}spec.hostPortName: Invalid value: "going": hostport is deleting`,
    },
  ];
  for (const c of cases) {
    await t.step(`on CREATE: ${c.name}`, async () => {
      const response = await validateClaim(claim("s", { hostPortName: c.hostPortName }));
      assert.equal(response.status?.message, c.message);
    });
    await t.step(`on UPDATE from empty: ${c.name}`, async () => {
      const response = await validateClaim(
        claim("s", { hostPortName: c.hostPortName }),
        claim("s", { hostPortName: "" }),
      );
      assert.equal(response.status?.message, c.message);
    });
  }
});

Deno.test("HostPortClaim webhook allows S9's and S16's bindings", async (t) => {
  await t.step("S16: a static HostPort without claimRef", async () => {
    const response = await validateClaim(claim("s", { hostPortName: "static1" }));
    assert.equal(response.allowed, true);
    assert.equal(response.warnings, undefined);
  });
  await t.step("S9: the operator binding a claim to its own HostPort", async () => {
    const response = await validateClaim(
      claim("victim", { hostPortName: "hpc-uid-victim" }),
      claim("victim", { hostPortName: "" }),
    );
    assert.equal(response.allowed, true);
  });
  await t.step("S16: a HostPort that does not exist yet, with a warning", async () => {
    const response = await validateClaim(claim("s", { hostPortName: "nosuch" }));
    assert.equal(response.allowed, true);
    assert.deepEqual(response.warnings, [
      'spec.hostPortName: HostPort "nosuch" does not exist; the claim stays Pending until it is created',
    ]);
  });
  await t.step("an update that keeps the binding needs no lookup", async () => {
    const bound = claim("s", { hostPortName: "hpc-uid-victim" });
    const response = await validateClaim(bound, bound, failingLookups("no lookups"));
    assert.equal(response.allowed, true);
  });
});

Deno.test("HostPortClaim webhook warns when the class does not exist", async () => {
  const response = await validateClaim(claim("s", { hostPortName: "", className: "nosuch" }));
  assert.equal(response.allowed, true);
  assert.deepEqual(response.warnings, [
    'spec.hostPortClassName: HostPortClass "nosuch" does not exist; the claim stays Pending ' +
    "until it is created",
  ]);
});

Deno.test("HostPortClaim webhook reports a failed HostPort lookup as an internal error", async () => {
  const response = await validateClaim(
    claim("s", { hostPortName: "static1" }),
    undefined,
    failingLookups("down"),
  );
  assert.equal(response.status?.message, `${CLAIM_HEAD}spec.hostPortName: Internal error: down`);
});

Deno.test("HostPortClaim webhook lets an admin repair or delete a claim it cannot decode", async (t) => {
  const broken = (finalizers: string[]) => ({
    apiVersion: "hostport.rmb938.com/v1alpha1",
    kind: "HostPortClaim",
    metadata: { name: "s", namespace: "ns1", finalizers },
    spec: { hostPortClassName: 7 },
  });
  await t.step("removing the finalizer (neither object decodes) is allowed", async () => {
    const response = await validateClaim(
      broken([]) as unknown as HostPortClaim,
      broken(["hostport.rmb938.com"]) as unknown as HostPortClaim,
    );
    assert.equal(response.allowed, true);
  });
  await t.step("fixing the spec is judged on the new object alone", async () => {
    const fixed = claim("s", { className: "c1" });
    const response = await validateClaim(fixed, broken([]) as unknown as HostPortClaim);
    assert.equal(response.allowed, true);
    const taken = claim("s", { className: "c1", hostPortName: "hpc-uid-victim" });
    const refused = await validateClaim(taken, broken([]) as unknown as HostPortClaim);
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
  const response = await validateClaim(claim("s", { hostPortName: "" }), undefined, lookups);
  assert.equal(response.allowed, false);
  assert.equal(response.status?.code, 403);
  assert.equal(response.status?.reason, "Forbidden");
  assert.equal(
    response.status?.message,
    `hostportclaims.hostport.rmb938.com "s" is forbidden: exceeded quota: tenant, requested: ` +
      `${resource}=1, used: ${resource}=2, limited: ${resource}=2`,
  );
  // A claim refused for another reason never reaches the quota (nor counts against it).
  const invalid = await validateClaim(
    claim("t", { hostPortName: "other-class" }),
    undefined,
    lookups,
  );
  assert.equal(invalid.status?.code, 422);
  // Updates are never checked: the class cannot change.
  const update = await validateClaim(
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
      const response = await validateClaim(
        claim("victim", { uid: "", hostPortName: "hpc-uid-victim" }),
      );
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
    const response = await validateClaim(claim("s", { hostPortName: "pre" }), undefined, lookups);
    assert.equal(response.allowed, true);
  });
});

const OPERATOR = "system:serviceaccount:hostport-allocator-system:hostport-allocator";

async function validateHostPort(
  object: unknown,
  oldObject?: unknown,
  who: { username?: string; operator?: string | undefined } = {},
): Promise<AdmissionResponse> {
  const operation = oldObject === undefined ? "CREATE" : "UPDATE";
  const username = who.username ?? OPERATOR;
  const body = admissionReview({ kind: CRD_KIND.HostPort, operation, object, oldObject, username });
  const operator = "operator" in who ? who.operator : OPERATOR;
  const result = await handleAdmission(
    "validateHostPort",
    body,
    failingLookups("x"),
    { operatorUsername: () => operator },
  );
  if (result.kind !== "review") throw new Error(`Expected a review, got HTTP ${result.status}`);
  return result.review.response;
}

const REF = { namespace: "ns1", name: "a", uid: "u1" };
const BOUND = hostPort("hp", { port: 9000, claimRef: REF });
const HOST_PORT_HEAD = 'HostPort.hostport.rmb938.com "hp" is invalid: ';

function withSpec(base: HostPort, spec: Partial<HostPort["spec"]>): HostPort {
  return { ...base, spec: { ...base.spec, ...spec } };
}

Deno.test("HostPort webhook refuses changes to immutable fields (S9)", async (t) => {
  const cases: { name: string; object: HostPort; old: HostPort; message: string }[] = [
    {
      name: "the class",
      object: withSpec(BOUND, { hostPortClassName: "c2" }),
      old: BOUND,
      message:
        `${HOST_PORT_HEAD}spec.hostPortClassName: Forbidden: cannot change hostPortClassName`,
    },
    {
      name: "another claim in claimRef",
      object: withSpec(BOUND, { claimRef: { ...REF, name: "b" } }),
      old: BOUND,
      message: `${HOST_PORT_HEAD}spec.claimRef: Forbidden: cannot change claimRef`,
    },
    {
      name: "claimRef removed",
      object: { ...BOUND, spec: { hostPortClassName: "c1" } },
      old: BOUND,
      message: `${HOST_PORT_HEAD}spec.claimRef: Forbidden: cannot change claimRef`,
    },
    {
      name: "the port",
      object: { ...BOUND, status: { phase: "Allocated", port: 9001 } },
      old: BOUND,
      message: `${HOST_PORT_HEAD}status.port: Forbidden: cannot change port`,
    },
    {
      name: "a port without the Allocated phase",
      object: hostPort("hp", { port: 9000, phase: "Pending" }),
      old: hostPort("hp"),
      message:
        `${HOST_PORT_HEAD}status.port: Invalid value: 9000: port can only be set when also ` +
        "setting the phase to Allocated",
    },
    {
      name: "several at once",
      object: withSpec(BOUND, { hostPortClassName: "c2", claimRef: { ...REF, uid: "u2" } }),
      old: BOUND,
      message:
        `${HOST_PORT_HEAD}[spec.hostPortClassName: Forbidden: cannot change hostPortClassName, ` +
        "spec.claimRef: Forbidden: cannot change claimRef]",
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const response = await validateHostPort(c.object, c.old);
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
  assert.equal(
    (await validateHostPort(withSpec(unbound, { claimRef: REF }), unbound)).allowed,
    true,
  );
});

Deno.test("HostPort webhook allows creates and updates that keep the immutable fields", async () => {
  assert.equal((await validateHostPort(BOUND)).allowed, true);
  const relabelled = { ...BOUND, metadata: { ...BOUND.metadata, labels: { a: "b" } } };
  assert.equal((await validateHostPort(relabelled, BOUND)).allowed, true);
  const allocated = hostPort("hp", { port: 9000, claimRef: REF });
  assert.equal(
    (await validateHostPort(allocated, withSpec(hostPort("hp"), { claimRef: REF }))).allowed,
    true,
  );
});

Deno.test("HostPort webhook lets only the operator write a port (issue #9 item 8)", async (t) => {
  const pending = withSpec(hostPort("hp"), { claimRef: REF });
  const allocated = withSpec(hostPort("hp", { port: 9000 }), { claimRef: REF });
  const refusal = `${HOST_PORT_HEAD}status.port: Forbidden: only the operator allocates ports`;
  await t.step("an admin or tenant setting the port is refused", async () => {
    for (const username of ["kubernetes-admin", "system:serviceaccount:ns1:default"]) {
      const response = await validateHostPort(allocated, pending, { username });
      assert.equal(response.allowed, false);
      assert.equal(response.status?.message, refusal);
    }
  });
  await t.step("moving the phase to Allocated without a port is refused too", async () => {
    const phaseOnly = { ...pending, status: { phase: "Allocated" } } as HostPort;
    const response = await validateHostPort(phaseOnly, pending, { username: "kubernetes-admin" });
    assert.equal(response.status?.message, refusal);
  });
  await t.step("the operator's own write is admitted", async () => {
    assert.equal((await validateHostPort(allocated, pending)).allowed, true);
  });
  await t.step("while the operator's username is unknown, nobody writes a port", async () => {
    const response = await validateHostPort(allocated, pending, { operator: undefined });
    assert.equal(response.status?.message, refusal);
  });
  await t.step("others may still change what holds no port", async () => {
    const labelled = { ...allocated, metadata: { ...allocated.metadata, labels: { a: "b" } } };
    const pendingPhase = { ...pending, status: { phase: "Pending" } } as HostPort;
    const username = "kubernetes-admin";
    assert.equal((await validateHostPort(labelled, allocated, { username })).allowed, true);
    assert.equal((await validateHostPort(pendingPhase, pending, { username })).allowed, true);
  });
});

Deno.test("HostPort webhook never blocks repairs of a HostPort it cannot decode", async (t) => {
  const broken = { ...hostPort("hp"), spec: { hostPortClassName: 7 } };
  const username = "kubernetes-admin";
  await t.step("an old object that does not decode is judged on the new one", async () => {
    assert.equal((await validateHostPort(hostPort("hp"), broken, { username })).allowed, true);
    const stolen = await validateHostPort(hostPort("hp", { port: 9000 }), broken, { username });
    assert.equal(
      stolen.status?.message,
      `${HOST_PORT_HEAD}status.port: Forbidden: only the operator allocates ports`,
    );
  });
  await t.step("removing the finalizer of one where neither decodes is admitted", async () => {
    const held = {
      ...broken,
      metadata: { ...broken.metadata, finalizers: ["hostport.rmb938.com"] },
    };
    assert.equal((await validateHostPort(broken, held, { username })).allowed, true);
  });
  await t.step("changing the spec of one where neither decodes is still refused", async () => {
    const other = { ...broken, spec: { hostPortClassName: 8 } };
    assert.equal((await validateHostPort(other, broken, { username })).status?.code, 400);
  });
});

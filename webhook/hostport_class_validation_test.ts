import assert from "node:assert/strict";
import type { HostPortClass } from "../lib/api/mod.ts";
import {
  admissionReview,
  CRD_KIND,
  failingLookups,
  fakeLookups,
  hostPortClass,
} from "./fixtures_test.ts";
import { handleAdmission } from "./handler.ts";
import type { AdmissionLookups } from "./lookups.ts";
import { WEBHOOK_PATHS } from "./paths.ts";
import type { AdmissionResponse } from "./review.ts";

type Pools = { start: number; end: number }[];

async function validate(
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
  const result = await handleAdmission(WEBHOOK_PATHS.validateHostPortClass, body, lookups);
  if (result.kind !== "review") throw new Error(`Expected a review, got HTTP ${result.status}`);
  return result.review.response;
}

const HEAD = 'HostPortClass.hostport.rmb938.com "sample" is invalid: ';

Deno.test("HostPortClass webhook refuses bad pools with 422 Invalid", async (t) => {
  const cases: { name: string; pools: Pools; message: string }[] = [
    {
      name: "S8: end before start, with the original's exact message",
      pools: [{ start: 9100, end: 9000 }],
      message:
        `${HEAD}spec.pools[0].end: Invalid value: 9000: End must be greater or equal to start`,
    },
    {
      name: "no pools",
      pools: [],
      message: `${HEAD}spec.pools: Required value: At least one pool is required`,
    },
    {
      name: "pools overlapping within the class",
      pools: [{ start: 9000, end: 9100 }, { start: 9050, end: 9200 }],
      message: `${HEAD}spec.pools[1]: Invalid value: "9050-9200": Pool 1 (9050-9200) overlaps ` +
        "pool 0 (9000-9100) on ports 9050-9100",
    },
    {
      name: "a bound that is not a port, beside an inverted pool",
      pools: [{ start: 0, end: 10 }, { start: 20, end: 10 }],
      message: `${HEAD}[spec.pools[0].start: Invalid value: 0: Start must be an integer from 1 ` +
        "to 65535, got 0, spec.pools[1].end: Invalid value: 10: End must be greater or equal to start]",
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const response = await validate(c.pools);
      assert.equal(response.allowed, false);
      assert.equal(response.status?.code, 422);
      assert.equal(response.status?.reason, "Invalid");
      assert.equal(response.status?.message, c.message);
    });
  }
});

Deno.test("HostPortClass webhook gives causes with reason, message and field", async () => {
  const response = await validate([{ start: 9100, end: 9000 }]);
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
  const shrink = await validate([{ start: 9000, end: 9001 }], {
    old: [{ start: 9000, end: 9002 }],
  });
  assert.equal(shrink.allowed, true);
  // A class stored by the original may hold overlapping pools; its finalizer must still come off.
  const legacy = [{ start: 9000, end: 9100 }, { start: 9050, end: 9200 }];
  assert.equal((await validate(legacy, { old: legacy })).allowed, true);
});

Deno.test("HostPortClass webhook warns about risky but legal pools", async () => {
  const others: HostPortClass[] = [
    hostPortClass("sample", [{ start: 1, end: 65535 }]), // itself: skipped
    hostPortClass("games", [{ start: 9050, end: 9060 }, { start: 9070, end: 9070 }]),
    hostPortClass("far", [{ start: 20000, end: 20010 }]),
  ];
  const response = await validate(
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
  const response = await validate([{ start: 9000, end: 9100 }], {
    lookups: failingLookups("timeout"),
  });
  assert.equal(response.allowed, true);
  assert.deepEqual(response.warnings, [
    "spec.pools: cannot check for ports shared with other HostPortClasses: timeout",
  ]);
});

Deno.test("HostPortClass webhook sends no warnings for a plain class", async () => {
  const response = await validate([{ start: 9000, end: 9100 }]);
  assert.equal(response.allowed, true);
  assert.equal(response.warnings, undefined);
});

async function review(
  operation: "CREATE" | "UPDATE",
  object: unknown,
  oldObject?: unknown,
): Promise<AdmissionResponse> {
  const body = admissionReview({ kind: CRD_KIND.HostPortClass, operation, object, oldObject });
  const result = await handleAdmission(WEBHOOK_PATHS.validateHostPortClass, body, fakeLookups());
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

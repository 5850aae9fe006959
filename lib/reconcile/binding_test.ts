import assert from "node:assert/strict";
import { isClaimGone, isDynamicHostPort } from "./binding.ts";
import { claim, claimRef, hostPort, named } from "../../tests/reconcile_fixtures.ts";

Deno.test("isDynamicHostPort() is true only for hpc-<uid of its claimRef>", () => {
  assert.equal(isDynamicHostPort(hostPort()), true);
  assert.equal(isDynamicHostPort(hostPort(named("static1"))), false);
  assert.equal(isDynamicHostPort(hostPort(claimRef(undefined))), false);
  assert.equal(isDynamicHostPort(hostPort(claimRef({ namespace: "ns1", name: "a" }))), false);
});

Deno.test("isClaimGone() is true for a missing claim or one with another uid", () => {
  assert.equal(isClaimGone(hostPort(), undefined), true);
  assert.equal(isClaimGone(hostPort(), claim()), false);
  const recreated = claim((c) => ({ ...c, metadata: { ...c.metadata, uid: "new" } }));
  assert.equal(isClaimGone(hostPort(), recreated), true);
  assert.equal(isClaimGone(hostPort(claimRef(undefined)), undefined), false, "no claimRef");
});

import assert from "node:assert/strict";
import { claim, fakeLookups, hostPortFor } from "./_fixtures.ts";
import { lookupClaims, settle } from "./claim_lookup.ts";

Deno.test("lookupClaims() looks each claim up once, and a HostPort only when the claim names one", async () => {
  const lookups = fakeLookups({
    claims: [claim("a"), claim("b", { hostPortName: "" })],
    hostPorts: [hostPortFor("a", 9000)],
  });
  const states = await lookupClaims(lookups, "ns1", ["a", "b", "a", "c"]);
  assert.deepEqual(lookups.calls.sort(), [
    "claim ns1/a",
    "claim ns1/b",
    "claim ns1/c",
    "hostPort hpc-uid-a",
  ]);
  assert.equal(states.get("a")?.hostPort?.ok, true);
  assert.equal(states.get("b")?.hostPort, undefined);
  assert.deepEqual(states.get("c"), { claim: { ok: true, value: undefined } });
});

Deno.test("settle() keeps rejections and synchronous throws as values", async () => {
  const error = new Error("x");
  assert.deepEqual(await settle(() => Promise.reject(error)), { ok: false, error });
  assert.deepEqual(
    await settle(() => {
      throw error;
    }),
    { ok: false, error },
  );
  assert.deepEqual(await settle(() => Promise.resolve(1)), { ok: true, value: 1 });
});

import assert from "node:assert/strict";
import type { HostPort, HostPortClaim, HostPortClass } from "../lib/api/mod.ts";
import { Store } from "../lib/kube/mod.ts";
import { claim, hostPortFor } from "./fixtures_test.ts";
import type { ResourceQuota } from "kubernetes-types/core/v1.d.ts";
import {
  cachedAdmissionLookups,
  claimQuotaAdmission,
  type LiveReaders,
  PENDING_ADMISSION_TTL_MS,
} from "./server_lookups.ts";

function stores(claims: HostPortClaim[], hostPorts: HostPort[]) {
  const claimStore = new Store<HostPortClaim>();
  const hostPortStore = new Store<HostPort>();
  for (const object of claims) claimStore.apply({ type: "apply", object });
  for (const object of hostPorts) hostPortStore.apply({ type: "apply", object });
  return { claims: claimStore, hostPorts: hostPortStore, classes: new Store<HostPortClass>() };
}

/** Live readers answering from fixed objects (or failing), recording each read. */
function live(claims: HostPortClaim[] | Error, hostPorts: HostPort[] = []) {
  const reads: string[] = [];
  const readers: LiveReaders = {
    claims: {
      get(name) {
        reads.push(`claim ${name}`);
        if (claims instanceof Error) return Promise.reject(claims);
        const found = claims.find((c) => c.metadata.name === name);
        return found ? Promise.resolve(found) : Promise.reject(new Error("missing"));
      },
    },
    hostPorts: {
      get(name) {
        reads.push(`hostPort ${name}`);
        const found = hostPorts.find((h) => h.metadata.name === name);
        return found ? Promise.resolve(found) : Promise.reject(new Error("missing"));
      },
    },
  };
  return { reads, readers };
}

Deno.test("cachedAdmissionLookups() reads claims live, never from a cache that may be stale", async () => {
  const cached = stores([claim("a")], []);
  const deleting = claim("a", { deleting: true });
  const { reads, readers } = live([deleting]);
  const lookups = cachedAdmissionLookups(cached, readers);
  assert.equal(
    (await lookups.getClaim("ns1", "a"))?.metadata.deletionTimestamp !== undefined,
    true,
  );
  assert.deepEqual(reads, ["claim a"]);
});

Deno.test("cachedAdmissionLookups() fails a claim read that fails live (fail closed)", async () => {
  const { readers } = live(new Error("the API server is down"));
  const lookups = cachedAdmissionLookups(stores([claim("a")], []), readers);
  await assert.rejects(lookups.getClaim("ns1", "a"), /the API server is down/);
});

Deno.test("cachedAdmissionLookups() answers a usable HostPort from the cache", async () => {
  const hostPort = hostPortFor("a", 9000);
  const { reads, readers } = live([], []);
  const lookups = cachedAdmissionLookups(stores([], [hostPort]), readers);
  assert.equal((await lookups.getHostPort(hostPort.metadata.name ?? ""))?.status?.port, 9000);
  assert.deepEqual(reads, []);
});

const C1_KEY = "c1.hostportclass.hostport.rmb938.com/hostportclaims";

/** A claim quota check over a cache holding `cached` and one quota of `limit` claims of c1. */
function quotaCheck(cached: HostPortClaim[], limit: number) {
  const claims = new Store<HostPortClaim>();
  for (const object of cached) claims.apply({ type: "apply", object });
  const quotas = new Store<ResourceQuota>();
  quotas.apply({
    type: "apply",
    object: { metadata: { name: "q", namespace: "ns1" }, spec: { hard: { [C1_KEY]: `${limit}` } } },
  });
  const clock = { ms: 0 };
  const refused: string[] = [];
  const check = claimQuotaAdmission({
    claims,
    quotas,
    now: () => clock.ms,
    refusals: { inc: (labels) => void refused.push(JSON.stringify(labels)) },
  });
  return { check, claims, clock, refused };
}

Deno.test("claimQuotaAdmission() counts the claims it admitted before the cache shows them", () => {
  const { check, refused } = quotaCheck([claim("old")], 3);
  const wet = { dryRun: false };
  assert.equal(check.admit(claim("a"), wet), undefined);
  assert.equal(check.admit(claim("b"), wet), undefined);
  assert.deepEqual(check.admit(claim("c"), wet), {
    quota: "q",
    resource: C1_KEY,
    used: 3,
    limit: 3,
  });
  assert.equal(check.admit(claim("b"), wet), undefined, "a retried create of b is b, not one more");
  assert.equal(check.admit(claim("x", { className: "c2" }), wet), undefined, "another class");
  assert.equal(check.admit(claim("y", { namespace: "ns2" }), wet), undefined, "another namespace");
  assert.deepEqual(refused, ['{"namespace":"ns1","class":"c1"}'], "the refusal is counted");
});

Deno.test("claimQuotaAdmission() does not count dry runs, and forgets admissions once cached or when they never land", () => {
  const { check, claims, clock } = quotaCheck([], 2);
  assert.equal(check.admit(claim("dry"), { dryRun: true }), undefined);
  assert.equal(check.admit(claim("a"), { dryRun: false }), undefined);
  assert.equal(check.admit(claim("b"), { dryRun: false }), undefined);
  assert.equal(check.admit(claim("c"), { dryRun: false })?.used, 2);
  claims.apply({ type: "apply", object: claim("a") }); // a landed: counted once, from the cache
  check.cached(claim("a"));
  assert.equal(check.admit(claim("c"), { dryRun: false })?.used, 2);
  claims.apply({ type: "delete", object: claim("a") }); // and went: it counts no more
  assert.equal(check.admit(claim("c"), { dryRun: false }), undefined);
  assert.equal(check.admit(claim("d"), { dryRun: false })?.used, 2, "b and c");
  clock.ms = PENDING_ADMISSION_TTL_MS + 1; // b and c were refused later in the chain
  assert.equal(check.admit(claim("d"), { dryRun: false }), undefined);
});

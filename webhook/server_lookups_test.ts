import assert from "node:assert/strict";
import type { HostPort, HostPortClaim, HostPortClass } from "../lib/api/mod.ts";
import { Store } from "../lib/kube/mod.ts";
import { claim, hostPortFor } from "./_fixtures.ts";
import { cachedAdmissionLookups, type LiveReaders } from "./server_lookups.ts";

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

Deno.test("cachedAdmissionLookups() without live readers answers from the caches", async () => {
  const lookups = cachedAdmissionLookups(stores([claim("a")], []));
  assert.equal((await lookups.getClaim("ns1", "a"))?.metadata.name, "a");
});

/**
 * lib/allocation against a real kube-apiserver + etcd: two processes racing on one allocation
 * record never hand out a port twice, group commit really batches, a missing record is created
 * from the ports existing HostPorts hold (migration from the original operator), and repair frees
 * a leaked port only on the second pass, once past the holdoff, never a held one.
 */
import assert from "node:assert/strict";
import type { HostPort, HostPortClass } from "../lib/api/mod.ts";
import {
  AllocationRecord,
  AllocationRepair,
  ClusterPortAllocator,
  ConfigMapRecordStore,
  liveHostPortClassLister,
  liveHostPortLister,
  type ReserveOutcome,
} from "../lib/allocation/mod.ts";
import { HOST_PORT_CLASS_RESOURCE, HOST_PORT_RESOURCE } from "../lib/kube/resource.ts";
import { ResourceClient } from "../lib/kube/resource.ts";
import { KubeRestClient } from "../lib/kube/rest_client.ts";
import { type ControlPlane, startControlPlane } from "./controlplane/harness.ts";
import { closing, namespaces } from "./core_clients.ts";
import { CountingRecordStore } from "./fake_record_store.ts";

/** One "operator process": its own client (own connections) and its own record. */
function processClient(cp: ControlPlane): KubeRestClient & Disposable {
  return closing(
    new KubeRestClient({
      server: cp.url,
      caPem: cp.caPem,
      clientCertificate: { certPem: cp.adminCertPem, keyPem: cp.adminKeyPem },
      auth: { type: "none" },
    }),
  );
}

async function createNamespace(client: KubeRestClient, name: string): Promise<void> {
  await namespaces({ rest: client }).create({
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name },
  });
}

/** Deterministic pseudo-random numbers (a linear congruential generator). */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

/** `count` distinct ports of `start..start+size-1`, in random order. */
function samplePorts(random: () => number, start: number, size: number, count: number): number[] {
  const ports = Array.from({ length: size }, (_, i) => start + i);
  for (let i = ports.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [ports[i], ports[j]] = [ports[j] as number, ports[i] as number];
  }
  return ports.slice(0, count);
}

/** Runs `jobs` with `workers` concurrent workers, each awaiting one job at a time (like reconciles). */
async function runWorkers<T>(jobs: (() => Promise<T>)[], workers: number): Promise<T[]> {
  const results: T[] = new Array(jobs.length);
  let next = 0;
  await Promise.all(Array.from({ length: workers }, async () => {
    while (next < jobs.length) {
      const index = next++;
      results[index] = await (jobs[index] as () => Promise<T>)();
    }
  }));
  return results;
}

function recordStore(client: KubeRestClient, namespace: string): ConfigMapRecordStore {
  return new ConfigMapRecordStore(client, { namespace });
}

async function storedPorts(client: KubeRestClient, namespace: string): Promise<number[]> {
  const stored = await recordStore(client, namespace).read();
  return stored ? stored.bits.toArray() : [];
}

function hostPortObject(name: string): HostPort {
  return {
    apiVersion: "hostport.rmb938.com/v1alpha1",
    kind: "HostPort",
    metadata: { name },
    spec: { hostPortClassName: "alloc-games" },
  };
}

/** Creates HostPorts holding `held` (name to port) the way the original operator left them. */
async function createHeldHostPorts(client: KubeRestClient, held: Record<string, number>) {
  const hostPorts = new ResourceClient(client, HOST_PORT_RESOURCE);
  for (const [name, port] of Object.entries(held)) {
    const created = await hostPorts.create(hostPortObject(name));
    await hostPorts.updateStatus({ ...created, status: { phase: "Allocated", port } });
  }
}

async function deleteHostPorts(client: KubeRestClient, names: string[]): Promise<void> {
  const hostPorts = new ResourceClient(client, HOST_PORT_RESOURCE);
  for (const name of names) await hostPorts.delete(name);
}

Deno.test("lib/allocation on a real kube-apiserver", async (t) => {
  await using cp = await startControlPlane();
  using a = processClient(cp);
  using b = processClient(cp);
  const classes = new ResourceClient(a, HOST_PORT_CLASS_RESOURCE);
  const games: HostPortClass = {
    apiVersion: "hostport.rmb938.com/v1alpha1",
    kind: "HostPortClass",
    metadata: { name: "alloc-games" },
    spec: { pools: [{ start: 9100, end: 9199 }] },
  };
  await classes.create(games);

  await t.step("two records racing 500 reservations each never both get a port", async () => {
    const namespace = "alloc-race";
    await createNamespace(a, namespace);
    const stores = [a, b].map((client) => new CountingRecordStore(recordStore(client, namespace)));
    const records = stores.map((store) => new AllocationRecord(store));
    const wanted = [
      samplePorts(lcg(1), 20000, 1000, 500),
      samplePorts(lcg(2), 20000, 1000, 500),
    ];
    const outcomes: ReserveOutcome[][] = await Promise.all(
      records.map((record, i) =>
        runWorkers((wanted[i] as number[]).map((port) => () => record.reserve(port)), 20)
      ),
    );
    const winners = new Map<number, number>();
    wanted.forEach((ports, i) =>
      ports.forEach((port, j) => {
        if (outcomes[i]?.[j]?.ok) winners.set(port, (winners.get(port) ?? 0) + 1);
      })
    );
    assert.ok([...winners.values()].every((count) => count === 1), "a port was reserved twice");
    const union = new Set([...(wanted[0] as number[]), ...(wanted[1] as number[])]);
    assert.equal(winners.size, union.size, "every wanted port is reserved by exactly one process");
    assert.deepEqual(await storedPorts(a, namespace), [...winners.keys()].sort((x, y) => x - y));
    const unknown = outcomes.flat().filter((o) => !o.ok && o.reason === "unknown").length;
    assert.equal(unknown, 0);
    for (const [i, { writes, commits, conflicts }] of stores.entries()) {
      console.log(
        `process ${"ab"[i]}: 500 reservations, ${writes} record writes (${commits} committed, ` +
          `${conflicts} conflicts), ${(writes / 500).toFixed(3)} writes per reservation`,
      );
      assert.ok(writes * 5 < 500, `group commit should batch: ${writes} writes`);
    }
  });

  await t.step(
    "two allocators handing out 500 ports each over 1,000 ports never collide",
    async () => {
      const namespace = "alloc-services";
      await createNamespace(a, namespace);
      const pools = [{ start: 30000, end: 30999 }];
      const allocators = [a, b].map((client) => {
        const store = new CountingRecordStore(recordStore(client, namespace));
        const record = new AllocationRecord(store);
        return { store, record, allocator: new ClusterPortAllocator({ record }) };
      });
      for (const { record, allocator } of allocators) {
        await record.refresh();
        allocator.resync([]);
      }
      const ports = await Promise.all(allocators.map(({ allocator }, i) =>
        runWorkers(
          Array.from({ length: 500 }, (_, j) => async () => {
            const outcome = await allocator.allocate(`hp-${i}-${j}`, pools);
            return outcome.ok ? outcome.port : 0;
          }),
          20,
        )
      ));
      const all = ports.flat();
      assert.ok(all.every((port) => port !== 0), "no allocation may fail while ports are free");
      assert.equal(new Set(all).size, 1000, "1,000 allocations, 1,000 distinct ports");
      assert.deepEqual(await storedPorts(a, namespace), all.toSorted((x, y) => x - y));
      for (const [i, { store: { writes, conflicts } }] of allocators.entries()) {
        console.log(
          `allocator ${i}: 500 claims, ${writes} record writes (${conflicts} conflicts), ` +
            `${(writes / 500).toFixed(3)} writes per claim`,
        );
      }
    },
  );

  await t.step("repair creates a missing record reserving exactly the held ports", async () => {
    const namespace = "alloc-migrate";
    await createNamespace(a, namespace);
    const held = { "legacy-a": 9100, "legacy-b": 9101, "legacy-c": 9150 };
    await createHeldHostPorts(a, held);
    try {
      assert.equal(await new ConfigMapRecordStore(a, { namespace }).read(), undefined);
      const record = new AllocationRecord(new ConfigMapRecordStore(a, { namespace }));
      const findings = await new AllocationRepair({
        record,
        listHostPorts: liveHostPortLister(a),
        listHostPortClasses: liveHostPortClassLister(a),
      }).runOnce();
      assert.deepEqual(findings.reserved, [9100, 9101, 9150]);
      assert.deepEqual(await storedPorts(b, namespace), [9100, 9101, 9150]);
      // A second process now gets the first port nobody holds.
      const second = new AllocationRecord(new ConfigMapRecordStore(b, { namespace }));
      const allocator = new ClusterPortAllocator({ record: second });
      await second.refresh();
      allocator.resync([]);
      const outcome = await allocator.allocate("hp-new", games.spec.pools);
      assert.equal(outcome.ok && outcome.port, 9102);
    } finally {
      await deleteHostPorts(a, Object.keys(held));
    }
  });

  await t.step("repair frees a leak on the second pass once past the holdoff", async () => {
    const namespace = "alloc-repair";
    await createNamespace(a, namespace);
    await createHeldHostPorts(a, { "owner-a": 9120 });
    try {
      const record = new AllocationRecord(new ConfigMapRecordStore(a, { namespace }));
      assert.deepEqual(await record.reserve(9125), { ok: true }); // reserved, written nowhere
      const clock = { now: 0 };
      const repair = new AllocationRepair({
        record: new AllocationRecord(new ConfigMapRecordStore(b, { namespace })),
        listHostPorts: liveHostPortLister(b),
        listHostPortClasses: liveHostPortClassLister(b),
        now: () => clock.now,
      });
      const stored: number[][] = [];
      for (const now of [0, 90_000, 90_001]) {
        clock.now = now;
        const findings = await repair.runOnce();
        assert.ok(!findings.leakCandidates.includes(9120), "a held port is never a candidate");
        stored.push(await storedPorts(a, namespace));
      }
      assert.deepEqual(stored, [[9120, 9125], [9120, 9125], [9120]]);
    } finally {
      await deleteHostPorts(a, ["owner-a"]);
    }
  });
});

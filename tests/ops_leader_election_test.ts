/**
 * Leader election against a real kube-apiserver: one leader among candidates, takeover after
 * the leader stops renewing (only once its Lease ran out), immediate takeover after a graceful
 * release, and a leader cut off from the API server stepping down. Timings are shortened; the
 * assertions are about the order of events, read from the Lease itself.
 */
import assert from "node:assert/strict";
import type { Lease } from "kubernetes-types/coordination/v1.d.ts";
import { createKubeClients, KubeRestClient, loadClusterConfig } from "../lib/kube/mod.ts";
import { LeaderElector } from "../lib/ops/leader_election.ts";
import { PrometheusRegistry } from "../lib/ops/metrics_registry.ts";
import { eventually } from "./controller_harness.ts";
import { memoryLogger, seriesValue } from "./controller_ops_fakes.ts";
import { startControlPlane } from "./controlplane/harness.ts";
import { namespaces } from "./core_clients.ts";

const NAMESPACE = "ops-election";
/** Short timings, with a renew deadline that a renewal slowed by a loaded machine still meets. */
const FAST = { leaseDurationMs: 6_000, renewDeadlineMs: 4_000, retryPeriodMs: 300 };

/** Fails instead of hanging when `promise` takes longer than `ms`. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out: ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function millis(time: string | undefined): number {
  assert.ok(time, "the Lease carries the time");
  return Date.parse(time.replace(/(\.\d{3})\d*Z$/, "$1Z"));
}

Deno.test("LeaderElector on a real API server", async (t) => {
  await using cp = await startControlPlane({ crds: false });
  const config = await loadClusterConfig({ kubeconfig: cp.kubeconfigPath });
  const rests: KubeRestClient[] = [];
  /** What each candidate shows a user: its metrics and its log lines. */
  const outputs = new Map<LeaderElector, { metrics: PrometheusRegistry; lines: string[] }>();
  function candidate(identity: string, lease: string, timings = FAST) {
    const rest = new KubeRestClient(config);
    rests.push(rest);
    const kube = createKubeClients(rest);
    const metrics = new PrometheusRegistry();
    const lines: string[] = [];
    const elector = new LeaderElector({
      leases: kube.leases,
      namespace: NAMESPACE,
      name: lease,
      identity,
      ...timings,
      metrics,
      logger: memoryLogger(lines, {}, "none"),
    });
    outputs.set(elector, { metrics, lines });
    return elector;
  }
  /** Whether `elector` leads `lease`, read from its `leader_election_master_status`. */
  async function leads(elector: LeaderElector, lease = "lock"): Promise<boolean> {
    const exposition = await outputs.get(elector)!.metrics.expose();
    return seriesValue(exposition, `leader_election_master_status{name="${lease}"}`) === 1;
  }
  const admin = createKubeClients(new KubeRestClient(config));
  const readLease = (name: string): Promise<Lease> =>
    admin.leases.get(name, { namespace: NAMESPACE });
  /** Waits for the next renewal of Lease `name` after `previous`, and returns the Lease. */
  const nextRenewal = (name: string, previous: Lease): Promise<Lease> =>
    eventually(`a renewal of Lease ${name}`, async () => {
      const lease = await readLease(name);
      return lease.spec?.renewTime !== previous.spec?.renewTime ? lease : undefined;
    }, 20_000);
  await namespaces(admin).create({
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name: NAMESPACE },
  });
  const stopAll = new AbortController();

  try {
    const a = candidate("a", "lock");
    const b = candidate("b", "lock");
    let leader: LeaderElector;
    let standby: LeaderElector;
    let standbyAcquired: Promise<boolean>;
    const leaderStop = new AbortController();
    let standbyHolding: Promise<string>;

    await t.step("two candidates: exactly one leads and keeps the Lease", async () => {
      const attempts = [a, b].map((elector) => elector.acquire(stopAll.signal).then(() => elector));
      leader = await within(Promise.race(attempts), 20_000, "a first leader");
      standby = leader === a ? b : a;
      standbyAcquired = attempts[leader === a ? 1 : 0]!.then(() => leads(standby));
      const holding = leader.holdUntilLost(leaderStop.signal);
      let lease = await readLease("lock");
      for (let i = 0; i < 8; i++) {
        lease = await nextRenewal("lock", lease);
        assert.deepEqual([await leads(leader), await leads(standby)], [true, false]);
        assert.equal(lease.spec?.holderIdentity, leader === a ? "a" : "b");
      }
      assert.equal(lease.spec?.leaseTransitions, 0);
      assert.ok(
        millis(lease.spec?.renewTime) > millis(lease.spec?.acquireTime),
        "the leader renews",
      );
      leaderStop.signal.addEventListener("abort", () => void holding);
    });

    await t.step(
      "a leader that stops renewing is replaced only after its Lease ran out",
      async () => {
        // Stop renewing without releasing, as a crashed leader would.
        leaderStop.abort();
        const stopped = await readLease("lock");
        assert.equal(stopped.spec?.holderIdentity, leader === a ? "a" : "b");
        assert.ok(await within(standbyAcquired, 20_000, "the standby takes over"));
        standbyHolding = standby.holdUntilLost(stopAll.signal);
        const taken = await readLease("lock");
        assert.equal(taken.spec?.holderIdentity, standby === a ? "a" : "b");
        assert.equal(taken.spec?.leaseTransitions, 1);
        const expiry = millis(stopped.spec?.renewTime) +
          (stopped.spec?.leaseDurationSeconds ?? 0) * 1000;
        assert.ok(
          millis(taken.spec?.acquireTime) >= expiry,
          "taken over after the old Lease expired",
        );
      },
    );

    await t.step(
      "a graceful release hands over at the next attempt, not after the Lease",
      async () => {
        const slow = { leaseDurationMs: 60_000, renewDeadlineMs: 40_000, retryPeriodMs: 300 };
        const first = candidate("first", "handover", slow);
        const second = candidate("second", "handover", slow);
        assert.ok(await within(first.acquire(stopAll.signal), 20_000, "first acquires"));
        const secondAcquired = second.acquire(stopAll.signal);
        await eventually(
          "the standby to find the Lease held",
          () => outputs.get(second)!.lines.find((line) => line.includes('"holder":"first"')),
        );
        assert.equal(await leads(second, "handover"), false, "the standby waits while it is held");
        assert.ok(await first.release());
        const released = await readLease("handover");
        assert.equal(released.spec?.holderIdentity, "");
        assert.ok(await within(secondAcquired, 20_000, "second acquires"));
        const taken = await readLease("handover");
        assert.equal(taken.spec?.holderIdentity, "second");
        assert.equal(taken.spec?.leaseTransitions, 1);
        const heldUntil = millis(released.spec?.renewTime) + slow.leaseDurationMs;
        assert.ok(millis(taken.spec?.acquireTime) < heldUntil, "did not wait out the 60 s Lease");
      },
    );

    await t.step("a leader cut off from the API server steps down", async () => {
      const current = standby;
      assert.ok(await leads(current), "still leading: its renewals succeed");
      await cp.stopApiServer();
      try {
        assert.equal(await within(standbyHolding, 20_000, "the leader steps down"), "lost");
        assert.equal(await leads(current), false);
      } finally {
        await cp.startApiServer();
      }
    });
  } finally {
    stopAll.abort();
    for (const rest of rests) rest.close();
    (admin.rest as KubeRestClient).close();
  }
});

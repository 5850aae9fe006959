import assert from "node:assert/strict";
import type { Lease } from "kubernetes-types/coordination/v1.d.ts";
import { AlreadyExistsError, ConflictError, NotFoundError } from "../kube/mod.ts";
import { fakeClock } from "../kube/_fake_clock.ts";
import { LeaderElector } from "./leader_elector.ts";

/** One Lease store with resourceVersions, seen through per-candidate connections. */
class LeaseStore {
  #leases = new Map<string, Lease>();
  #version = 0;

  connect() {
    const link = { down: false };
    const check = () => {
      if (link.down) throw new Error("connection refused");
    };
    const get = (name: string): Promise<Lease> => {
      check();
      const lease = this.#leases.get(name);
      if (!lease) return Promise.reject(new NotFoundError({ code: 404, reason: "NotFound" }));
      return Promise.resolve(structuredClone(lease));
    };
    const create = (lease: Lease): Promise<Lease> => {
      check();
      if (this.#leases.has(lease.metadata!.name!)) {
        return Promise.reject(new AlreadyExistsError({ code: 409, reason: "AlreadyExists" }));
      }
      return Promise.resolve(this.#write(lease));
    };
    const update = (lease: Lease): Promise<Lease> => {
      check();
      const current = this.#leases.get(lease.metadata!.name!);
      if (current?.metadata?.resourceVersion !== lease.metadata?.resourceVersion) {
        return Promise.reject(new ConflictError({ code: 409, reason: "Conflict" }));
      }
      return Promise.resolve(this.#write(lease));
    };
    return { link, client: { get, create, update } };
  }

  holder(name: string): string | undefined {
    return this.#leases.get(name)?.spec?.holderIdentity;
  }

  #write(lease: Lease): Lease {
    const stored = {
      ...structuredClone(lease),
      metadata: { ...lease.metadata, resourceVersion: String(++this.#version) },
    };
    this.#leases.set(lease.metadata!.name!, stored);
    return structuredClone(stored);
  }
}

function candidates(count: number) {
  const { clock, fake } = fakeClock(1_000_000);
  const store = new LeaseStore();
  const list = Array.from({ length: count }, (_, i) => {
    const { client, link } = store.connect();
    const elector = new LeaderElector({
      leases: client,
      namespace: "ops",
      name: "lock",
      identity: `candidate-${i}`,
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
      clock,
      random: () => 0,
    });
    return { elector, link };
  });
  return { store, fake, clock, list };
}

Deno.test("LeaderElector: of two candidates exactly one leads, and keeps leading while it renews", async () => {
  const { store, fake, list } = candidates(2);
  const stop = new AbortController();
  const acquired = list.map(({ elector }) => elector.acquire(stop.signal));
  await fake.tickAsync(0);
  const leaders = list.filter(({ elector }) => elector.isLeader);
  assert.equal(leaders.length, 1);
  const leader = leaders[0]!.elector;
  const holding = leader.holdUntilLost(stop.signal);
  for (let i = 0; i < 30; i++) {
    await fake.tickAsync(1_000);
    assert.equal(list.filter(({ elector }) => elector.isLeader).length, 1);
    assert.equal(store.holder("lock"), leader.identity);
  }
  stop.abort();
  assert.equal(await holding, "stopped");
  assert.deepEqual((await Promise.all(acquired)).sort(), [false, true]);
});

Deno.test("LeaderElector: a leader that cannot renew steps down before anyone else takes over", async () => {
  const { store, fake, clock, list } = candidates(2);
  const stop = new AbortController();
  const [first, second] = list as [typeof list[0], typeof list[0]];
  await first.elector.acquire(stop.signal);
  let lostAt = 0;
  const holding = first.elector.holdUntilLost(stop.signal).then((outcome) => {
    lostAt = clock.now();
    return outcome;
  });
  let acquiredAt = 0;
  const waiting = second.elector.acquire(stop.signal).then((ok) => {
    acquiredAt = clock.now();
    return ok;
  });
  await fake.tickAsync(3_000);
  const lastRenewal = clock.now() - (clock.now() % 2_000);
  first.link.down = true; // the leader loses its connection
  await fake.tickAsync(40_000);
  assert.equal(await holding, "lost");
  assert.equal(await waiting, true);
  assert.equal(first.elector.isLeader, false);
  assert.equal(store.holder("lock"), "candidate-1");
  assert.ok(lostAt >= lastRenewal + 10_000, "not before the renew deadline");
  assert.ok(lostAt < acquiredAt, "the old leader stopped before the new one started");
  stop.abort();
});

Deno.test("LeaderElector.release() lets a standby take over without waiting out the lease", async () => {
  const { store, fake, clock, list } = candidates(2);
  const stop = new AbortController();
  const [first, second] = list as [typeof list[0], typeof list[0]];
  await first.elector.acquire(stop.signal);
  let acquiredAt = 0;
  const waiting = second.elector.acquire(stop.signal).then(() => acquiredAt = clock.now());
  await fake.tickAsync(5_000);
  const releasedAt = clock.now();
  assert.equal(await first.elector.release(), true);
  assert.equal(first.elector.isLeader, false);
  assert.equal(store.holder("lock"), "");
  await fake.tickAsync(3_000);
  await waiting;
  assert.equal(store.holder("lock"), "candidate-1");
  assert.ok(
    acquiredAt - releasedAt < 15_000,
    "took over before the released lease would have expired",
  );
  assert.equal(await first.elector.release(), false, "releasing twice is a no-op");
  stop.abort();
});

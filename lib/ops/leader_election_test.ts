import assert from "node:assert/strict";
import {
  claimSpec,
  type ControllerRun,
  type Elector,
  type HoldOutcome,
  LeaderElector,
  LeaderSupervisor,
  type LeaderSupervisorOptions,
  mayAcquire,
  releaseSpec,
  settlesWithin,
} from "./leader_election.ts";
import type { Lease } from "kubernetes-types/coordination/v1.d.ts";
import { AlreadyExistsError, ConflictError, NotFoundError } from "../kube/mod.ts";
import { fakeClock } from "../../tests/fake_clock.ts";
import { seriesValue } from "../../tests/controller_ops_fakes.ts";
import type { Logger } from "./contracts.ts";
import { PrometheusRegistry } from "./metrics_registry.ts";

const T0 = Date.UTC(2026, 4, 1);

Deno.test("mayAcquire() allows a free, own or locally expired lease only", async (t) => {
  const cases = [
    { name: "no holder", holder: "", observedAtMs: T0, nowMs: T0, expected: true },
    { name: "held by me", holder: "me", observedAtMs: T0, nowMs: T0, expected: true },
    {
      name: "held by another, fresh",
      holder: "other",
      observedAtMs: T0,
      nowMs: T0 + 14_999,
      expected: false,
    },
    {
      name: "held by another, expired",
      holder: "other",
      observedAtMs: T0,
      nowMs: T0 + 15_000,
      expected: true,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const spec = { holderIdentity: c.holder, leaseDurationSeconds: 15 };
      const observation = { spec, observedAtMs: c.observedAtMs };
      assert.equal(mayAcquire(observation, "me", c.nowMs), c.expected);
    });
  }
});

Deno.test("claimSpec() counts a transition on takeover and keeps the acquire time on renewal", () => {
  const created = claimSpec(undefined, "me", T0, 15_000);
  assert.deepEqual(created, {
    holderIdentity: "me",
    leaseDurationSeconds: 15,
    acquireTime: "2026-05-01T00:00:00.000000Z",
    renewTime: "2026-05-01T00:00:00.000000Z",
    leaseTransitions: 0,
  });
  const renewed = claimSpec(created, "me", T0 + 2_000, 15_000);
  assert.equal(renewed.acquireTime, created.acquireTime);
  assert.equal(renewed.renewTime, "2026-05-01T00:00:02.000000Z");
  assert.equal(renewed.leaseTransitions, 0);
  const taken = claimSpec(renewed, "other", T0 + 20_000, 2_500);
  assert.equal(taken.holderIdentity, "other");
  assert.equal(taken.acquireTime, "2026-05-01T00:00:20.000000Z");
  assert.equal(taken.leaseTransitions, 1);
  assert.equal(taken.leaseDurationSeconds, 3); // whole seconds, rounded up
});

Deno.test("releaseSpec() clears the holder and shortens the lease", () => {
  const held = claimSpec(undefined, "me", T0, 15_000);
  const released = releaseSpec({ ...held, leaseTransitions: 4 }, T0 + 1_000);
  assert.equal(released.holderIdentity, "");
  assert.equal(released.leaseDurationSeconds, 1);
  assert.equal(released.leaseTransitions, 4);
  assert.equal(
    mayAcquire({ spec: released, observedAtMs: T0 + 1_000 }, "other", T0 + 1_000),
    true,
  );
});

Deno.test("mayAcquire() and claimSpec() read an empty spec as a free lease taken over", () => {
  assert.equal(mayAcquire({ spec: {}, observedAtMs: T0 }, "me", T0), true);
  const taken = claimSpec({}, "me", T0, 15_000);
  assert.equal(taken.leaseTransitions, 1);
  assert.equal(taken.acquireTime, "2026-05-01T00:00:00.000000Z");
});

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
    const metrics = new PrometheusRegistry();
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
      metrics,
    });
    /** Whether it leads, read as a user would: its `leader_election_master_status`. */
    const leads = async () =>
      seriesValue(await metrics.expose(), 'leader_election_master_status{name="lock"}') === 1;
    return { elector, link, leads };
  });
  return { store, fake, clock, list };
}

Deno.test("LeaderElector: of two candidates exactly one leads, and keeps leading while it renews", async () => {
  const { store, fake, list } = candidates(2);
  const stop = new AbortController();
  const acquired = list.map(({ elector }) => elector.acquire(stop.signal));
  await fake.tickAsync(0);
  const leading = async () => {
    const leads = await Promise.all(list.map((candidate) => candidate.leads()));
    return list.filter((_, i) => leads[i]);
  };
  const leaders = await leading();
  assert.equal(leaders.length, 1);
  const leader = leaders[0]!.elector;
  const identity = `candidate-${list.findIndex(({ elector }) => elector === leader)}`;
  const holding = leader.holdUntilLost(stop.signal);
  for (let i = 0; i < 30; i++) {
    await fake.tickAsync(1_000);
    assert.deepEqual(await leading(), leaders);
    assert.equal(store.holder("lock"), identity);
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
  assert.equal(await first.leads(), false);
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
  assert.equal(await first.leads(), false);
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

const QUIET: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => QUIET };

/** An elector driven by the test: it grants, revokes and records releases. */
class ScriptedElector implements Elector {
  log: string[];
  #grant: (() => void) | undefined;
  #lose: ((outcome: HoldOutcome) => void) | undefined;
  constructor(log: string[]) {
    this.log = log;
  }
  acquire(signal: AbortSignal): Promise<boolean> {
    return new Promise((resolve) => {
      this.#grant = () => resolve(true);
      signal.addEventListener("abort", () => resolve(false));
    });
  }
  holdUntilLost(signal: AbortSignal): Promise<HoldOutcome> {
    return new Promise((resolve) => {
      this.#lose = resolve;
      signal.addEventListener("abort", () => resolve("stopped"));
    });
  }
  release(): Promise<boolean> {
    this.log.push("release");
    return Promise.resolve(true);
  }
  grant(): void {
    this.#grant?.();
  }
  lose(): void {
    this.#lose?.("lost");
  }
}

function controllers(log: string[], options: { stuck?: boolean } = {}) {
  let markSynced!: () => void;
  let runs = 0;
  const start = (): ControllerRun => {
    const id = ++runs;
    log.push(`start ${id}`);
    return {
      synced: new Promise<boolean>((resolve) => markSynced = () => resolve(true)),
      stop: () => {
        log.push(`stop ${id}`);
        return options.stuck ? new Promise(() => {}) : Promise.resolve();
      },
    };
  };
  return { start, synced: () => markSynced() };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

/** Runs a supervisor (quiet, a 1 s stop timeout unless given) and lets its first step happen. */
async function supervise(
  options: Omit<LeaderSupervisorOptions, "logger" | "stopTimeoutMs"> & { stopTimeoutMs?: number },
) {
  const supervisor = new LeaderSupervisor({ stopTimeoutMs: 1_000, logger: QUIET, ...options });
  const stop = new AbortController();
  const running = supervisor.run(stop.signal);
  await tick();
  return { supervisor, stop, running };
}

Deno.test("LeaderSupervisor without an elector runs the controllers until stopped", async () => {
  const log: string[] = [];
  const fake = controllers(log);
  const { supervisor, stop, running } = await supervise({ elector: undefined, start: fake.start });
  assert.equal(supervisor.readiness(), "informer caches have not synced yet");
  fake.synced();
  await tick();
  assert.equal(supervisor.readiness(), true);
  stop.abort();
  assert.equal(await running, "stopped");
  assert.deepEqual(log, ["start 1", "stop 1"]);
});

Deno.test("LeaderSupervisor runs controllers only while leading and restarts them after a lost lease", async () => {
  const log: string[] = [];
  const elector = new ScriptedElector(log);
  const fake = controllers(log);
  const { supervisor, stop, running } = await supervise({ elector, start: fake.start });
  assert.deepEqual(log, [], "no controllers before the lease");
  assert.equal(supervisor.readiness(), true, "a standby is ready");
  elector.grant();
  await tick();
  assert.equal(supervisor.readiness(), "informer caches have not synced yet");
  fake.synced();
  await tick();
  assert.equal(supervisor.readiness(), true);
  elector.lose();
  await tick();
  assert.deepEqual(log, ["start 1", "stop 1"], "controllers stopped with the lease");
  elector.grant();
  await tick();
  stop.abort();
  assert.equal(await running, "stopped");
  assert.deepEqual(log, ["start 1", "stop 1", "start 2", "stop 2", "release"]);
});

Deno.test("LeaderSupervisor reports stuck controllers and still releases the lease on shutdown", async () => {
  const log: string[] = [];
  const elector = new ScriptedElector(log);
  const fake = controllers(log, { stuck: true });
  const { stop, running } = await supervise({
    elector,
    start: fake.start,
    stopTimeoutMs: 20,
  });
  elector.grant();
  await tick();
  stop.abort();
  assert.equal(await running, "stuck");
  assert.deepEqual(log, ["start 1", "stop 1", "release"]);
});

Deno.test("LeaderSupervisor releases the lease when the controllers cannot start", async () => {
  const log: string[] = [];
  const elector = new ScriptedElector(log);
  const { running } = await supervise({
    elector,
    start: () => Promise.reject(new Error("no CRDs")),
  });
  elector.grant();
  await assert.rejects(running, /no CRDs/);
  assert.deepEqual(log, ["release"]);
});

Deno.test("settlesWithin() tells a settled promise from a stuck one", async () => {
  assert.equal(await settlesWithin(Promise.reject(new Error("x")), 50), true);
  assert.equal(await settlesWithin(new Promise(() => {}), 10), false);
});

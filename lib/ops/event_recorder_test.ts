import assert from "node:assert/strict";
import { seriesValue } from "../../tests/controller_ops_fakes.ts";
import { EventCorrelator, type EventRecorderOptions, KubeEventRecorder } from "./event_recorder.ts";
import type { Event } from "kubernetes-types/events/v1.d.ts";
import { fakeClock } from "../../tests/fake_clock.ts";
import { eventually } from "../../tests/controller_harness.ts";
import type { EventSubject } from "./contracts.ts";
import { PrometheusRegistry } from "./metrics_registry.ts";
import { NotFoundError, type ObjectOptions } from "../kube/mod.ts";

Deno.test("EventCorrelator.observe() joins identical events within the window into one series", () => {
  const correlator = new EventCorrelator({ seriesWindowMs: 60_000 });
  const first = correlator.observe("s", "o", 0);
  const second = correlator.observe("s", "o", 30_000);
  assert.equal(first.action, "publish");
  assert.equal(second.action, "publish");
  if (first.action !== "publish" || second.action !== "publish") return;
  assert.equal(first.entry, second.entry);
  assert.equal(second.entry.count, 2);
  assert.equal(second.entry.lastMs, 30_000);
});

Deno.test("EventCorrelator.observe() starts a new series after a quiet window", () => {
  const correlator = new EventCorrelator({ seriesWindowMs: 60_000 });
  const first = correlator.observe("s", "o", 0);
  const later = correlator.observe("s", "o", 60_001);
  assert.ok(first.action === "publish" && later.action === "publish");
  assert.notEqual(first.entry, later.entry);
  assert.equal(later.entry.count, 1);
  assert.equal(later.entry.eventName, undefined);
});

Deno.test("EventCorrelator.observe() limits each object to its burst, then one per refill", () => {
  const correlator = new EventCorrelator({ spamBurst: 3, spamRefillMs: 1_000 });
  const outcomes = [0, 0, 0, 0].map((_, i) => correlator.observe(`s${i}`, "o", 0).action);
  assert.deepEqual(outcomes, ["publish", "publish", "publish", "drop"]);
  assert.equal(correlator.observe("other", "another object", 0).action, "publish");
  assert.equal(correlator.observe("s9", "o", 999).action, "drop");
  assert.equal(correlator.observe("s9", "o", 1_000).action, "publish");
});

Deno.test("EventCorrelator.observe() lets free occurrences through the spam filter", () => {
  const correlator = new EventCorrelator({ spamBurst: 1 });
  assert.equal(correlator.observe("s", "o", 0).action, "publish");
  assert.equal(correlator.observe("s", "o", 1).action, "drop");
  const free = correlator.observe("s", "o", 2, true);
  assert.ok(free.action === "publish");
  assert.equal(free.entry.count, 2);
});

Deno.test("EventCorrelator forgets the least recently used series beyond its bound", () => {
  const correlator = new EventCorrelator({ maxTracked: 2 });
  correlator.observe("a", "o1", 0);
  correlator.observe("b", "o2", 0);
  correlator.observe("a", "o1", 1);
  correlator.observe("c", "o3", 2);
  assert.equal(correlator.get("b"), undefined);
  assert.equal(correlator.get("a")?.count, 2);
  assert.equal(correlator.get("c")?.count, 1);
});

const HOST_PORT: EventSubject = {
  apiVersion: "hostport.rmb938.com/v1alpha1",
  kind: "HostPort",
  metadata: { name: "hpc-1", uid: "u-1" },
};
const CLAIM: EventSubject = {
  apiVersion: "hostport.rmb938.com/v1alpha1",
  kind: "HostPortClaim",
  metadata: { name: "web", namespace: "team-a", uid: "u-2" },
};

/** A fake `events.k8s.io/v1` client that keeps what it was sent, like a tiny events API. */
class MemoryEvents {
  events = new Map<string, Event>();
  log: string[] = [];
  failCreates = 0;
  hang = false;

  async create(event: Event, { abortSignal }: ObjectOptions = {}): Promise<Event> {
    if (this.hang) {
      await new Promise((_, reject) =>
        abortSignal?.addEventListener("abort", () => reject(abortSignal.reason))
      );
    }
    if (this.failCreates > 0) {
      this.failCreates--;
      throw new Error("API server unavailable");
    }
    this.log.push(`create ${event.reason} ${event.series?.count ?? 1}`);
    this.events.set(`${event.metadata!.namespace}/${event.metadata!.name}`, structuredClone(event));
    return event;
  }

  patch(name: string, body: unknown, { namespace }: ObjectOptions = {}): Promise<Event> {
    const stored = this.events.get(`${namespace}/${name}`);
    const { series } = body as Pick<Event, "series">;
    this.log.push(`patch ${stored?.reason ?? "(gone)"} ${series?.count}`);
    if (!stored) return Promise.reject(new NotFoundError({ code: 404, reason: "NotFound" }));
    if (series) stored.series = series;
    return Promise.resolve(stored);
  }
}

/** Waits until the recorder made `count` writes (`hostport_events_writes_total`, any result). */
function written(metrics: PrometheusRegistry, count: number): Promise<true> {
  return eventually(
    `${count} event writes`,
    async () => {
      const lines = (await metrics.expose()).split("\n");
      const writes = lines.filter((line) => line.startsWith("hostport_events_writes_total{"));
      const total = writes.reduce((sum, line) => sum + Number(line.split(" ").at(-1)), 0);
      return total >= count || undefined;
    },
    5_000,
    1,
  );
}

function setup(options: Partial<EventRecorderOptions> = {}) {
  const { clock, fake } = fakeClock(Date.UTC(2026, 4, 1));
  const sink = new MemoryEvents();
  const metrics = new PrometheusRegistry();
  const recorder = new KubeEventRecorder(sink, { instance: "pod-1", clock, metrics, ...options });
  return { sink, recorder, metrics, fake };
}

Deno.test("KubeEventRecorder writes a valid events.k8s.io/v1 Event for each first occurrence", async () => {
  const { sink, recorder } = setup();
  recorder.record(HOST_PORT, "Normal", "PortAllocated", "Allocated port 9000");
  recorder.record(CLAIM, "Warning", "PoolExhausted", "No free port in class games");
  assert.equal(await recorder.close(1_000), 0);
  const events = [...sink.events.values()];
  assert.equal(events.length, 2);
  const [allocated, exhausted] = events as [Event, Event];
  assert.match(allocated.metadata!.name!, /^hpc-1\.[0-9a-f]+$/);
  assert.equal(allocated.metadata!.namespace, "default"); // cluster-scoped subjects
  assert.equal(exhausted.metadata!.namespace, "team-a");
  assert.deepEqual(allocated.regarding, {
    apiVersion: HOST_PORT.apiVersion,
    kind: "HostPort",
    name: "hpc-1",
    uid: "u-1",
  });
  assert.equal(allocated.eventTime, "2026-05-01T00:00:00.000000Z");
  assert.equal(allocated.reportingController, "hostport.rmb938.com/hostport-allocator");
  assert.equal(allocated.reportingInstance, "pod-1");
  assert.equal(allocated.action, "PortAllocated");
  assert.equal(exhausted.type, "Warning");
  assert.equal(exhausted.note, "No free port in class games");
  assert.equal(allocated.series, undefined);
});

Deno.test("KubeEventRecorder aggregates identical events into one series", async () => {
  const { sink, recorder, metrics, fake } = setup();
  recorder.record(CLAIM, "Warning", "PoolExhausted", "full");
  await written(metrics, 1);
  await fake.tickAsync(1_000);
  recorder.record(CLAIM, "Warning", "PoolExhausted", "full");
  await written(metrics, 2);
  recorder.record(CLAIM, "Warning", "PoolExhausted", "full");
  recorder.record(CLAIM, "Warning", "PoolExhausted", "full"); // coalesces with the queued write
  await written(metrics, 3);
  recorder.record(CLAIM, "Warning", "PoolExhausted", "another message");
  assert.equal(await recorder.close(1_000), 0);
  assert.deepEqual(sink.log, [
    "create PoolExhausted 1",
    "patch PoolExhausted 2",
    "patch PoolExhausted 4",
    "create PoolExhausted 1",
  ]);
  const series = [...sink.events.values()][0]!.series!;
  assert.equal(series.count, 4);
  assert.equal(series.lastObservedTime, "2026-05-01T00:00:01.000000Z");
});

Deno.test("KubeEventRecorder creates the Event again when its series patch finds it gone", async () => {
  const { sink, recorder, metrics } = setup();
  recorder.record(HOST_PORT, "Normal", "Repaired", "ok");
  await written(metrics, 1);
  sink.events.clear(); // expired on the server
  recorder.record(HOST_PORT, "Normal", "Repaired", "ok");
  assert.equal(await recorder.close(1_000), 0);
  assert.deepEqual(sink.log, ["create Repaired 1", "patch (gone) 2", "create Repaired 2"]);
  assert.equal(sink.events.size, 1);
});

Deno.test("KubeEventRecorder drops events over an object's spam budget and counts them", async () => {
  const { sink, recorder, metrics } = setup({ spamBurst: 5 });
  for (let i = 0; i < 8; i++) recorder.record(HOST_PORT, "Normal", `Reason${i}`, "m");
  recorder.record(CLAIM, "Normal", "Other", "m");
  assert.equal(await recorder.close(1_000), 0);
  assert.equal(sink.events.size, 6);
  assert.equal(
    seriesValue(await metrics.expose(), 'hostport_events_dropped_total{reason="spam"}'),
    3,
  );
});

Deno.test("KubeEventRecorder bounds its queue and drops what does not fit", async () => {
  const { sink, recorder, metrics, fake } = setup({ maxQueued: 2, qps: 1, burst: 1 });
  for (const name of ["a", "b", "c", "d"]) {
    recorder.record({ ...HOST_PORT, metadata: { name } }, "Normal", "R", "m");
  }
  assert.equal(
    seriesValue(await metrics.expose(), 'hostport_events_dropped_total{reason="queue_full"}'),
    2,
  );
  await fake.tickAsync(2_000);
  assert.equal(await recorder.close(1_000), 0);
  assert.deepEqual([...sink.events.values()].map((e) => e.regarding!.name), ["a", "b"]);
});

Deno.test("KubeEventRecorder spaces writes by its global token bucket", async () => {
  const { sink, recorder, fake } = setup({ qps: 1, burst: 1 });
  for (const name of ["a", "b", "c"]) {
    recorder.record({ ...HOST_PORT, metadata: { name } }, "Normal", "R", "m");
  }
  await fake.tickAsync(0);
  assert.equal(sink.events.size, 1);
  await fake.tickAsync(1_000);
  assert.equal(sink.events.size, 2);
  await fake.tickAsync(1_000);
  assert.equal(sink.events.size, 3);
});

Deno.test("KubeEventRecorder.record() never throws, even when writes fail", async () => {
  const { sink, recorder, metrics } = setup();
  sink.failCreates = 1;
  recorder.record(CLAIM, "Warning", "Failed", "m");
  await written(metrics, 1);
  assert.equal(sink.events.size, 0);
  assert.equal(
    seriesValue(
      await metrics.expose(),
      'hostport_events_writes_total{operation="create",result="error"}',
    ),
    1,
  );
  recorder.record(CLAIM, "Warning", "Failed", "m"); // the next occurrence creates it
  await written(metrics, 2);
  assert.deepEqual(sink.log, ["create Failed 2"]);
  recorder.record({ apiVersion: "v1", kind: "Pod", metadata: {} }, "Normal", "NoName", "m");
  assert.equal(
    seriesValue(await metrics.expose(), 'hostport_events_dropped_total{reason="invalid"}'),
    1,
  );
});

Deno.test("KubeEventRecorder.close() flushes the queue, then refuses new events", async () => {
  const { sink, recorder, metrics } = setup();
  recorder.record(CLAIM, "Normal", "Bound", "m");
  assert.equal(await recorder.close(1_000), 0);
  assert.equal(sink.events.size, 1);
  recorder.record(CLAIM, "Normal", "Late", "m");
  assert.equal(
    seriesValue(await metrics.expose(), 'hostport_events_dropped_total{reason="stopped"}'),
    1,
  );
});

Deno.test("KubeEventRecorder.close() gives up on a stuck API server after its timeout", async () => {
  const { sink, recorder, fake } = setup();
  sink.hang = true;
  recorder.record({ ...CLAIM, metadata: { name: "a" } }, "Normal", "R", "m");
  recorder.record({ ...CLAIM, metadata: { name: "b" } }, "Normal", "R", "m");
  const closing = recorder.close(5_000);
  await fake.tickAsync(5_000);
  assert.equal(await closing, 1); // "b" was still queued behind the stuck write
  assert.equal(sink.events.size, 0);
});

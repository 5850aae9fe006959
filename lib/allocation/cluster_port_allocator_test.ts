import assert from "node:assert/strict";
import { KubeApiError } from "../kube/mod.ts";
import { AllocationRecord, AllocationRecordError } from "./allocation_record.ts";
import { AllocationUnavailableError, ClusterPortAllocator } from "./cluster_port_allocator.ts";
import { FakeRecordStore, timeoutError } from "../../tests/fake_record_store.ts";

const POOLS = [{ start: 9000, end: 9009 }];

interface Setup {
  store: FakeRecordStore;
  record: AllocationRecord;
  allocator: ClusterPortAllocator;
  clock: { now: number };
  released: number[];
}

async function setup(
  options: { reserved?: number[]; held?: number[] } = {},
): Promise<Setup> {
  const store = new FakeRecordStore();
  if (options.reserved) store.set(options.reserved);
  const record = new AllocationRecord(store, { sleep: () => Promise.resolve() });
  const clock = { now: 1_000 };
  const allocator = new ClusterPortAllocator({
    record,
    now: () => clock.now,
  });
  const released: number[] = [];
  allocator.onReleased((port) => released.push(port));
  await record.refresh();
  allocator.resync(options.held ?? []);
  return { store, record, allocator, clock, released };
}

/** Whether `allocator` offers `port` (allocating it if so; a port it does not offer stays as is). */
async function offers(allocator: ClusterPortAllocator, port: number): Promise<boolean> {
  const outcome = await allocator.allocate(`probe-${port}`, [{ start: port, end: port }]);
  return outcome.ok && outcome.port === port;
}

Deno.test("allocate() returns the lowest free port once its reservation committed", async () => {
  const { store, allocator } = await setup();
  assert.deepEqual(await allocator.allocate("hp-a", POOLS), {
    ok: true,
    port: 9000,
    reservedAt: 1_000,
  });
  assert.deepEqual(store.ports(), [9000]);
});

Deno.test("allocate() skips ports the record reserves and ports HostPorts hold", async () => {
  const { allocator } = await setup({ reserved: [9000, 9001], held: [9002] });
  const outcome = await allocator.allocate("hp-a", POOLS);
  assert.equal(outcome.ok && outcome.port, 9003);
});

Deno.test("allocate() moves on when the record says taken, adopting the record's bits", async () => {
  const { store, allocator } = await setup();
  store.set([9000, 9001, 9004], "other/1"); // another process, unseen so far
  const outcome = await allocator.allocate("hp-a", POOLS);
  assert.equal(outcome.ok && outcome.port, 9002);
  assert.deepEqual(store.ports(), [9000, 9001, 9002, 9004]);
  assert.equal(await offers(allocator, 9004), false);
});

Deno.test("allocate() hands distinct ports to concurrent callers in one record write", async () => {
  const { store, allocator } = await setup();
  const keys = Array.from({ length: 10 }, (_, i) => `hp-${i}`);
  const outcomes = await Promise.all(keys.map((key) => allocator.allocate(key, POOLS)));
  const ports = outcomes.map((outcome) => outcome.ok ? outcome.port : 0);
  assert.deepEqual(ports, [9000, 9001, 9002, 9003, 9004, 9005, 9006, 9007, 9008, 9009]);
  assert.equal(store.writes.length, 1);
  assert.deepEqual(await allocator.allocate("hp-x", POOLS), { ok: false, reason: "exhausted" });
});

Deno.test("allocate() returns the same fresh reservation to the same key, a new one once stale", async () => {
  const { store, allocator, clock } = await setup();
  const first = await allocator.allocate("hp-a", POOLS);
  clock.now += 30_000;
  assert.deepEqual(await allocator.allocate("hp-a", POOLS), first);
  clock.now += 1;
  const second = await allocator.allocate("hp-a", POOLS);
  assert.equal(second.ok && second.port, 9001);
  assert.deepEqual(store.ports(), [9000, 9001]); // the abandoned 9000 stays reserved for repair
});

Deno.test("allocate() keeps a port whose reservation outcome is unknown and takes another", async () => {
  const { store, allocator } = await setup();
  const otherWrites = () => store.set(store.ports(), "other/5");
  store.script.push({ on: "write", error: timeoutError(), land: true, then: otherWrites });
  const outcome = await allocator.allocate("hp-a", POOLS);
  assert.equal(outcome.ok && outcome.port, 9001);
  assert.deepEqual(store.ports(), [9000, 9001]);
  assert.equal(await offers(allocator, 9000), false);
});

Deno.test("allocate() rejects when the record refuses every write, and offers the port again", async () => {
  const { store, allocator } = await setup();
  const refused = new KubeApiError({ code: 403, reason: "Forbidden", message: "no" });
  for (let i = 0; i < 6; i++) store.script.push({ on: "write", error: refused });
  await assert.rejects(allocator.allocate("hp-a", POOLS), AllocationRecordError);
  const retry = await allocator.allocate("hp-a", POOLS);
  assert.equal(retry.ok && retry.port, 9000);
});

Deno.test("releaseAfterFinalizerRemoved() frees the port and tells listeners", async () => {
  const { store, allocator, released } = await setup({ reserved: [9000] });
  assert.deepEqual(await allocator.releaseAfterFinalizerRemoved(9000, { heldElsewhere: false }), {
    ok: true,
  });
  assert.deepEqual(store.ports(), []);
  assert.deepEqual(released, [9000]);
  const again = await allocator.allocate("hp-b", POOLS);
  assert.equal(again.ok && again.port, 9000);
});

Deno.test("releaseAfterFinalizerRemoved() keeps a port another live HostPort holds", async () => {
  const { store, allocator, released } = await setup({ reserved: [9000, 9001] });
  assert.deepEqual(await allocator.releaseAfterFinalizerRemoved(9000, { heldElsewhere: true }), {
    ok: false,
    reason: "held",
  });
  assert.deepEqual(
    await allocator.releaseAfterFinalizerRemoved(9001, { heldElsewhere: false }),
    { ok: true },
  );
  assert.deepEqual(store.ports(), [9000]);
  assert.deepEqual(released, [9001]);
});

Deno.test("releaseUnused() frees only a fresh reservation of this process for that key", async () => {
  const { store, allocator, clock, released } = await setup();
  await allocator.allocate("hp-a", POOLS); // 9000
  await allocator.allocate("hp-b", POOLS); // 9001
  assert.deepEqual(await allocator.releaseUnused("hp-a", 9001, { heldElsewhere: false }), {
    ok: false,
    reason: "not-owned",
  });
  assert.deepEqual(await allocator.releaseUnused("hp-a", 9000, { heldElsewhere: false }), {
    ok: true,
  });
  clock.now += 30_001;
  assert.deepEqual(await allocator.releaseUnused("hp-b", 9001, { heldElsewhere: false }), {
    ok: false,
    reason: "not-owned",
  });
  assert.deepEqual(store.ports(), [9001]);
  assert.deepEqual(released, [9000]);
});

Deno.test("isReservationFresh() is true up to the TTL after the commit", async () => {
  const { allocator, clock } = await setup();
  const outcome = await allocator.allocate("hp-a", POOLS);
  assert.ok(outcome.ok);
  clock.now += 30_000;
  assert.equal(allocator.isReservationFresh(outcome.reservedAt), true);
  clock.now += 1;
  assert.equal(allocator.isReservationFresh(outcome.reservedAt), false);
});

Deno.test("a release by another process seen on a read frees the port and tells listeners", async () => {
  const { store, allocator, released } = await setup({ reserved: [9000, 9001] });
  store.set([9001], "other/2");
  // The write of 9002 conflicts, re-reads the record, and finds 9000 released.
  const outcome = await allocator.allocate("hp-a", POOLS);
  assert.equal(outcome.ok && outcome.port, 9002);
  assert.deepEqual(released, [9000]);
  const next = await allocator.allocate("hp-b", POOLS);
  assert.equal(next.ok && next.port, 9000);
});

Deno.test("resync() frees ports neither reserved nor held any more and tells listeners", async () => {
  const { allocator, released } = await setup({ reserved: [9000], held: [9005] });
  allocator.resync([9005]);
  assert.equal(await offers(allocator, 9005), false);
  allocator.resync([]);
  assert.equal(await offers(allocator, 9000), false);
  assert.equal(await offers(allocator, 9005), true);
  assert.deepEqual(released, [9005]);
});

Deno.test("recentlyReserved() lists reservations within TTL plus the request timeout", async () => {
  const { allocator, clock } = await setup();
  await allocator.allocate("hp-a", POOLS);
  clock.now += 90_000;
  assert.deepEqual(allocator.recentlyReserved(), [9000]);
  clock.now += 1;
  assert.deepEqual(allocator.recentlyReserved(), []);
});

Deno.test("allocate() never offers a port the held source says a HostPort holds", async () => {
  const { allocator, store } = await setup();
  allocator.useHeldSource((port) =>
    port === 9000 ? "held" : port === 9001 ? "releasing" : undefined
  );
  const outcome = await allocator.allocate("hp-a", POOLS);
  assert.equal(outcome.ok && outcome.port, 9002);
  assert.deepEqual(store.ports(), [9002]);
});

Deno.test("a record read showing held ports released keeps them held and reserves them again", async () => {
  const { allocator, store, released } = await setup({ reserved: [9000, 9001, 9002] });
  const held = new Set([9000, 9001, 9002]);
  allocator.useHeldSource((port) => held.has(port) ? "held" : undefined);
  const restored = new Promise<readonly number[]>((resolve) => allocator.onRestored(resolve));
  store.set([9000]); // an old copy of the record is restored
  // The write of 9003 conflicts and re-reads the old copy: 9001 and 9002 are reserved again.
  const outcome = await allocator.allocate("hp-d", POOLS);
  assert.equal(outcome.ok && outcome.port, 9003);
  assert.deepEqual(await restored, [9001, 9002]);
  assert.deepEqual(store.ports(), [9000, 9001, 9002, 9003]);
  assert.deepEqual(released, []);
  const next = await allocator.allocate("hp-e", POOLS);
  assert.equal(next.ok && next.port, 9004);
});

Deno.test("a released port held only by a HostPort being deleted is not restored", async () => {
  const { allocator, record, store, released } = await setup({ reserved: [9000] });
  allocator.useHeldSource((port) => port === 9000 ? "releasing" : undefined);
  store.set([]); // its finalizer-removal winner (another process) released it
  // The write of 9001 conflicts, re-reads the record, and finds 9000 released.
  const outcome = await allocator.allocate("hp-b", POOLS);
  assert.equal(outcome.ok && outcome.port, 9001);
  await record.refresh(); // ordered after every write in flight
  assert.deepEqual(store.ports(), [9001]);
  assert.deepEqual(released, [9000]);
  const next = await allocator.allocate("hp-c", POOLS);
  assert.equal(next.ok && next.port, 9002, "never offered while the cache shows a holder");
});

Deno.test("a port this process released is not restored while the cache still shows its holder", async () => {
  const { allocator, store, released } = await setup({ reserved: [9000] });
  allocator.useHeldSource((port) => port === 9000 ? "held" : undefined); // deletion not seen yet
  assert.deepEqual(
    await allocator.releaseAfterFinalizerRemoved(9000, { heldElsewhere: false }),
    { ok: true },
  );
  assert.deepEqual(store.ports(), []);
  assert.deepEqual(released, [9000]);
});

Deno.test("allocate() refuses while the record is missing and during the pause after a rebuild", async () => {
  const { allocator, record, store, clock } = await setup();
  const missing: number[] = [];
  allocator.onRecordMissing(() => missing.push(1));
  await allocator.allocate("hp-a", POOLS);
  store.delete();
  await assert.rejects(allocator.allocate("hp-b", POOLS), AllocationRecordError);
  assert.deepEqual(missing, [1]);
  await assert.rejects(allocator.allocate("hp-b", POOLS), AllocationUnavailableError);
  assert.match(String(allocator.readiness()), /deleted/);
  await record.recreate([9000]);
  allocator.pauseAfterRebuild(90_000);
  await assert.rejects(allocator.allocate("hp-b", POOLS), /resumes in 90 s/);
  clock.now += 90_001;
  assert.equal(allocator.readiness(), true);
  const outcome = await allocator.allocate("hp-b", POOLS);
  assert.equal(outcome.ok && outcome.port, 9001);
});

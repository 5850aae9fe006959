import assert from "node:assert/strict";
import type { HostPort, HostPortClass } from "../api/mod.ts";
import { AllocationRecord } from "./allocation_record.ts";
import { AllocationRepair } from "./allocation_repair.ts";
import { ClusterPortAllocator } from "./cluster_port_allocator.ts";
import { conflictError, FakeRecordStore } from "../../tests/fake_record_store.ts";

const GAMES: HostPortClass = {
  apiVersion: "hostport.rmb938.com/v1alpha1",
  kind: "HostPortClass",
  metadata: { name: "games" },
  spec: { pools: [{ start: 9000, end: 9099 }] },
};

function hostPort(name: string, port: number): HostPort {
  return {
    apiVersion: "hostport.rmb938.com/v1alpha1",
    kind: "HostPort",
    metadata: { name },
    spec: { hostPortClassName: "games" },
    status: { phase: "Allocated", port },
  };
}

function repairOver(store: FakeRecordStore, hostPorts: HostPort[], clock: { now: number }) {
  const record = new AllocationRecord(store, { sleep: () => Promise.resolve() });
  const allocator = new ClusterPortAllocator({ record, now: () => clock.now });
  const repair = new AllocationRepair({
    record,
    listHostPorts: () => Promise.resolve(hostPorts),
    listHostPortClasses: () => Promise.resolve([GAMES]),
    now: () => clock.now,
    allocator,
  });
  return { record, allocator, repair };
}

Deno.test("runOnce() on a missing record creates it reserving exactly the held ports", async () => {
  const store = new FakeRecordStore();
  const hostPorts = [
    hostPort("a", 9000),
    hostPort("b", 9003),
    hostPort("c", 8000),
    hostPort("d", 9003),
  ];
  const { repair } = repairOver(store, hostPorts, { now: 0 });
  const findings = await repair.runOnce();
  assert.deepEqual(store.ports(), [8000, 9000, 9003]);
  assert.deepEqual(findings.reserved, [8000, 9000, 9003]);
  assert.deepEqual(findings.duplicates, [{ port: 9003, holders: ["b", "d"] }]);
  assert.deepEqual(findings.outOfPool, [{ hostPort: "c", port: 8000 }]);
  assert.equal(store.writes.length, 1);
});

Deno.test("runOnce() frees a leak on the first pass past the holdoff, never a held port", async () => {
  const store = new FakeRecordStore();
  store.set([9000, 9005]);
  const clock = { now: 0 };
  const { record, repair, allocator } = repairOver(store, [hostPort("a", 9000)], clock);
  await record.refresh();
  allocator.resync([9000]);
  const released: number[] = [];
  allocator.onReleased((port) => released.push(port));
  const freed: number[][] = [];
  for (const now of [0, 60_000, 120_000]) { // only 120 s > 90 s, at the third
    clock.now = now;
    freed.push([...(await repair.runOnce()).freed]);
  }
  assert.deepEqual(freed, [[], [], [9005]]);
  assert.deepEqual(store.ports(), [9000]);
  assert.deepEqual(released, [9005]);
  const reused = await allocator.allocate("hp-b", [{ start: 9005, end: 9005 }]);
  assert.deepEqual(reused.ok && reused.port, 9005, "the freed port is offered again");
});

Deno.test("runOnce() waits for the holdoff even after three sightings", async () => {
  const store = new FakeRecordStore();
  store.set([9005]);
  const clock = { now: 0 };
  const { repair } = repairOver(store, [], clock);
  for (const now of [0, 30_000, 60_000, 90_000]) {
    clock.now = now;
    assert.deepEqual((await repair.runOnce()).freed, []);
  }
  clock.now = 90_001;
  assert.deepEqual((await repair.runOnce()).freed, [9005]);
});

Deno.test("runOnce() never counts a port this process just reserved as a leak", async () => {
  const store = new FakeRecordStore();
  const clock = { now: 0 };
  const { record, repair, allocator } = repairOver(store, [], clock);
  await record.refresh();
  allocator.resync([]);
  await allocator.allocate("hp-a", GAMES.spec.pools); // 9000, its status write "in flight"
  const findings = await repair.runOnce();
  assert.deepEqual(findings.leakCandidates, []);
});

Deno.test("runOnce() reports a held port that someone reserved between its read and write", async () => {
  const store = new FakeRecordStore();
  store.set([]);
  const { repair } = repairOver(store, [hostPort("a", 9000)], { now: 0 });
  store.script.push({ on: "write", error: conflictError(), then: () => store.set([9000]) });
  const findings = await repair.runOnce();
  assert.deepEqual(findings.reserved, []);
  assert.deepEqual(findings.reserveRaced, [9000]);
});

Deno.test("runOnce() rebuilds a record deleted while in use and pauses allocation", async () => {
  const store = new FakeRecordStore();
  const clock = { now: 0 };
  const hostPorts = [hostPort("a", 9000)];
  const { record, allocator, repair } = repairOver(store, hostPorts, clock);
  await repair.runOnce();
  store.set([9000, 9003]); // another reservation, as last read by this process
  await record.refresh();
  store.delete();
  await assert.rejects(allocator.allocate("hp-b", GAMES.spec.pools));
  const findings = await repair.runOnce();
  assert.deepEqual(findings.rebuilt, [9000, 9003]);
  assert.deepEqual(store.ports(), [9000, 9003]);
  assert.match(String(allocator.readiness()), /rebuilt; allocation resumes in 90 s/);
  clock.now += 90_001;
  const outcome = await allocator.allocate("hp-b", GAMES.spec.pools);
  assert.equal(outcome.ok && outcome.port, 9001);
});

Deno.test("runOnce() tells when the earliest leak candidate can be freed", async () => {
  const store = new FakeRecordStore();
  store.set([9005]);
  const clock = { now: 1_000 };
  const { repair } = repairOver(store, [], clock);
  assert.equal((await repair.runOnce()).nextFreeInMs, 90_001);
  clock.now += 90_001;
  assert.deepEqual((await repair.runOnce()).freed, [9005]);
});

Deno.test("runOnce() restarts the sightings of a port seen released or held in between", async () => {
  const store = new FakeRecordStore();
  store.set([9005, 9006]);
  const clock = { now: 0 };
  const { record, repair } = repairOver(store, [], clock);
  await repair.runOnce();
  store.set([9006]); // 9005 released by someone...
  await record.refresh();
  store.set([9005, 9006]); // ...and reserved anew
  repair.noteHeld(9006); // and 9006 was seen held by some HostPort meanwhile
  clock.now += 100_000;
  const findings = await repair.runOnce();
  assert.deepEqual(findings.freed, []);
  assert.deepEqual(findings.leakCandidates, [9005, 9006]);
});

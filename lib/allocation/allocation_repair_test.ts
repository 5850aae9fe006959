import assert from "node:assert/strict";
import type { HostPort, HostPortClass } from "../api/mod.ts";
import type { RestoreEntry } from "../allocator/mod.ts";
import { AllocationRecord } from "./allocation_record.ts";
import {
  AllocationRepair,
  type LeakSighting,
  planRepair,
  type RepairInput,
} from "./allocation_repair.ts";
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
  assert.deepEqual(findings.outsidePools, [{ holder: "c", port: 8000 }]);
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

const POOLS = [{ start: 9000, end: 9099 }];
const HOLDOFF = 90_000;

function hp(holder: string, port: number, pools = POOLS): RestoreEntry<string> {
  return { holder, port, pools };
}

function seen(firstSeenAt: number, sightings: number): LeakSighting {
  return { firstSeenAt, sightings };
}

interface Case {
  name: string;
  input: Partial<RepairInput>;
  reserve?: number[];
  free?: number[];
  candidates?: [number, LeakSighting][];
  duplicates?: { port: number; holders: string[] }[];
  outsidePools?: { holder: string; port: number }[];
  invalid?: { holder: string; port: number }[];
  held?: number[];
}

const CASES: Case[] = [
  {
    name: "nothing held and nothing reserved plans nothing",
    input: {},
  },
  {
    name: "a held port missing from the record is reserved",
    input: { hostPorts: [hp("a", 9000), hp("b", 9001)], reserved: [9001] },
    reserve: [9000],
    held: [9000, 9001],
  },
  {
    name: "HostPorts without a port are ignored",
    input: { hostPorts: [hp("a", 0)], reserved: [] },
  },
  {
    name: "a port held by two HostPorts is reported with both holders and reserved once",
    input: { hostPorts: [hp("a", 9000), hp("b", 9000), hp("c", 9001)], reserved: [9001] },
    reserve: [9000],
    duplicates: [{ port: 9000, holders: ["a", "b"] }],
    held: [9000, 9001],
  },
  {
    name: "a port outside its class's pools is reported and stays held",
    input: { hostPorts: [hp("a", 8000)], reserved: [8000] },
    outsidePools: [{ holder: "a", port: 8000 }],
    held: [8000],
  },
  {
    name: "a HostPort whose class is missing is not checked against pools",
    input: {
      hostPorts: [{ holder: "a", port: 8000, pools: undefined }],
      reserved: [8000],
    },
    held: [8000],
  },
  {
    name: "a status port that is not a port is reported and ignored",
    input: { hostPorts: [hp("a", 70000)], reserved: [] },
    invalid: [{ holder: "a", port: 70000 }],
  },
  {
    name: "a reserved, unowned port seen the first time becomes a candidate",
    input: { reserved: [9005], now: 1_000 },
    candidates: [[9005, seen(1_000, 1)]],
  },
  {
    name: "a leak seen the second time before the holdoff passed is kept, counting sightings",
    input: { reserved: [9005], leakCandidates: new Map([[9005, seen(0, 1)]]), now: 90_000 },
    candidates: [[9005, seen(0, 2)]],
  },
  {
    name: "a leak seen the second time with the holdoff passed is freed",
    input: { reserved: [9005], leakCandidates: new Map([[9005, seen(0, 1)]]), now: 90_001 },
    free: [9005],
  },
  {
    name: "a leak kept past two sightings is freed once the holdoff passes",
    input: { reserved: [9005], leakCandidates: new Map([[9005, seen(0, 5)]]), now: 95_000 },
    free: [9005],
  },
  {
    name: "a candidate released or held since the last pass starts its sightings afresh",
    input: {
      reserved: [9005, 9006],
      leakCandidates: new Map([[9005, seen(0, 1)], [9006, seen(0, 1)]]),
      disturbed: [9005],
      now: 500_000,
    },
    free: [9006],
    candidates: [[9005, seen(500_000, 1)]],
  },
  {
    name: "a candidate that is owned again is forgotten",
    input: {
      hostPorts: [hp("a", 9005)],
      reserved: [9005],
      leakCandidates: new Map([[9005, seen(0, 2)]]),
      now: 500_000,
    },
    held: [9005],
  },
  {
    name: "a candidate no longer reserved is forgotten",
    input: { reserved: [], leakCandidates: new Map([[9005, seen(0, 2)]]), now: 500_000 },
  },
  {
    name: "a port this process reserved recently is not a candidate and resets its sightings",
    input: {
      reserved: [9005, 9006],
      leakCandidates: new Map([[9005, seen(0, 2)]]),
      recentlyReserved: [9005],
      now: 500_000,
    },
    candidates: [[9006, seen(500_000, 1)]],
  },
];

Deno.test("planRepair() decides each case of rule 6", async (t) => {
  for (const c of CASES) {
    await t.step(c.name, () => {
      const plan = planRepair({
        hostPorts: [],
        reserved: [],
        leakCandidates: new Map(),
        now: 0,
        holdoffMs: HOLDOFF,
        ...c.input,
      });
      assert.deepEqual(plan.reserve, c.reserve ?? []);
      assert.deepEqual(plan.free, c.free ?? []);
      assert.deepEqual([...plan.leakCandidates], c.candidates ?? []);
      assert.deepEqual(plan.report.duplicates, c.duplicates ?? []);
      assert.deepEqual(plan.report.outsidePools, c.outsidePools ?? []);
      assert.deepEqual(plan.report.invalid, c.invalid ?? []);
      assert.deepEqual(plan.held, c.held ?? []);
      const firstSeen = [...plan.leakCandidates.values()].map((x) => x.firstSeenAt);
      const due = firstSeen.length === 0 ? undefined : Math.min(...firstSeen) + HOLDOFF + 1;
      assert.equal(plan.nextFreeAt, due);
    });
  }
});

Deno.test("planRepair() frees a crash's stranded port on the pass right after its holdoff", () => {
  let candidates: ReadonlyMap<number, LeakSighting> = new Map();
  const frees: number[][] = [];
  let now = 5_000; // the first pass after a restart
  for (let pass = 0; pass < 2; pass++) {
    const plan = planRepair({ hostPorts: [], reserved: [9005], leakCandidates: candidates, now });
    frees.push([...plan.free]);
    candidates = plan.leakCandidates;
    now = plan.nextFreeAt ?? now; // the repair loop runs the next pass exactly then
  }
  assert.deepEqual(frees, [[], [9005]]);
  assert.equal(now, 5_000 + 90_000 + 1);
  assert.equal(candidates.size, 0);
});

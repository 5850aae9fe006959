import assert from "node:assert/strict";
import {
  type LeakSighting,
  planRepair,
  type RepairHostPort,
  type RepairInput,
} from "./plan_repair.ts";

const POOLS = [{ start: 9000, end: 9099 }];
const HOLDOFF = 90_000;

function hp(name: string, port: number, pools: RepairHostPort["pools"] = POOLS): RepairHostPort {
  return { name, port, className: "games", pools };
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
  outOfPool?: { hostPort: string; port: number }[];
  invalid?: { hostPort: string; port: number }[];
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
    outOfPool: [{ hostPort: "a", port: 8000 }],
    held: [8000],
  },
  {
    name: "a HostPort whose class is missing is not checked against pools",
    input: {
      hostPorts: [{ name: "a", port: 8000, className: "gone", pools: undefined }],
      reserved: [8000],
    },
    held: [8000],
  },
  {
    name: "a status port that is not a port is reported and ignored",
    input: { hostPorts: [hp("a", 70000)], reserved: [] },
    invalid: [{ hostPort: "a", port: 70000 }],
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
      assert.deepEqual(plan.report.outOfPool, c.outOfPool ?? []);
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

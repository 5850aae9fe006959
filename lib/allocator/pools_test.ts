import assert from "node:assert/strict";
import fc from "fast-check";
import type { PortRange } from "./port_bitmap.ts";
import {
  type ClassOverlap,
  type ClassPools,
  findClassOverlaps,
  type PoolProblem,
  validatePools,
} from "./pools.ts";

const poolCases: { name: string; pools: PortRange[]; problems: PoolProblem[] }[] = [
  {
    name: "accepts a single pool",
    pools: [{ start: 9000, end: 9100 }],
    problems: [],
  },
  {
    name: "accepts disjoint, adjacent and single-port pools in any order",
    pools: [{ start: 9500, end: 9600 }, { start: 9000, end: 9000 }, { start: 9001, end: 9499 }],
    problems: [],
  },
  {
    name: "accepts the whole port space",
    pools: [{ start: 1, end: 65535 }],
    problems: [],
  },
  {
    name: "rejects an empty list",
    pools: [],
    problems: [{ message: "At least one pool is required" }],
  },
  {
    name: "rejects start 0",
    pools: [{ start: 0, end: 10 }],
    problems: [{
      index: 0,
      field: "start",
      message: "Start must be an integer from 1 to 65535, got 0",
    }],
  },
  {
    name: "rejects end above 65535",
    pools: [{ start: 9000, end: 65536 }],
    problems: [{
      index: 0,
      field: "end",
      message: "End must be an integer from 1 to 65535, got 65536",
    }],
  },
  {
    name: "rejects non-integer and non-finite bounds, both on one pool",
    pools: [{ start: 1.5, end: Number.NaN }],
    problems: [
      { index: 0, field: "start", message: "Start must be an integer from 1 to 65535, got 1.5" },
      { index: 0, field: "end", message: "End must be an integer from 1 to 65535, got NaN" },
    ],
  },
  {
    name: "rejects a negative start on the second pool",
    pools: [{ start: 100, end: 200 }, { start: -5, end: 10 }],
    problems: [{
      index: 1,
      field: "start",
      message: "Start must be an integer from 1 to 65535, got -5",
    }],
  },
  {
    name: "rejects start greater than end with the original's message",
    pools: [{ start: 9000, end: 8000 }],
    problems: [{ index: 0, field: "end", message: "End must be greater or equal to start" }],
  },
  {
    name: "names both pools and the shared ports of an overlap",
    pools: [{ start: 9000, end: 9100 }, { start: 9050, end: 9200 }],
    problems: [{
      index: 1,
      message: "Pool 1 (9050-9200) overlaps pool 0 (9000-9100) on ports 9050-9100",
    }],
  },
  {
    name: "says port for an overlap of one port",
    pools: [{ start: 9000, end: 9000 }, { start: 8990, end: 9000 }],
    problems: [{ index: 1, message: "Pool 1 (8990-9000) overlaps pool 0 (9000) on port 9000" }],
  },
  {
    name: "reports a pool contained in another, and identical pools",
    pools: [{ start: 1, end: 100 }, { start: 40, end: 60 }, { start: 1, end: 100 }],
    problems: [
      { index: 1, message: "Pool 1 (40-60) overlaps pool 0 (1-100) on ports 40-60" },
      { index: 2, message: "Pool 2 (1-100) overlaps pool 0 (1-100) on ports 1-100" },
      { index: 2, message: "Pool 2 (1-100) overlaps pool 1 (40-60) on ports 40-60" },
    ],
  },
  {
    name: "leaves pools with bad bounds out of the overlap check",
    pools: [{ start: 10, end: 20 }, { start: 30, end: 5 }, { start: 0, end: 15 }],
    problems: [
      { index: 1, field: "end", message: "End must be greater or equal to start" },
      { index: 2, field: "start", message: "Start must be an integer from 1 to 65535, got 0" },
    ],
  },
];

for (const { name, pools, problems } of poolCases) {
  Deno.test(`validatePools() ${name}`, () => {
    assert.deepEqual(validatePools(pools), problems);
  });
}

Deno.test("validatePools() reports an overlap exactly for the pairs of valid pools that share a port", () => {
  const pool = fc.record({
    start: fc.integer({ min: 1, max: 100 }),
    end: fc.integer({ min: 1, max: 100 }),
  });
  fc.assert(
    fc.property(fc.array(pool, { minLength: 1, maxLength: 6 }), (pools) => {
      const expected: number[] = [];
      pools.forEach((a, i) => {
        pools.slice(0, i).forEach((b) => {
          const shares = a.start <= a.end && b.start <= b.end && a.start <= b.end &&
            b.start <= a.end;
          if (shares) expected.push(i);
        });
      });
      const overlaps = validatePools(pools).filter((p) => p.message.includes("overlaps"));
      assert.deepEqual(overlaps.map((p) => p.index), expected);
    }),
    { numRuns: 1000 },
  );
});

const overlapCases: { name: string; classes: ClassPools[]; overlaps: ClassOverlap[] }[] = [
  {
    name: "finds nothing for disjoint and adjacent classes",
    classes: [
      { name: "a", pools: [{ start: 9000, end: 9099 }] },
      { name: "b", pools: [{ start: 9100, end: 9200 }] },
    ],
    overlaps: [],
  },
  {
    name: "finds nothing for fewer than two classes",
    classes: [{ name: "a", pools: [{ start: 1, end: 65535 }] }],
    overlaps: [],
  },
  {
    name: "reports the shared range of two classes",
    classes: [
      { name: "a", pools: [{ start: 9000, end: 9100 }] },
      { name: "b", pools: [{ start: 9050, end: 9200 }] },
    ],
    overlaps: [{
      classes: ["a", "b"],
      ranges: [{ start: 9050, end: 9100 }],
      message: 'Class "a" shares ports 9050-9100 with class "b"',
    }],
  },
  {
    name: "says port for one shared port",
    classes: [
      { name: "a", pools: [{ start: 9000, end: 9000 }] },
      { name: "b", pools: [{ start: 8000, end: 9000 }] },
    ],
    overlaps: [{
      classes: ["a", "b"],
      ranges: [{ start: 9000, end: 9000 }],
      message: 'Class "a" shares port 9000 with class "b"',
    }],
  },
  {
    name: "merges pools and lists every shared range once, ascending",
    classes: [
      { name: "a", pools: [{ start: 20, end: 30 }, { start: 1, end: 10 }, { start: 5, end: 12 }] },
      { name: "b", pools: [{ start: 8, end: 25 }, { start: 9, end: 9 }] },
    ],
    overlaps: [{
      classes: ["a", "b"],
      ranges: [{ start: 8, end: 12 }, { start: 20, end: 25 }],
      message: 'Class "a" shares ports 8-12, 20-25 with class "b"',
    }],
  },
  {
    name: "reports every overlapping pair in input order",
    classes: [
      { name: "a", pools: [{ start: 1, end: 10 }] },
      { name: "b", pools: [{ start: 100, end: 200 }] },
      { name: "c", pools: [{ start: 10, end: 100 }] },
    ],
    overlaps: [
      {
        classes: ["a", "c"],
        ranges: [{ start: 10, end: 10 }],
        message: 'Class "a" shares port 10 with class "c"',
      },
      {
        classes: ["b", "c"],
        ranges: [{ start: 100, end: 100 }],
        message: 'Class "b" shares port 100 with class "c"',
      },
    ],
  },
  {
    name: "ignores empty pools and pools with bounds that are not ports",
    classes: [
      { name: "a", pools: [{ start: 50, end: 10 }, { start: 0, end: 5 }] },
      { name: "b", pools: [{ start: 1, end: 100 }] },
    ],
    overlaps: [],
  },
];

for (const { name, classes, overlaps } of overlapCases) {
  Deno.test(`findClassOverlaps() ${name}`, () => {
    assert.deepEqual(findClassOverlaps(classes), overlaps);
  });
}

function portsOf(pools: readonly { start: number; end: number }[]): Set<number> {
  const ports = new Set<number>();
  for (const pool of pools) for (let p = pool.start; p <= pool.end; p++) ports.add(p);
  return ports;
}

Deno.test("findClassOverlaps() lists exactly the ports each pair of classes shares", () => {
  const pool = fc.record({
    start: fc.integer({ min: 1, max: 120 }),
    end: fc.integer({ min: 1, max: 120 }),
  });
  const classes = fc.array(fc.array(pool, { maxLength: 4 }), { maxLength: 4 });
  fc.assert(
    fc.property(classes, (poolSets) => {
      const input = poolSets.map((pools, i) => ({ name: `c${i}`, pools }));
      const found = new Map(findClassOverlaps(input).map((o) => [o.classes.join(), o.ranges]));
      for (let i = 0; i < input.length; i++) {
        for (let j = i + 1; j < input.length; j++) {
          const b = portsOf(poolSets[j] ?? []);
          const shared = [...portsOf(poolSets[i] ?? [])].filter((p) => b.has(p)).sort((x, y) =>
            x - y
          );
          const ranges = found.get(`c${i},c${j}`) ?? [];
          assert.deepEqual([...portsOf(ranges)], shared);
          ranges.slice(1).forEach((r, k) => assert.ok(r.start > (ranges[k]?.end ?? 0) + 1));
        }
      }
      assert.equal(found.size, [...found.values()].filter((r) => r.length > 0).length);
    }),
    { numRuns: 1000 },
  );
});

import assert from "node:assert/strict";
import fc from "fast-check";
import { findClassOverlaps } from "./class_overlaps.ts";
import type { ClassOverlap, ClassPools } from "./class_overlaps.ts";

const cases: { name: string; classes: ClassPools[]; overlaps: ClassOverlap[] }[] = [
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

for (const { name, classes, overlaps } of cases) {
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

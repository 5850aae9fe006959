import assert from "node:assert/strict";
import fc from "fast-check";
import type { PortRange } from "./port_bitmap.ts";
import { type PoolProblem, portsPhrase, sharedPorts, validatePools } from "./pools.ts";

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

const sharedCases: { name: string; a: PortRange[]; b: PortRange[]; shared: PortRange[] }[] = [
  {
    name: "finds nothing for disjoint and adjacent pools",
    a: [{ start: 9000, end: 9099 }],
    b: [{ start: 9100, end: 9200 }],
    shared: [],
  },
  {
    name: "finds the shared range of two pools",
    a: [{ start: 9000, end: 9100 }],
    b: [{ start: 9050, end: 9200 }],
    shared: [{ start: 9050, end: 9100 }],
  },
  {
    name: "finds one shared port",
    a: [{ start: 9000, end: 9000 }],
    b: [{ start: 8000, end: 9000 }],
    shared: [{ start: 9000, end: 9000 }],
  },
  {
    name: "merges pools and lists every shared range once, ascending",
    a: [{ start: 20, end: 30 }, { start: 1, end: 10 }, { start: 5, end: 12 }],
    b: [{ start: 8, end: 25 }, { start: 9, end: 9 }],
    shared: [{ start: 8, end: 12 }, { start: 20, end: 25 }],
  },
  {
    name: "ignores empty pools and pools with bounds that are not ports",
    a: [{ start: 50, end: 10 }, { start: 0, end: 5 }],
    b: [{ start: 1, end: 100 }],
    shared: [],
  },
];

for (const { name, a, b, shared } of sharedCases) {
  Deno.test(`sharedPorts() ${name}`, () => {
    assert.deepEqual(sharedPorts(a, b), shared);
  });
}

Deno.test("portsPhrase() says port for one port, ports otherwise", () => {
  assert.equal(portsPhrase([{ start: 9000, end: 9000 }]), "port 9000");
  assert.equal(portsPhrase([{ start: 9000, end: 9001 }]), "ports 9000-9001");
  assert.equal(portsPhrase([{ start: 8, end: 12 }, { start: 20, end: 20 }]), "ports 8-12, 20");
});

function portsOf(pools: readonly { start: number; end: number }[]): Set<number> {
  const ports = new Set<number>();
  for (const pool of pools) for (let p = pool.start; p <= pool.end; p++) ports.add(p);
  return ports;
}

Deno.test("sharedPorts() lists exactly the ports two lists of pools share", () => {
  const pool = fc.record({
    start: fc.integer({ min: 1, max: 120 }),
    end: fc.integer({ min: 1, max: 120 }),
  });
  const pools = fc.array(pool, { maxLength: 4 });
  fc.assert(
    fc.property(pools, pools, (a, b) => {
      const ranges = sharedPorts(a, b);
      const other = portsOf(b);
      const shared = [...portsOf(a)].filter((p) => other.has(p)).sort((x, y) => x - y);
      assert.deepEqual([...portsOf(ranges)], shared);
      ranges.slice(1).forEach((r, k) => assert.ok(r.start > (ranges[k]?.end ?? 0) + 1));
    }),
    { numRuns: 1000 },
  );
});

import assert from "node:assert/strict";
import fc from "fast-check";
import type { PortRange } from "./port_range.ts";
import { validatePools } from "./validate_pools.ts";
import type { PoolProblem } from "./validate_pools.ts";

const cases: { name: string; pools: PortRange[]; problems: PoolProblem[] }[] = [
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

for (const { name, pools, problems } of cases) {
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

/**
 * Property tests: random pool sets and random sequences of operations, each checked against a
 * deliberately simple reference model (a Set of held ports and the original's linear scan).
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import type { PortRange } from "./port_bitmap.ts";
import { PortRegistry, type RestoreReport } from "./port_registry.ts";

/** The original's method: a Set of held ports and a scan of the pools in order. */
class ReferenceModel {
  held = new Set<number>();

  firstFree(pools: readonly PortRange[]): number | undefined {
    for (const pool of pools) {
      for (let port = pool.start; port <= pool.end; port++) {
        if (!this.held.has(port)) return port;
      }
    }
    return undefined;
  }

  countIn(pools: readonly PortRange[]): { capacity: number; allocated: number } {
    const marks = new Uint8Array(65536);
    let capacity = 0;
    for (const pool of pools) {
      for (let p = pool.start; p <= pool.end; p++) {
        if (marks[p] === 0) capacity++;
        marks[p] = 1;
      }
    }
    let allocated = 0;
    for (const port of this.held) allocated += marks[port] ?? 0;
    return { capacity, allocated };
  }
}

type Op =
  | { kind: "next"; cls: number }
  | { kind: "take"; port: number }
  | { kind: "release"; port: number }
  | { kind: "restore"; blocks: { start: number; length: number; cls: number }[] };

interface Scenario {
  classes: PortRange[][];
  ops: Op[];
}

const inPools = (pools: readonly PortRange[], port: number) =>
  pools.some((pool) => port >= pool.start && port <= pool.end);

function restoreEntries(scenario: Scenario, op: Extract<Op, { kind: "restore" }>) {
  return op.blocks.flatMap(({ start, length, cls }, block) =>
    Array.from({ length }, (_, i) => ({
      holder: `b${block}-${i}`,
      port: start + i > 65535 ? 0 : start + i,
      pools: cls < scenario.classes.length ? scenario.classes[cls] : undefined,
    }))
  );
}

function expectedReport(entries: ReturnType<typeof restoreEntries>): RestoreReport<string> {
  const holders = new Map<number, string[]>();
  const outsidePools: { holder: string; port: number }[] = [];
  const invalid: { holder: string; port: number }[] = [];
  for (const { holder, port, pools } of entries) {
    if (port < 1 || port > 65535) {
      invalid.push({ holder, port });
      continue;
    }
    if (pools !== undefined && !inPools(pools, port)) outsidePools.push({ holder, port });
    holders.set(port, [...(holders.get(port) ?? []), holder]);
  }
  const duplicates = [...holders].filter(([, h]) => h.length > 1).sort(([a], [b]) => a - b)
    .map(([port, h]) => ({ port, holders: h }));
  return { duplicates, outsidePools, invalid };
}

/** Runs one operation on both, asserting the registry answers exactly like the model. */
function step(registry: PortRegistry, model: ReferenceModel, scenario: Scenario, op: Op): void {
  const poolsOf = (cls: number) => scenario.classes[cls % scenario.classes.length] ?? [];
  if (op.kind === "next") {
    const pools = poolsOf(op.cls);
    const want = model.firstFree(pools);
    const got = registry.allocateNext(pools);
    if (got.ok) {
      assert.ok(!model.held.has(got.port), `port ${got.port} handed out twice`);
      assert.ok(inPools(pools, got.port), `port ${got.port} is outside the class's pools`);
      model.held.add(got.port);
    }
    assert.deepEqual(got, want === undefined ? { ok: false } : { ok: true, port: want });
  } else if (op.kind === "take") {
    assert.equal(registry.allocate(op.port), !model.held.has(op.port));
    model.held.add(op.port);
  } else if (op.kind === "release") {
    assert.equal(registry.release(op.port), model.held.delete(op.port));
    assert.equal(registry.has(op.port), false);
    if (op.port >= 1 && op.port <= 65535) {
      // Available again: a one-port class can take it, and giving it back restores the state.
      const alone = [{ start: op.port, end: op.port }];
      assert.deepEqual(registry.allocateNext(alone), { ok: true, port: op.port });
      assert.equal(registry.release(op.port), true);
    }
  } else {
    const entries = restoreEntries(scenario, op);
    assert.deepEqual(registry.restore(entries), expectedReport(entries));
    model.held = new Set(entries.map((e) => e.port).filter((p) => p >= 1 && p <= 65535));
  }
}

/** State that must hold after every step: same held ports, and counts that add up. */
function checkState(registry: PortRegistry, model: ReferenceModel, scenario: Scenario): void {
  assert.deepEqual(registry.snapshot(), [...model.held].sort((a, b) => a - b));
  for (const pools of scenario.classes) {
    const usage = registry.usage(pools);
    const want = model.countIn(pools);
    assert.equal(usage.capacity, want.capacity);
    assert.equal(usage.allocated, want.allocated);
    assert.equal(usage.free, want.capacity - want.allocated);
    usage.pools.forEach((counts, i) => {
      const pool = pools[i] as PortRange;
      const one = model.countIn([pool]);
      assert.deepEqual(counts, { ...pool, ...one, free: one.capacity - one.allocated });
    });
  }
}

function runScenario(scenario: Scenario): void {
  const registry = new PortRegistry();
  const model = new ReferenceModel();
  for (const op of scenario.ops) {
    step(registry, model, scenario, op);
    checkState(registry, model, scenario);
  }
}

function scenarioArb(port: fc.Arbitrary<number>, maxPool: number, maxBlock: number) {
  const pool = fc.tuple(port, fc.integer({ min: -3, max: maxPool })).map(([start, len]) => ({
    start,
    end: Math.max(1, Math.min(65535, start + len)),
  }));
  const cls = fc.nat({ max: 5 });
  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 5, arbitrary: fc.record({ kind: fc.constant("next" as const), cls }) },
    {
      weight: 2,
      arbitrary: fc.record({ kind: fc.constant("take" as const), port }),
    },
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant("release" as const),
        port: fc.oneof({ weight: 9, arbitrary: port }, { weight: 1, arbitrary: fc.constant(0) }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant("restore" as const),
        blocks: fc.array(
          fc.record({ start: port, length: fc.integer({ min: 1, max: maxBlock }), cls }),
          { maxLength: 3 },
        ),
      }),
    },
  );
  return fc.record({
    classes: fc.array(fc.array(pool, { minLength: 1, maxLength: 4 }), {
      minLength: 1,
      maxLength: 4,
    }),
    ops: fc.array(op, { minLength: 1, maxLength: 40 }),
  });
}

Deno.test("PortRegistry matches the reference model on small, dense windows", () => {
  // Windows around port 1, a summary block boundary (1024) and the top of the port space.
  const port = fc.oneof(
    fc.integer({ min: 1, max: 200 }),
    fc.integer({ min: 990, max: 1100 }),
    fc.integer({ min: 65400, max: 65535 }),
  );
  fc.assert(fc.property(scenarioArb(port, 120, 150), runScenario), { numRuns: 1000 });
});

Deno.test("PortRegistry matches the reference model on wide pools over large held blocks", () => {
  // Blocks of up to 2,100 held ports fill whole 1,024-port summary blocks, so scans skip them.
  const port = fc.oneof(fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 60000, max: 65535 }));
  const scenario = scenarioArb(port, 6000, 2100).map((s) => ({ ...s, ops: s.ops.slice(0, 12) }));
  fc.assert(fc.property(scenario, runScenario), { numRuns: 1000 });
});

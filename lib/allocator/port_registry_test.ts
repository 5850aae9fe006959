import assert from "node:assert/strict";
import { InvalidPortError } from "./port_bitmap.ts";
import { InvalidPoolError, PortRegistry } from "./port_registry.ts";

function registryHolding(ports: number[]): PortRegistry {
  const registry = new PortRegistry();
  for (const port of ports) assert.equal(registry.allocate(port), true);
  return registry;
}

Deno.test("allocateNext() walks pools in listed order, not port order", () => {
  const registry = new PortRegistry();
  const pools = [{ start: 9500, end: 9600 }, { start: 9000, end: 9000 }];
  assert.deepEqual(registry.allocateNext(pools), { ok: true, port: 9500 });
  assert.deepEqual(registry.allocateNext(pools), { ok: true, port: 9501 });
});

Deno.test("allocateNext() skips ports held through another class", () => {
  const registry = new PortRegistry();
  const c1 = [{ start: 9000, end: 9002 }];
  const c2 = [{ start: 9002, end: 9005 }];
  for (const want of [9000, 9001, 9002]) {
    assert.deepEqual(registry.allocateNext(c1), { ok: true, port: want });
  }
  assert.deepEqual(registry.allocateNext(c2), { ok: true, port: 9003 });
  assert.deepEqual(registry.allocateNext(c1), { ok: false });
});

Deno.test("allocateNext() exhausts a small range, then reuses released ports lowest first", () => {
  const registry = new PortRegistry();
  const pools = [{ start: 100, end: 104 }];
  const got = Array.from({ length: 5 }, () => registry.allocateNext(pools));
  assert.deepEqual(got.map((r) => r.ok && r.port), [100, 101, 102, 103, 104]);
  assert.deepEqual(registry.allocateNext(pools), { ok: false });
  assert.equal(registry.release(103), true);
  assert.equal(registry.release(101), true);
  assert.deepEqual(registry.allocateNext(pools), { ok: true, port: 101 });
  assert.deepEqual(registry.allocateNext(pools), { ok: true, port: 103 });
  assert.deepEqual(registry.allocateNext(pools), { ok: false });
});

Deno.test("allocateNext() moves to the next pool when one is full and skips empty pools", () => {
  const registry = registryHolding([10, 11]);
  const pools = [{ start: 10, end: 11 }, { start: 30, end: 20 }, { start: 50, end: 51 }];
  assert.deepEqual(registry.allocateNext(pools), { ok: true, port: 50 });
});

Deno.test("allocateNext() returns ok false for no pools or only empty pools", () => {
  const registry = new PortRegistry();
  assert.deepEqual(registry.allocateNext([]), { ok: false });
  assert.deepEqual(registry.allocateNext([{ start: 9, end: 8 }]), { ok: false });
  assert.deepEqual(registry.snapshot(), []);
});

Deno.test("allocateNext() hands out all 65,535 ports of 1-65535 once each, then ok false", () => {
  const registry = new PortRegistry();
  const pools = [{ start: 1, end: 65535 }];
  for (let want = 1; want <= 65535; want++) {
    const result = registry.allocateNext(pools);
    if (!result.ok || result.port !== want) {
      assert.fail(`expected port ${want}, got ${JSON.stringify(result)}`);
    }
  }
  assert.deepEqual(registry.allocateNext(pools), { ok: false });
  assert.deepEqual(registry.usage(pools), {
    capacity: 65535,
    allocated: 65535,
    free: 0,
    pools: [{ start: 1, end: 65535, capacity: 65535, allocated: 65535, free: 0 }],
  });
  assert.equal(registry.release(40000), true);
  assert.deepEqual(registry.allocateNext(pools), { ok: true, port: 40000 });
});

Deno.test("allocate() refuses a held port without changes", () => {
  const registry = registryHolding([9050]);
  assert.equal(registry.allocate(9050), false);
  assert.deepEqual(registry.snapshot(), [9050]);
});

Deno.test("allocate() takes any free port", () => {
  const registry = new PortRegistry();
  assert.equal(registry.allocate(1), true);
  assert.equal(registry.allocate(65535), true);
  assert.deepEqual(registry.allocateNext([{ start: 1, end: 2 }]), { ok: true, port: 2 });
});

const badPorts = [0, -1, 65536, 1.5, Number.NaN, Number.POSITIVE_INFINITY];

Deno.test("allocate() throws InvalidPortError for values that are not ports", () => {
  const registry = new PortRegistry();
  for (const port of badPorts) {
    assert.throws(() => registry.allocate(port), (error: unknown) => {
      assert.ok(error instanceof InvalidPortError);
      assert.equal(error.name, "InvalidPortError");
      assert.equal(error.message, `Port must be an integer from 1 to 65535, got ${port}`);
      return true;
    });
  }
  assert.deepEqual(registry.snapshot(), []);
});

Deno.test("allocateNext() and usage() throw InvalidPoolError for bad bounds", () => {
  const registry = new PortRegistry();
  const pools = [{ start: 9000, end: 9001 }, { start: 0, end: 10 }];
  const check = (error: unknown) => {
    assert.ok(error instanceof InvalidPoolError);
    assert.equal(error.name, "InvalidPoolError");
    assert.equal(error.index, 1);
    assert.equal(error.message, "Pool 1 must have integer bounds from 1 to 65535, got 0-10");
    return true;
  };
  assert.throws(() => registry.allocateNext(pools), check);
  assert.throws(() => registry.usage(pools), check);
  assert.deepEqual(registry.snapshot(), []);
});

Deno.test("release() is idempotent, reports whether the port was held and never throws", () => {
  const registry = registryHolding([9000]);
  assert.equal(registry.release(9000), true);
  assert.equal(registry.release(9000), false);
  assert.equal(registry.has(9000), false);
  for (const port of badPorts) {
    assert.equal(registry.release(port), false);
    assert.equal(registry.has(port), false);
  }
});

Deno.test("usage() counts ports held through any class as allocated, not free", () => {
  const registry = registryHolding([9000, 9001, 9100, 20000]);
  const pools = [{ start: 9000, end: 9009 }, { start: 9005, end: 9100 }, { start: 5, end: 4 }];
  assert.deepEqual(registry.usage(pools), {
    capacity: 101,
    allocated: 3,
    free: 98,
    pools: [
      { start: 9000, end: 9009, capacity: 10, allocated: 2, free: 8 },
      { start: 9005, end: 9100, capacity: 96, allocated: 1, free: 95 },
      { start: 5, end: 4, capacity: 0, allocated: 0, free: 0 },
    ],
  });
  assert.deepEqual(registry.usage([]), { capacity: 0, allocated: 0, free: 0, pools: [] });
});

Deno.test("restore() replaces the state and reports duplicates, outside and invalid ports", () => {
  const registry = registryHolding([1, 2, 3]);
  const pools = [{ start: 9000, end: 9010 }];
  const report = registry.restore([
    { holder: "a", port: 9000, pools },
    { holder: "b", port: 9005, pools },
    { holder: "c", port: 9000, pools },
    { holder: "d", port: 8000, pools },
    { holder: "e", port: 0, pools },
    { holder: "f", port: 9000 },
    { holder: "g", port: 12345 },
    { holder: "h", port: 9005, pools: [] },
  ]);
  assert.deepEqual(report, {
    duplicates: [{ port: 9000, holders: ["a", "c", "f"] }, { port: 9005, holders: ["b", "h"] }],
    outsidePools: [{ holder: "d", port: 8000 }, { holder: "h", port: 9005 }],
    invalid: [{ holder: "e", port: 0 }],
  });
  assert.deepEqual(registry.snapshot(), [8000, 9000, 9005, 12345]);
  assert.deepEqual(registry.allocateNext(pools), { ok: true, port: 9001 });
});

Deno.test("restore() of nothing empties the registry", () => {
  const registry = registryHolding([5, 6]);
  assert.deepEqual(registry.restore([]), { duplicates: [], outsidePools: [], invalid: [] });
  assert.deepEqual(registry.snapshot(), []);
});

import assert from "node:assert/strict";
import { claimSpec, leaderRecord, mayAcquire, releaseSpec } from "./lease.ts";

const T0 = Date.UTC(2026, 4, 1);

Deno.test("mayAcquire() allows a free, own or locally expired lease only", async (t) => {
  const record = (holderIdentity: string) => ({
    holderIdentity,
    leaseDurationSeconds: 15,
    acquireTime: undefined,
    leaseTransitions: 0,
  });
  const cases = [
    { name: "no holder", holder: "", observedAtMs: T0, nowMs: T0, expected: true },
    { name: "held by me", holder: "me", observedAtMs: T0, nowMs: T0, expected: true },
    {
      name: "held by another, fresh",
      holder: "other",
      observedAtMs: T0,
      nowMs: T0 + 14_999,
      expected: false,
    },
    {
      name: "held by another, expired",
      holder: "other",
      observedAtMs: T0,
      nowMs: T0 + 15_000,
      expected: true,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const observation = { record: record(c.holder), observedAtMs: c.observedAtMs };
      assert.equal(mayAcquire(observation, "me", c.nowMs), c.expected);
    });
  }
});

Deno.test("claimSpec() counts a transition on takeover and keeps the acquire time on renewal", () => {
  const created = claimSpec(undefined, "me", T0, 15_000);
  assert.deepEqual(created, {
    holderIdentity: "me",
    leaseDurationSeconds: 15,
    acquireTime: "2026-05-01T00:00:00.000000Z",
    renewTime: "2026-05-01T00:00:00.000000Z",
    leaseTransitions: 0,
  });
  const renewed = claimSpec(leaderRecord(created), "me", T0 + 2_000, 15_000);
  assert.equal(renewed.acquireTime, created.acquireTime);
  assert.equal(renewed.renewTime, "2026-05-01T00:00:02.000000Z");
  assert.equal(renewed.leaseTransitions, 0);
  const taken = claimSpec(leaderRecord(renewed), "other", T0 + 20_000, 2_500);
  assert.equal(taken.holderIdentity, "other");
  assert.equal(taken.acquireTime, "2026-05-01T00:00:20.000000Z");
  assert.equal(taken.leaseTransitions, 1);
  assert.equal(taken.leaseDurationSeconds, 3); // whole seconds, rounded up
});

Deno.test("releaseSpec() clears the holder and shortens the lease", () => {
  const held = leaderRecord(claimSpec(undefined, "me", T0, 15_000));
  const released = releaseSpec({ ...held, leaseTransitions: 4 }, T0 + 1_000);
  assert.equal(released.holderIdentity, "");
  assert.equal(released.leaseDurationSeconds, 1);
  assert.equal(released.leaseTransitions, 4);
  assert.equal(
    mayAcquire({ record: leaderRecord(released), observedAtMs: T0 + 1_000 }, "other", T0 + 1_000),
    true,
  );
});

Deno.test("leaderRecord() reads a missing spec as a free lease", () => {
  assert.deepEqual(leaderRecord(undefined), {
    holderIdentity: "",
    leaseDurationSeconds: 0,
    acquireTime: undefined,
    leaseTransitions: 0,
  });
});

/**
 * The operator as a real OS process, SIGKILLed three times during a burst of 500 claims against
 * a class of exactly 500 ports (twice while ports are being allocated, once while claims are
 * being bound). No port is ever held twice. A kill can only strand reservations it committed but
 * never wrote into a HostPort (rule 2: leaking beats double-allocating), and those are exactly
 * what repair then frees. After that every claim is Bound to its own port, the record reserves
 * exactly the held ports, and deleting every claim leaves no HostPort and no reserved port.
 *
 * The operator has no flag for its repair interval (3 min), and frees a leak only on the third
 * pass that saw it, over more than 90 s; so the test runs the operator's own `AllocationRepair`
 * itself, with a holdoff just over the reservation TTL (see `REPAIR_HOLDOFF_MS`).
 */
import { CONTROLLER_DEFAULTS } from "../lib/controller/mod.ts";
import assert from "node:assert/strict";
import { DEFAULT_RESERVATION_TTL_MS } from "../lib/allocation/mod.ts";
import { adminClients, classObject, ensureNamespace } from "./controller_harness.ts";
import { startControlPlane } from "./controlplane/harness.ts";
import { claimNames, createClaims, deleteClaims } from "./process_claims.ts";
import { metricValue, OPERATOR_NAMESPACE, ProcessOperators } from "./process_operators.ts";
import {
  assertPortsUnique,
  auditPorts,
  auditUntil,
  describeAudit,
  repairLeaks,
} from "./process_ports.ts";
import { watchAllocatedHostPorts, watchBoundClaims } from "./progress_watch.ts";

const NAMESPACE = "kill-burst";
const CLASS = "five-hundred";
const POOLS = [{ start: 20000, end: 20249 }, { start: 21000, end: 21249 }];
const CLAIMS = 500;
/** Kill points: twice while HostPorts get ports, once while claims turn Bound. */
const KILLS = [
  { when: "allocated", count: 100 },
  { when: "allocated", count: 250 },
  { when: "bound", count: 400 },
] as const;
/** The operator's HostPort workers: each holds at most one reservation not yet written. */
const HOST_PORT_WORKERS = CONTROLLER_DEFAULTS.hostPortWorkers;
/**
 * Holdoff of the test's repair passes. The design's default adds the API server's request
 * timeout (60 s) to the reservation TTL (30 s), for status writes still in flight at the API
 * server; here the killed processes are long gone and the live one has nothing to allocate
 * (every port is held or stranded), so none can be in flight, and the TTL still covers rule 2.
 */
const REPAIR_HOLDOFF_MS = DEFAULT_RESERVATION_TTL_MS + 2_000;
const WAIT_MS = 120_000;

Deno.test("SIGKILLed three times mid-burst, the operator binds 500 claims to 500 distinct ports and frees them all", async (t) => {
  await using cp = await startControlPlane();
  using kube = await adminClients(cp);
  await using operators = await ProcessOperators.prepare(cp);
  await ensureNamespace(kube, NAMESPACE);
  await kube.hostPortClasses.create(classObject(CLASS, POOLS.map((p) => [p.start, p.end])));
  const audit = () =>
    auditPorts(kube, { namespace: NAMESPACE, operatorNamespace: OPERATOR_NAMESPACE, pools: POOLS });
  const describe = async () => describeAudit(await audit());
  let operator = await operators.start("operator-1");
  let leaked: number[] = [];

  await t.step("a 500-claim burst survives three SIGKILLs without a duplicate port", async () => {
    await using bound = watchBoundClaims(kube, NAMESPACE);
    await using allocated = watchAllocatedHostPorts(kube);
    const creating = createClaims(kube, NAMESPACE, CLASS, claimNames(CLAIMS), { inFlight: 25 });
    try {
      for (const [i, kill] of KILLS.entries()) {
        await (kill.when === "bound" ? bound : allocated).waitFor(kill.count, WAIT_MS, describe);
        await operators.kill(operator);
        console.log(`SIGKILL ${i + 1} at ${allocated.count} allocated, ${bound.count} bound`);
        assertPortsUnique(await audit());
        operator = await operators.start(`operator-${i + 2}`);
      }
    } finally {
      await creating;
    }
    // Settled: every port held or stranded, every holder's claim Bound, the others Pending for
    // want of a port, and the stranded ports unchanged for a second (no write in flight).
    let stable = { at: 0, leaked: "-" };
    const settled = await auditUntil("the burst to settle", audit, (a) => {
      const done = a.hostPorts === CLAIMS && a.held.length + a.leaked.length === CLAIMS &&
        a.claimPhases["Bound"] === a.held.length &&
        a.unbound.every((claim) => /Pending, PoolExhausted/.test(claim));
      const leakedNow = done ? a.leaked.join() : "-";
      if (leakedNow !== stable.leaked) stable = { at: performance.now(), leaked: leakedNow };
      return done && performance.now() - stable.at >= 1_000;
    }, WAIT_MS);
    console.log(`settled: ${describeAudit(settled)}`);
    assertPortsUnique(settled);
    leaked = settled.leaked;
  });

  await t.step(
    "the kills stranded a few reservations, and repair frees exactly those",
    async () => {
      assert.ok(
        leaked.length <= KILLS.length * HOST_PORT_WORKERS,
        `at most ${HOST_PORT_WORKERS} stranded ports per kill: ${leaked.join(", ")}`,
      );
      assert.equal(
        await metricValue(operator, "hostport_repair_leak_candidates"),
        leaked.length,
        "the restarted operator's first repair pass counts them as leak candidates",
      );
      if (leaked.length === 0) return;
      const repaired = await repairLeaks(kube, OPERATOR_NAMESPACE, leaked, {
        holdoffMs: REPAIR_HOLDOFF_MS,
        maxPasses: 5,
      });
      assert.deepEqual(repaired.freed, leaked, "repair frees exactly the stranded ports");
      assert.equal(repaired.duplicates, 0);
      // A port freed by another writer reaches the operator at its next repair pass (every
      // 3 min) or at start: restart it rather than wait.
      assert.equal((await operator.stop()).code, 0, "SIGTERM ends the operator cleanly");
      operator = await operators.start("operator-after-repair");
    },
  );

  await t.step("all 500 claims are Bound, to 500 distinct ports, all reserved", async () => {
    const final = await auditUntil(
      "every claim to be Bound",
      audit,
      (a) => a.claimPhases["Bound"] === CLAIMS,
      WAIT_MS,
    );
    assertPortsUnique(final);
    assert.equal(final.hostPorts, CLAIMS);
    assert.equal(final.held.length, CLAIMS, "500 distinct ports");
    assert.deepEqual(final.unbound, [], "no claim is Pending");
    assert.deepEqual(final.reserved, final.held, "the record reserves exactly the held ports");
  });

  await t.step("deleting every claim leaves no HostPort and no reserved port", async () => {
    await deleteClaims(kube, NAMESPACE, 25);
    const empty = await auditUntil(
      "every claim, HostPort and reservation to be gone",
      audit,
      (a) =>
        Object.keys(a.claimPhases).length === 0 && a.hostPorts === 0 && a.reserved.length === 0,
      WAIT_MS,
    );
    assert.deepEqual(empty.leaked, [], "zero leaked ports");
    assert.equal((await operator.stop()).code, 0);
  });
});

/**
 * Two operator processes against one cluster. With leader election off (a deliberate split
 * brain) both allocate at once, and the allocation record still keeps every port unique: a
 * burst of 500 claims against exactly 500 ports binds them all, and deleting them frees every
 * port. With leader election on, exactly one holds the Lease; SIGKILL it mid-burst and the
 * standby acquires the Lease and finishes the burst.
 */
import assert from "node:assert/strict";
import { LEADER_ELECTION_LEASE_NAME } from "../lib/api/mod.ts";
import { CONTROLLER_DEFAULTS } from "../lib/controller/start_controllers.ts";
import type { KubeClients } from "../lib/kube/mod.ts";
import { adminClients, classObject, ensureNamespace, eventually } from "./controller_harness.ts";
import { startControlPlane } from "./controlplane/harness.ts";
import type { OperatorProcess } from "./demo/operator_process.ts";
import { claimNames, createClaims, deleteClaims } from "./process_claims.ts";
import {
  metricValue,
  OPERATOR_NAMESPACE,
  operatorIdentity,
  ProcessOperators,
} from "./process_operators.ts";
import { assertPortsUnique, auditPorts, auditUntil, describeAudit } from "./process_ports.ts";
import { watchAllocatedHostPorts, watchBoundClaims } from "./progress_watch.ts";

const WAIT_MS = 120_000;
/**
 * Short Lease timings, so that a takeover takes seconds, with a renew deadline a renewal
 * slowed by the burst on a loaded machine still meets.
 */
const LEADER_FLAGS = [
  "--leader-elect=true",
  "--lease-duration=8s",
  "--renew-deadline=6s",
  "--retry-period=500ms",
];
const MASTER_STATUS = `leader_election_master_status{name="${LEADER_ELECTION_LEASE_NAME}"}`;

async function leaseHolder(kube: KubeClients): Promise<string> {
  const lease = await kube.leases.get(LEADER_ELECTION_LEASE_NAME, {
    namespace: OPERATOR_NAMESPACE,
  });
  return lease.spec?.holderIdentity ?? "";
}

async function isLeader(operator: OperatorProcess): Promise<boolean> {
  return await metricValue(operator, MASTER_STATUS) === 1;
}

Deno.test("two operators with leader election off bind 500 claims to 500 distinct ports and free them all", async () => {
  const namespace = "split-brain";
  const pools = [{ start: 22000, end: 22499 }];
  await using cp = await startControlPlane();
  using kube = await adminClients(cp);
  await using operators = await ProcessOperators.prepare(cp);
  await ensureNamespace(kube, namespace);
  await kube.hostPortClasses.create(classObject("split", [[22000, 22499]]));
  const audit = () => auditPorts(kube, { namespace, operatorNamespace: OPERATOR_NAMESPACE, pools });
  const describe = async () => describeAudit(await audit());
  const [a, b] = await Promise.all([operators.start("split-a"), operators.start("split-b")]);

  await using bound = watchBoundClaims(kube, namespace);
  await createClaims(kube, namespace, "split", claimNames(500), { inFlight: 25 });
  await bound.waitFor(500, WAIT_MS, describe);
  const full = await audit();
  assertPortsUnique(full);
  assert.equal(full.held.length, 500, "500 distinct ports");
  assert.deepEqual(full.unbound, [], "no claim is Pending");
  assert.deepEqual(full.reserved, full.held, "the record reserves exactly the held ports");
  // Both processes allocated, and each HostPort got its port from exactly one status write. A
  // process counts an allocation after its status write, which the claims may show first.
  const allocations = await eventually("the allocation counters to add up to 500", async () => {
    const counts = await Promise.all(
      [a, b].map(async (op) => await metricValue(op, 'hostport_allocations_total{class="split"}')),
    );
    return (counts[0] ?? 0) + (counts[1] ?? 0) >= 500 ? counts : undefined;
  });
  console.log(`ports allocated by each process: ${allocations.join(" + ")}`);
  assert.ok(allocations.every((n) => (n ?? 0) > 0), "both processes allocated ports");
  assert.equal((allocations[0] ?? 0) + (allocations[1] ?? 0), 500);

  await deleteClaims(kube, namespace, 25);
  await auditUntil(
    "every HostPort and reservation to be gone",
    audit,
    (now) => now.hostPorts === 0 && now.reserved.length === 0,
    WAIT_MS,
  );
  for (const op of [a, b]) assert.equal((await op.stop()).code, 0);
});

Deno.test("with leader election on, one operator leads and the standby takes over when it is SIGKILLed mid-burst", async () => {
  const namespace = "leader-burst";
  const pools = [{ start: 23000, end: 23249 }];
  const claims = 200;
  await using cp = await startControlPlane();
  using kube = await adminClients(cp);
  await using operators = await ProcessOperators.prepare(cp);
  await ensureNamespace(kube, namespace);
  await kube.hostPortClasses.create(classObject("led", [[23000, 23249]]));
  const audit = () => auditPorts(kube, { namespace, operatorNamespace: OPERATOR_NAMESPACE, pools });
  const describe = async () => describeAudit(await audit());

  const leader = await operators.start("leader-a", LEADER_FLAGS);
  await eventually("the first operator to lead", async () => await isLeader(leader) || undefined);
  const standby = await operators.start("leader-b", LEADER_FLAGS);
  const [leaderId, standbyId] = await Promise.all([leader, standby].map(operatorIdentity));
  assert.equal(await leaseHolder(kube), leaderId, "the first operator holds the Lease");
  assert.equal(await isLeader(standby), false, "the second one stands by");

  await using bound = watchBoundClaims(kube, namespace);
  await using allocated = watchAllocatedHostPorts(kube);
  const creating = createClaims(kube, namespace, "led", claimNames(claims), { inFlight: 25 });
  try {
    await allocated.waitFor(claims / 4, WAIT_MS, describe);
    await operators.kill(leader);
    console.log(`leader SIGKILLed at ${allocated.count} allocated, ${bound.count} bound`);
  } finally {
    await creating;
  }
  await eventually("the standby to acquire the Lease", async () => {
    return await leaseHolder(kube) === standbyId && await isLeader(standby) || undefined;
  }, WAIT_MS);
  await bound.waitFor(claims, WAIT_MS, describe);
  const done = await audit();
  console.log(`after the takeover: ${describeAudit(done)}`);
  assertPortsUnique(done);
  assert.equal(done.held.length, claims, `${claims} distinct ports`);
  // The kill may strand one reservation per HostPort worker; the class has room for them.
  const workers = CONTROLLER_DEFAULTS.hostPortWorkers;
  assert.ok(
    done.leaked.length <= workers,
    `at most ${workers} ports stranded until repair: ${done.leaked.join(", ")}`,
  );
  assert.equal((await standby.stop()).code, 0);
  assert.equal(await leaseHolder(kube), "", "the standby released the Lease on SIGTERM");
});

/**
 * Classes, finalizers and repair: the first repair pass adopting HostPorts the original operator
 * left (reservations restored, duplicates reported), S8 (pools shrink: OutOfPool; pools grow:
 * Pending HostPorts allocated at once) and S10 (finalizers added and re-added by the
 * controllers, no webhook needed). Controllers run in-process against a real kube-apiserver.
 */
import assert from "node:assert/strict";
import type { HostPort } from "../lib/api/mod.ts";
import type { KubeClients } from "../lib/kube/mod.ts";
import { startControlPlane } from "./controlplane/harness.ts";
import {
  adminClients,
  boundClaim,
  claimObject,
  classObject,
  ensureNamespace,
  eventually,
  hostPortObject,
  startOperator,
} from "./controller_harness.ts";

const NS = "ns1";
const FINALIZER = "hostport.rmb938.com";

/** Creates a HostPort holding `port`, as the original operator left them (no record). */
async function legacyHostPort(kube: KubeClients, name: string, className: string, port: number) {
  const created = await kube.hostPorts.create({
    ...hostPortObject(name, className),
    metadata: { name, finalizers: [FINALIZER] },
  });
  await kube.hostPorts.updateStatus({ ...created, status: { phase: "Allocated", port } });
}

function conditionOf(hostPort: HostPort, type: string) {
  return hostPort.status?.conditions?.find((c) => c.type === type);
}

Deno.test("classes, finalizers and repair: S8, S10 and adoption of existing HostPorts", async (t) => {
  await using cp = await startControlPlane();
  using kube = await adminClients(cp);
  await ensureNamespace(kube, NS);
  await kube.hostPortClasses.create(classObject("legacy", [[9300, 9302]]));
  await kube.hostPortClasses.create(classObject("legacy2", [[9400, 9401]]));
  await legacyHostPort(kube, "legacy-a", "legacy", 9300);
  await legacyHostPort(kube, "dup-1", "legacy2", 9400);
  await legacyHostPort(kube, "dup-2", "legacy2", 9400);
  await using operator = await startOperator(cp, { claimDeletionGraceMs: 1_000 });

  await t.step("the first repair reserves held ports and reports duplicates", async () => {
    const reserved = await operator.reservedPorts();
    assert.ok(reserved.includes(9300) && reserved.includes(9400), `reserved: ${reserved}`);
    const restored = operator.recorder.about("HostPort", "legacy-a");
    assert.ok(restored.some((e) => e.reason === "PortReservationRestored"));
    for (const name of ["dup-1", "dup-2"]) {
      const events = operator.recorder.about("HostPort", name);
      assert.ok(events.some((e) => e.type === "Warning" && e.reason === "PortDuplicated"), name);
    }
    assert.equal(
      operator.metrics.get("hostport_repair_findings_total", { finding: "duplicate" }),
      1,
    );
    await claimAndExpect(kube, "after-legacy", "legacy", 9301);
    await claimAndExpect(kube, "after-dup", "legacy2", 9401);
  });

  await t.step("S8: shrunk pools leave held ports in place, marked OutOfPool", async () => {
    await kube.hostPortClasses.create(classObject("c1", [[9000, 9002]]));
    for (const [name, port] of [["a", 9000], ["b", 9001], ["c", 9002]] as const) {
      await claimAndExpect(kube, name, "c1", port);
    }
    const { hostPort } = await boundClaim(kube, NS, "c");
    await kube.hostPortClasses.patch("c1", { spec: { pools: [{ start: 9000, end: 9001 }] } });
    const marked = await eventually("HostPort of c to be OutOfPool", async () => {
      const hp = await kube.hostPorts.get(hostPort.metadata.name!);
      return conditionOf(hp, "OutOfPool")?.status === "True" ? hp : undefined;
    });
    assert.equal(marked.status?.port, 9002, "the port stays held");
    assert.equal(marked.status?.phase, "Allocated");
    assert.equal(conditionOf(marked, "OutOfPool")?.reason, "PortOutsidePools");
    // The Event is recorded after the status write that the poll above saw.
    await eventually(
      `a PortOutOfPool Event on HostPort ${hostPort.metadata.name}`,
      () =>
        operator.recorder.about("HostPort", hostPort.metadata.name!).some((e) =>
            e.reason === "PortOutOfPool"
          )
          ? true
          : undefined,
    );
    const klass = await eventually("class c1 to show the smaller pools", async () => {
      const c = await kube.hostPortClasses.get("c1");
      return c.status?.observedGeneration === c.metadata.generation && c.status?.capacity === 2
        ? c
        : undefined;
    });
    assert.equal(klass.status?.allocated, 2);
    assert.equal(klass.status?.free, 0);
    assert.equal(operator.metrics.get("hostport_class_capacity_ports", { class: "c1" }), 2);
    assert.equal(operator.metrics.get("hostport_class_free_ports", { class: "c1" }), 0);
  });

  await t.step("S8: grown pools hand a port to a waiting claim at once", async () => {
    await kube.hostPortClasses.create(classObject("c4", [[9700, 9700]]));
    await claimAndExpect(kube, "x", "c4", 9700);
    const y = await kube.hostPortClaims.create(claimObject(NS, "y", "c4"));
    await eventually("HostPort of y to report PoolExhausted", async () => {
      const hp = await kube.hostPorts.get(`hpc-${y.metadata.uid}`);
      return conditionOf(hp, "Allocated")?.reason === "PoolExhausted" ? hp : undefined;
    });
    await kube.hostPortClasses.patch("c4", { spec: { pools: [{ start: 9700, end: 9701 }] } });
    assert.equal((await boundClaim(kube, NS, "y")).claim.status?.port, 9701);
  });

  await t.step(
    "S10: finalizers are added to objects created without them, and re-added",
    async () => {
      await eventually("class c4 to get the finalizer", async () => {
        const klass = await kube.hostPortClasses.get("c4");
        return klass.metadata.finalizers?.includes(FINALIZER) ? klass : undefined;
      });
      const claim = await kube.hostPortClaims.get("x", { namespace: NS });
      assert.deepEqual(claim.metadata.finalizers, [FINALIZER]);
      await kube.hostPorts.create(hostPortObject("bare", "c4"));
      await eventually("HostPort bare to get the finalizer", async () => {
        const hp = await kube.hostPorts.get("bare");
        return hp.metadata.finalizers?.includes(FINALIZER) ? hp : undefined;
      });
      const strip = { metadata: { finalizers: [] } };
      await kube.hostPortClasses.patch("c4", strip);
      await kube.hostPortClaims.patch("x", strip, { namespace: NS });
      await kube.hostPorts.patch(claim.spec.hostPortName!, strip);
      await eventually("every finalizer to be back", async () => {
        const all = [
          await kube.hostPortClasses.get("c4"),
          await kube.hostPortClaims.get("x", { namespace: NS }),
          await kube.hostPorts.get(claim.spec.hostPortName!),
        ];
        return all.every((o) => o.metadata.finalizers?.includes(FINALIZER)) ? true : undefined;
      });
    },
  );
});

async function claimAndExpect(kube: KubeClients, name: string, className: string, port: number) {
  await kube.hostPortClaims.create(claimObject(NS, name, className));
  const { claim } = await boundClaim(kube, NS, name);
  assert.equal(claim.status?.port, port, `claim ${name}`);
}

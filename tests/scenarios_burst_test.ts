/**
 * Seed scenario S4 (burst allocation gives distinct ports) and the scale case: 500 claims created
 * at once against a class of exactly 500 ports all end Bound with 500 distinct ports; deleting
 * every claim leaves no HostPort and an empty allocation record.
 */
import assert from "node:assert/strict";
import type { HostPortClaim } from "../lib/api/mod.ts";
import type { KubeClients } from "../lib/kube/mod.ts";
import { startControlPlane } from "./controlplane/harness.ts";
import {
  adminClients,
  claimObject,
  classObject,
  ensureNamespace,
  eventually,
  startOperator,
} from "./controller_harness.ts";

/** Creates `names` as claims of `className`, `parallel` requests at a time. */
async function createClaims(
  kube: KubeClients,
  namespace: string,
  className: string,
  names: readonly string[],
  parallel = 50,
): Promise<void> {
  for (let i = 0; i < names.length; i += parallel) {
    await Promise.all(
      names.slice(i, i + parallel).map((name) =>
        kube.hostPortClaims.create(claimObject(namespace, name, className))
      ),
    );
  }
}

async function allBound(kube: KubeClients, namespace: string, count: number) {
  return await eventually(`${count} claims in ${namespace} to be Bound`, async () => {
    const items = (await kube.hostPortClaims.listAll({ namespace })).items;
    const bound = items.filter((c: HostPortClaim) => c.status?.phase === "Bound");
    return bound.length === count ? bound : undefined;
  }, 120_000);
}

Deno.test("burst allocation S4 and 500 claims against 500 ports", async (t) => {
  await using cp = await startControlPlane();
  using kube = await adminClients(cp);
  await using operator = await startOperator(cp, { claimDeletionGraceMs: 1_000 });

  await t.step("S4: three claims created at once get 9000, 9001 and 9002", async () => {
    await ensureNamespace(kube, "s4");
    await kube.hostPortClasses.create(classObject("three", [[9000, 9002]]));
    await Promise.all(
      ["x", "y", "z"].map((name) => kube.hostPortClaims.create(claimObject("s4", name, "three"))),
    );
    const bound = await allBound(kube, "s4", 3);
    assert.deepEqual(bound.map((c) => c.status?.port).sort(), [9000, 9001, 9002]);
  });

  await t.step("500 claims at once against 500 ports all bind, to distinct ports", async () => {
    await ensureNamespace(kube, "burst");
    await kube.hostPortClasses.create(classObject("big", [[20000, 20499]]));
    const names = Array.from({ length: 500 }, (_, i) => `claim-${i}`);
    const classReconciles = () =>
      operator.metrics.get("controller_runtime_reconcile_time_seconds_count", {
        controller: "hostportclass",
      }) ?? 0;
    const classReconcilesBefore = classReconciles();
    const started = performance.now();
    await createClaims(kube, "burst", "big", names);
    const bound = await allBound(kube, "burst", 500);
    const seconds = (performance.now() - started) / 1000;
    // The 1,000 HostPort changes (created, allocated) are batched per class (CLASS_BATCH_MS):
    // at most 4 class reconciles a second, plus one after each status write (at most one a
    // second) and its requeue, not one per change (without the batching: about 60 a second).
    const reconciles = classReconciles() - classReconcilesBefore;
    console.log(`class reconciled ${reconciles} times in ${seconds.toFixed(1)} s`);
    assert.ok(
      reconciles <= 10 * seconds + 20,
      `class reconciled ${reconciles} times in ${seconds.toFixed(1)} s`,
    );
    const ports = new Set(bound.map((c) => c.status?.port));
    assert.equal(ports.size, 500, "no port is handed out twice");
    for (const port of ports) assert.ok(port! >= 20000 && port! <= 20499, `port ${port} in pool`);
    const hostPorts = (await kube.hostPorts.listAll()).items
      .filter((hp) => hp.spec.hostPortClassName === "big");
    assert.equal(hostPorts.length, 500);
    assert.equal(hostPorts.filter((hp) => hp.status?.phase !== "Allocated").length, 0);
    const held = hostPorts.map((hp) => hp.status?.port ?? 0);
    assert.equal(new Set(held).size, 500);
    const reserved = new Set(await operator.reservedPorts());
    assert.ok(held.every((port) => reserved.has(port)), "every held port is reserved");
    const klass = await eventually("class big to show 500 of 500 allocated", async () => {
      const c = await kube.hostPortClasses.get("big");
      return c.status?.allocated === 500 ? c : undefined;
    }, 120_000);
    assert.equal(klass.status?.free, 0);
    assert.equal(klass.status?.conditions?.find((c) => c.type === "Available")?.status, "False");
    const stats = operator.recordWrites;
    console.log(
      `500 claims bound in ${seconds.toFixed(1)} s; record writes ${stats.writes}, ` +
        `commits ${stats.commits}, conflicts ${stats.conflicts}`,
    );
  });

  await t.step("deleting every claim leaves no HostPort and an empty record", async () => {
    const all = [
      ...(await kube.hostPortClaims.listAll({ namespace: "burst" })).items,
      ...(await kube.hostPortClaims.listAll({ namespace: "s4" })).items,
    ];
    const started = performance.now();
    for (let i = 0; i < all.length; i += 50) {
      await Promise.all(
        all.slice(i, i + 50).map((c) =>
          kube.hostPortClaims.delete(c.metadata.name!, { namespace: c.metadata.namespace })
        ),
      );
    }
    await eventually("every claim and HostPort to be gone", async () => {
      const claims = (await kube.hostPortClaims.listAll()).items.length;
      const hostPorts = (await kube.hostPorts.listAll()).items.length;
      return claims === 0 && hostPorts === 0 ? true : undefined;
    }, 120_000);
    // A port is released right after its HostPort's finalizer goes, so the record may lag a bit.
    await eventually(
      "every port to be free in the record",
      async () => (await operator.reservedPorts()).length === 0 ? true : undefined,
      120_000,
    );
    const seconds = (performance.now() - started) / 1000;
    console.log(`503 claims and HostPorts finalized in ${seconds.toFixed(1)} s`);
  });
});

/**
 * The allocation record against every actor (issue #9): a record restored from an old copy never
 * makes the operator hand out a port a HostPort holds (item 1); a port forged into a HostPort's
 * status through `hostports/status` never binds a second claim (item 8, controller side); a
 * deleted record is rebuilt by repair without a restart while allocation pauses and says why
 * (item 4). Controllers run in-process against a real kube-apiserver, sharing one control plane.
 */
import assert from "node:assert/strict";
import type { ConfigMap } from "kubernetes-types/core/v1.d.ts";
import { DEFAULT_RECORD_NAME } from "../lib/allocation/mod.ts";
import type { HostPort } from "../lib/api/mod.ts";
import type { KubeClients } from "../lib/kube/mod.ts";
import { KubeRestClient } from "../lib/kube/rest_client.ts";
import { loadClusterConfig } from "../lib/kube/config.ts";
import { CONFIG_MAP_RESOURCE, ResourceClient } from "../lib/kube/resource.ts";
import { startControlPlane } from "./controlplane/harness.ts";
import {
  adminClients,
  boundClaim,
  claimObject,
  classObject,
  ensureNamespace,
  eventually,
  OPERATOR_NAMESPACE,
  startOperator,
} from "./controller_harness.ts";

const NS = "records";
/** Short, so that the pause after a rebuild passes quickly (default 90 s). */
const HOLDOFF_MS = 6_000;

async function claimAndExpect(kube: KubeClients, name: string, className: string, port: number) {
  await kube.hostPortClaims.create(claimObject(NS, name, className));
  const { claim } = await boundClaim(kube, NS, name);
  assert.equal(claim.status?.port, port, `claim ${name}`);
}

function conditionOf(
  object: { status?: { conditions?: { type: string; reason: string }[] | undefined } | undefined },
  type: string,
) {
  return object.status?.conditions?.find((c) => c.type === type);
}

async function claimHostPort(kube: KubeClients, name: string): Promise<HostPort> {
  return await eventually(`claim ${name} to name its HostPort`, async () => {
    const claim = await kube.hostPortClaims.get(name, { namespace: NS });
    return claim.spec.hostPortName ? await kube.hostPorts.get(claim.spec.hostPortName) : undefined;
  });
}

Deno.test("the allocation record against restores, forged status and deletion", async (t) => {
  await using cp = await startControlPlane();
  using kube = await adminClients(cp);
  await ensureNamespace(kube, NS);
  await using operator = await startOperator(cp, { holdoffMs: HOLDOFF_MS });
  const rest = new KubeRestClient(await loadClusterConfig({ kubeconfig: cp.kubeconfigPath }));
  using _rest = { [Symbol.dispose]: () => rest.close() };
  const configMaps = new ResourceClient(rest, CONFIG_MAP_RESOURCE);
  const readRecord = () => configMaps.get(DEFAULT_RECORD_NAME, { namespace: OPERATOR_NAMESPACE });

  await t.step("item 1: a record replaced by an old copy hands out no held port", async () => {
    await kube.hostPortClasses.create(classObject("restored", [[9000, 9009]]));
    await claimAndExpect(kube, "a", "restored", 9000);
    const copy: ConfigMap = await readRecord();
    await claimAndExpect(kube, "b", "restored", 9001);
    await claimAndExpect(kube, "c", "restored", 9002);
    const current = await readRecord();
    // `kubectl replace` of the copy: the old content, over the current version.
    await configMaps.update({
      ...copy,
      metadata: { ...copy.metadata, resourceVersion: current.metadata?.resourceVersion ?? "" },
    }, { namespace: OPERATOR_NAMESPACE });
    await claimAndExpect(kube, "d", "restored", 9003);
    await claimAndExpect(kube, "e", "restored", 9004);
    await claimAndExpect(kube, "f", "restored", 9005);
    await eventually("the record to hold every held port again", async () => {
      const reserved = await operator.reservedPorts();
      const held = [9000, 9001, 9002, 9003, 9004, 9005];
      return held.every((port) => reserved.includes(port)) ? true : undefined;
    });
    const restoredEvents = ["b", "c"].map(async (name) => {
      const hostPort = await claimHostPort(kube, name);
      return operator.recorder.about("HostPort", hostPort.metadata.name!)
        .some((e) => e.reason === "PortReservationRestored");
    });
    assert.deepEqual(await Promise.all(restoredEvents), [true, true]);
  });

  await t.step(
    "item 8: a port forged into a Pending HostPort's status binds no claim",
    async () => {
      await kube.hostPortClasses.create(classObject("forged", [[9100, 9100]]));
      await claimAndExpect(kube, "p1", "forged", 9100);
      await kube.hostPortClaims.create(claimObject(NS, "p2", "forged"));
      const pending = await eventually("p2's HostPort to be Pending", async () => {
        const hostPort = await claimHostPort(kube, "p2");
        return conditionOf(hostPort, "Allocated")?.reason === "PoolExhausted"
          ? hostPort
          : undefined;
      });
      // An admin (no webhook in this harness) writes another HostPort's port through /status.
      await kube.hostPorts.updateStatus({
        ...pending,
        status: { ...pending.status, phase: "Allocated", port: 9100 },
      });
      const p2 = await eventually("claim p2 to report PortConflict", async () => {
        const claim = await kube.hostPortClaims.get("p2", { namespace: NS });
        return conditionOf(claim, "Bound")?.reason === "PortConflict" ? claim : undefined;
      });
      assert.equal(p2.status?.phase, "Pending");
      assert.ok(!p2.status?.port, "no port on the conflicting claim");
      await eventually("a PortConflict Event on p2", () =>
        Promise.resolve(
          operator.recorder.about("HostPortClaim", "p2").some((e) =>
              e.type === "Warning" && e.reason === "PortConflict"
            )
            ? true
            : undefined,
        ));
      const p1 = await kube.hostPortClaims.get("p1", { namespace: NS });
      assert.equal(p1.status?.phase, "Bound");
      assert.equal(p1.status?.port, 9100);
    },
  );

  await t.step("item 4: a deleted record is rebuilt by repair without a restart", async () => {
    await kube.hostPortClasses.create(classObject("deleted", [[9200, 9201]]));
    await claimAndExpect(kube, "x", "deleted", 9200);
    await configMaps.delete(DEFAULT_RECORD_NAME, { namespace: OPERATOR_NAMESPACE });
    await kube.hostPortClaims.create(claimObject(NS, "y", "deleted"));
    const waiting = await eventually("y's HostPort to show AllocationUnavailable", async () => {
      const hostPort = await claimHostPort(kube, "y");
      const allocated = hostPort.status?.conditions?.find((c) => c.type === "Allocated");
      return allocated?.reason === "AllocationUnavailable" ? allocated : undefined;
    });
    assert.match(waiting.message, /allocation record/);
    const readiness = operator.allocationReadiness();
    assert.notEqual(readiness, true, "allocation readiness while paused");
    assert.match(String(readiness), /allocation record/);
    const hostPort = await claimHostPort(kube, "y");
    assert.ok(
      operator.recorder.about("HostPort", hostPort.metadata.name!).some((e) =>
        e.type === "Warning" && e.reason === "AllocationUnavailable"
      ),
    );
    const { claim } = await boundClaim(kube, NS, "y");
    assert.equal(claim.status?.port, 9201);
    assert.equal(operator.allocationReadiness(), true);
    const reserved = await operator.reservedPorts();
    for (const port of [9000, 9001, 9002, 9003, 9004, 9005, 9100, 9200, 9201]) {
      assert.ok(reserved.includes(port), `port ${port} reserved in the rebuilt record`);
    }
  });
});

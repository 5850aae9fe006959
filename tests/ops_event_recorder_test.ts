/**
 * The event recorder against a real kube-apiserver: its Events pass the API server's strict
 * `events.k8s.io/v1` validation (cluster-scoped subjects land in `default`), and repeats
 * become one Event whose series count grows, visible through both Event APIs.
 */
import assert from "node:assert/strict";
import { eventually } from "./controller_harness.ts";
import { seriesValue } from "./controller_ops_fakes.ts";
import { createKubeClients, KubeRestClient, loadClusterConfig } from "../lib/kube/mod.ts";
import { KubeEventRecorder } from "../lib/ops/event_recorder.ts";
import { PrometheusRegistry } from "../lib/ops/metrics_registry.ts";
import { startControlPlane } from "./controlplane/harness.ts";
import { closing, namespaces } from "./core_clients.ts";

/** Waits until the recorder made `count` writes (`hostport_events_writes_total`, any result). */
function written(metrics: PrometheusRegistry, count: number): Promise<true> {
  return eventually(`${count} event writes`, async () => {
    const lines = (await metrics.expose()).split("\n");
    const writes = lines.filter((line) => line.startsWith("hostport_events_writes_total{"));
    const total = writes.reduce((sum, line) => sum + Number(line.split(" ").at(-1)), 0);
    return total >= count || undefined;
  });
}

Deno.test("KubeEventRecorder writes Events a real API server accepts and aggregates", async () => {
  await using cp = await startControlPlane({ crds: false });
  using rest = closing(
    new KubeRestClient(await loadClusterConfig({ kubeconfig: cp.kubeconfigPath })),
  );
  const kube = createKubeClients(rest);
  await namespaces(kube).create({
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name: "team-a" },
  });
  const metrics = new PrometheusRegistry();
  const recorder = new KubeEventRecorder(kube.events, {
    instance: "hostport-allocator-0",
    metrics,
  });
  const hostPort = {
    apiVersion: "hostport.rmb938.com/v1alpha1",
    kind: "HostPort",
    metadata: { name: "hpc-0b1c", uid: "4d5e6f" },
  };
  const claim = {
    apiVersion: "hostport.rmb938.com/v1alpha1",
    kind: "HostPortClaim",
    metadata: { name: "web", namespace: "team-a", uid: "7a8b9c" },
  };
  recorder.record(hostPort, "Normal", "PortAllocated", "Allocated port 9000 from class games");
  recorder.record(claim, "Warning", "PoolExhausted", `No free port: ${"x".repeat(2000)}`);
  await written(metrics, 2);
  for (let i = 0; i < 3; i++) {
    recorder.record(claim, "Warning", "PoolExhausted", `No free port: ${"x".repeat(2000)}`);
    await written(metrics, 3 + i);
  }
  assert.equal(await recorder.close(5_000), 0);
  assert.equal(
    seriesValue(
      await metrics.expose(),
      'hostport_events_writes_total{operation="create",result="error"}',
    ),
    undefined,
  );
  assert.equal(
    seriesValue(
      await metrics.expose(),
      'hostport_events_writes_total{operation="patch",result="error"}',
    ),
    undefined,
  );

  // Only ours: on a loaded machine the API server may have written its own Events to `default`.
  const clusterEvents = (await kube.events.listAll({ namespace: "default" })).items
    .filter((event) => event.reportingController === "hostport.rmb938.com/hostport-allocator");
  assert.equal(clusterEvents.length, 1, JSON.stringify(clusterEvents));
  assert.equal(clusterEvents[0]!.regarding?.name, "hpc-0b1c");
  assert.equal(clusterEvents[0]!.reason, "PortAllocated");

  const claimEvents = (await kube.events.listAll({ namespace: "team-a" })).items;
  assert.equal(claimEvents.length, 1);
  const exhausted = claimEvents[0]!;
  assert.equal(exhausted.series?.count, 4);
  assert.equal(exhausted.note?.length, 1024);
  assert.equal(exhausted.type, "Warning");

  // kubectl describe reads the core/v1 view: the same Event, with its series.
  const core = await cp.fetch(`/api/v1/namespaces/team-a/events/${exhausted.metadata?.name}`);
  const coreEvent = await core.json();
  assert.equal(coreEvent.involvedObject.name, "web");
  assert.equal(coreEvent.series.count, 4);
});

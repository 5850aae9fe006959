/**
 * Per-pod claims (HostPortClaimTemplate) on the API-server tier with the real
 * kube-controller-manager: the StatefulSet, ReplicaSet/Deployment and Job controllers create the
 * pods through our pod webhook, the garbage collector acts on the claims' owner references. No
 * kubelet runs, so pods are created but never run (the real-node tier will show them answering
 * on their ports). One rig for every step, each step in its own namespace.
 */
import assert from "node:assert/strict";
import type { Pod } from "kubernetes-types/core/v1.d.ts";
import {
  API_VERSION,
  CLAIM_ANNOTATION_PREFIX,
  CLAIM_TEMPLATE_ANNOTATION_PREFIX,
  type HostPortClaim,
  type HostPortClaimTemplate,
  PORT_ANNOTATION_PREFIX,
  TEMPLATE_CLAIM_LABEL,
} from "../lib/api/mod.ts";
import { NotFoundError } from "../lib/kube/mod.ts";
import { classObject, eventually, eventuallyGone, startOperator } from "./controller_harness.ts";
import { type E2eCluster, startE2eCluster } from "./webhook_e2e_cluster.ts";

/** A template of class `className`. */
function templateObject(namespace: string, name: string, className: string): HostPortClaimTemplate {
  return {
    apiVersion: API_VERSION,
    kind: "HostPortClaimTemplate",
    metadata: { name, namespace },
    spec: { hostPortClassName: className, metadata: { labels: { team: "games" } } },
  };
}

/** A pod template naming template `template` for its port `web`. */
function podTemplate(app: string, template: string, extra: Record<string, string> = {}) {
  return {
    metadata: {
      labels: { app },
      annotations: { [`${CLAIM_TEMPLATE_ANNOTATION_PREFIX}web`]: template, ...extra },
    },
    spec: {
      terminationGracePeriodSeconds: 0,
      containers: [{ name: "c", image: "busybox", ports: [{ name: "web", containerPort: 8080 }] }],
    },
  };
}

function statefulSet(
  namespace: string,
  name: string,
  replicas: number,
  policy: { whenDeleted: string; whenScaled: string },
) {
  return {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: { name, namespace },
    spec: {
      replicas,
      serviceName: name,
      podManagementPolicy: "Parallel",
      persistentVolumeClaimRetentionPolicy: policy,
      selector: { matchLabels: { app: name } },
      template: podTemplate(name, "port"),
    },
  };
}

async function tenantNamespace(cluster: E2eCluster, name: string): Promise<void> {
  await cluster.kube.namespaces.create({
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name, labels: { "hostport.rmb938.com": "true" } },
  });
}

function portOf(pod: Pod): number | undefined {
  const text = pod.metadata?.annotations?.[`${PORT_ANNOTATION_PREFIX}web`];
  const hostPort = pod.spec?.containers[0]?.ports?.[0]?.hostPort;
  if (text === undefined || hostPort === undefined) return undefined;
  assert.equal(Number(text), hostPort, `${pod.metadata?.name}: annotation and hostPort agree`);
  return hostPort;
}

/** Waits until exactly `names` pods with ports exist for `app`; returns their ports by name. */
async function podPorts(
  cluster: E2eCluster,
  namespace: string,
  app: string,
  count: number,
): Promise<Map<string, number>> {
  return await eventually(`${count} pods of ${namespace}/${app} with ports`, async () => {
    const pods = await cluster.kube.pods.list({ namespace, labelSelector: `app=${app}` });
    const live = pods.items.filter((p) => !p.metadata?.deletionTimestamp);
    if (live.length !== count) return undefined;
    return new Map(live.map((p) => [p.metadata!.name!, portOf(p)!]));
  });
}

async function claimOrUndefined(
  cluster: E2eCluster,
  namespace: string,
  name: string,
): Promise<HostPortClaim | undefined> {
  try {
    return await cluster.kube.hostPortClaims.get(name, { namespace });
  } catch (error) {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  }
}

async function scale(cluster: E2eCluster, namespace: string, name: string, replicas: number) {
  const result = await cluster.kubectl([
    "scale",
    "-n",
    namespace,
    `statefulset/${name}`,
    `--replicas=${replicas}`,
  ]);
  assert.equal(result.code, 0, result.stderr);
}

Deno.test("per-pod claims from a HostPortClaimTemplate, with the real workload controllers and garbage collector", async (t) => {
  await using cluster = await startE2eCluster({ controlPlane: { controllers: true } });
  await using _operator = await startOperator(cluster.cp);
  const { kube } = cluster;

  await t.step(
    "a StatefulSet of 3 gets 3 distinct ports on claims <template>-web-N, kept by a recreated pod",
    async () => {
      await kube.hostPortClasses.create(classObject("sts", [[31000, 31019]]));
      await tenantNamespace(cluster, "sts");
      await kube.hostPortClaimTemplates.create(templateObject("sts", "port", "sts"));
      await cluster.apply(
        statefulSet("sts", "web", 3, { whenDeleted: "Retain", whenScaled: "Retain" }),
      );
      const ports = await podPorts(cluster, "sts", "web", 3);
      assert.deepEqual([...ports.keys()].sort(), ["web-0", "web-1", "web-2"]);
      assert.equal(new Set(ports.values()).size, 3, `distinct ports: ${[...ports.values()]}`);
      for (const [pod, port] of ports) {
        const claim = await kube.hostPortClaims.get(`port-${pod}`, { namespace: "sts" });
        assert.equal(claim.status?.port, port, `claim port-${pod} holds the pod's port`);
        assert.equal(claim.metadata.labels?.[TEMPLATE_CLAIM_LABEL.template], "port");
        assert.equal(claim.metadata.labels?.[TEMPLATE_CLAIM_LABEL.statefulSet], "web");
        assert.equal(claim.metadata.labels?.[TEMPLATE_CLAIM_LABEL.ordinal], pod.slice(4));
        assert.equal(claim.metadata.labels?.team, "games", "the template's labels are copied");
        const pod0 = await kube.pods.get(pod, { namespace: "sts" });
        assert.equal(pod0.metadata?.annotations?.[`${CLAIM_ANNOTATION_PREFIX}web`], `port-${pod}`);
      }
      const uid = (await kube.pods.get("web-1", { namespace: "sts" })).metadata?.uid;
      await kube.pods.delete("web-1", { namespace: "sts" });
      const again = await eventually("web-1 recreated with a port", async () => {
        const pod = await kube.pods.get("web-1", { namespace: "sts" });
        return pod.metadata?.uid !== uid && portOf(pod) !== undefined ? pod : undefined;
      });
      assert.equal(portOf(again), ports.get("web-1"), "web-1 keeps its port");
    },
  );

  for (const policy of ["Retain", "Delete"] as const) {
    const ns = `scale-${policy.toLowerCase()}`;
    await t.step(`scale 5 -> 3 and deleting the StatefulSet under ${policy}`, async () => {
      await tenantNamespace(cluster, ns);
      await kube.hostPortClaimTemplates.create(templateObject(ns, "port", "sts"));
      await cluster.apply(statefulSet(ns, "db", 5, { whenDeleted: policy, whenScaled: policy }));
      const ports = await podPorts(cluster, ns, "db", 5);
      assert.equal(new Set(ports.values()).size, 5);
      await scale(cluster, ns, "db", 3);
      await podPorts(cluster, ns, "db", 3);
      if (policy === "Retain") {
        // Give the controllers their chance to act (a window in which nothing must happen).
        await new Promise((resolve) => setTimeout(resolve, 2_000));
        for (const pod of ["db-3", "db-4"]) {
          const claim = await claimOrUndefined(cluster, ns, `port-${pod}`);
          assert.equal(claim?.status?.port, ports.get(pod), `claim port-${pod} is retained`);
          assert.equal(claim?.metadata.deletionTimestamp, undefined);
        }
        await scale(cluster, ns, "db", 5);
        const back = await podPorts(cluster, ns, "db", 5);
        assert.deepEqual(back, ports, "scaled back up, every ordinal has its old port");
      } else {
        for (const pod of ["db-3", "db-4"]) {
          await eventuallyGone(
            `claim port-${pod}`,
            () => kube.hostPortClaims.get(`port-${pod}`, { namespace: ns }),
          );
        }
        for (const pod of ["db-0", "db-1", "db-2"]) {
          const claim = await kube.hostPortClaims.get(`port-${pod}`, { namespace: ns });
          assert.equal(claim.status?.port, ports.get(pod), `claim port-${pod} stays`);
          assert.deepEqual(
            claim.metadata.ownerReferences?.map((r) => `${r.kind}/${r.name}`),
            ["StatefulSet/db"],
            "whenDeleted: Delete makes the StatefulSet the claim's owner",
          );
        }
      }
      const left = policy === "Retain" ? 5 : 3;
      await kube.rest.performRequest({
        method: "DELETE",
        path: `/apis/apps/v1/namespaces/${ns}/statefulsets/db`,
        bodyJson: { propagationPolicy: "Background" },
      });
      await eventually(`the pods of ${ns}/db to be gone`, async () => {
        const pods = await kube.pods.list({ namespace: ns, labelSelector: "app=db" });
        return pods.items.length === 0 ? true : undefined;
      });
      if (policy === "Retain") {
        await new Promise((resolve) => setTimeout(resolve, 2_000));
        const claims = await kube.hostPortClaims.list({ namespace: ns });
        assert.equal(claims.items.length, left, "whenDeleted: Retain keeps every claim");
      } else {
        await eventually(`the claims of ${ns} to be gone`, async () => {
          const claims = await kube.hostPortClaims.list({ namespace: ns });
          return claims.items.length === 0 ? true : undefined;
        });
      }
    });
  }
});

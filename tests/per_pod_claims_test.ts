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
  CLAIM_ANNOTATION_PREFIX,
  type HostPortClaim,
  TEMPLATE_CLAIM_LABEL,
} from "../lib/api/mod.ts";
import { NotFoundError } from "../lib/kube/mod.ts";
import { classObject, eventually, eventuallyGone, startOperator } from "./controller_harness.ts";
import { type E2eCluster, startE2eCluster } from "./webhook_e2e_cluster.ts";
import {
  deployment,
  job,
  podTemplate,
  portOf,
  statefulSet,
  templateObject,
} from "./per_pod_fixtures.ts";
import type { EventSubject } from "../lib/ops/contracts.ts";
import { namespaces } from "./core_clients.ts";

/** A bare pod of `podTemplate(app, template)` in `namespace`, named or with a generateName. */
function barePod(
  app: string,
  template: string,
  namespace: string,
  naming: { name: string } | { generateName: string },
): Pod {
  const { metadata, spec } = podTemplate(app, template);
  return { apiVersion: "v1", kind: "Pod", metadata: { ...metadata, ...naming, namespace }, spec };
}

async function tenantNamespace(cluster: E2eCluster, name: string): Promise<void> {
  await namespaces(cluster.kube).create({
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name, labels: { "hostport.rmb938.com": "true" } },
  });
}

/** Waits until exactly `names` pods with ports exist for `app`; returns their ports by name. */
async function podPorts(
  cluster: E2eCluster,
  namespace: string,
  app: string,
  count: number,
): Promise<Map<string, number>> {
  return await eventually(`${count} pods of ${namespace}/${app} with ports`, async () => {
    const pods = await cluster.kube.pods.listAll({ namespace, labelSelector: `app=${app}` });
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
  const refusals: { template: EventSubject; message: string }[] = [];
  await using cluster = await startE2eCluster({
    controlPlane: { controllers: true },
    admission: { onTemplateRefusal: (template, message) => refusals.push({ template, message }) },
  });
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
        const pods = await kube.pods.listAll({ namespace: ns, labelSelector: "app=db" });
        return pods.items.length === 0 ? true : undefined;
      });
      if (policy === "Retain") {
        await new Promise((resolve) => setTimeout(resolve, 2_000));
        const claims = await kube.hostPortClaims.listAll({ namespace: ns });
        assert.equal(claims.items.length, left, "whenDeleted: Retain keeps every claim");
      } else {
        await eventually(`the claims of ${ns} to be gone`, async () => {
          const claims = await kube.hostPortClaims.listAll({ namespace: ns });
          return claims.items.length === 0 ? true : undefined;
        });
      }
    });
  }

  await t.step(
    "a Deployment of 4 gets 4 distinct ports, and a rollout never holds a port twice",
    async () => {
      await kube.hostPortClasses.create(classObject("deploy", [[31100, 31109]]));
      await tenantNamespace(cluster, "deploy");
      await kube.hostPortClaimTemplates.create(templateObject("deploy", "port", "deploy"));
      const game = (revision: string) => {
        const object = deployment("deploy", "game", 4, "port", revision);
        // No kubelet: pods never turn Ready, so only maxUnavailable lets old pods go.
        const strategy = {
          type: "RollingUpdate",
          rollingUpdate: { maxSurge: 2, maxUnavailable: 4 },
        };
        return { ...object, spec: { ...object.spec!, strategy } };
      };
      await cluster.apply(game("1"));
      const first = await podPorts(cluster, "deploy", "game", 4);
      assert.equal(new Set(first.values()).size, 4, `distinct ports: ${[...first.values()]}`);
      for (const [pod, port] of first) {
        const claim = await eventually(`claim ${pod}-web owned by its pod`, async () => {
          const claim = await kube.hostPortClaims.get(`${pod}-web`, { namespace: "deploy" });
          return claim.metadata.ownerReferences?.some((r) => r.kind === "Pod" && r.controller)
            ? claim
            : undefined;
        });
        assert.equal(claim.status?.port, port);
        assert.equal(claim.metadata.labels?.[TEMPLATE_CLAIM_LABEL.pod], pod);
      }

      await cluster.apply(game("2"));
      // `eventually` retries a probe that throws, so duplicates are collected, then asserted.
      const duplicates: string[] = [];
      let samples = 0;
      const second = await eventually(
        "the rollout to finish",
        async () => {
          const pods = await kube.pods.listAll({ namespace: "deploy", labelSelector: "app=game" });
          const ports = pods.items.map(portOf).filter((p) => p !== undefined);
          if (new Set(ports).size !== ports.length) duplicates.push(`pods: ${ports}`);
          const held = (await kube.hostPorts.listAll()).items.map((h) => h.status?.port ?? 0)
            .filter((p) => p > 0);
          if (new Set(held).size !== held.length) duplicates.push(`HostPorts: ${held}`);
          samples++;
          const fresh = pods.items.filter((p) => p.metadata?.annotations?.revision === "2");
          if (pods.items.length !== 4 || fresh.length !== 4) return undefined;
          return new Map(fresh.map((p) => [p.metadata!.name!, portOf(p)!]));
        },
        60_000,
        50,
      );
      assert.deepEqual(duplicates, [], "no port was held twice at any sample");
      assert.ok(samples > 1, "the rollout was sampled while it ran");
      assert.equal(new Set(second.values()).size, 4);
      // The old pods' claims go with them (garbage collector), and their ports with the claims.
      await eventually("only the new pods' claims left", async () => {
        const claims = await kube.hostPortClaims.listAll({ namespace: "deploy" });
        const names = claims.items.map((c) => c.metadata.name).sort();
        const wanted = [...second.keys()].map((pod) => `${pod}-web`).sort();
        return JSON.stringify(names) === JSON.stringify(wanted) ? true : undefined;
      });
    },
  );

  await t.step(
    "whenScaled Delete: a scaled-away pod still terminating owns its claim, which goes with it",
    async () => {
      await tenantNamespace(cluster, "hold");
      await kube.hostPortClaimTemplates.create(templateObject("hold", "port", "sts"));
      await cluster.apply(
        statefulSet("hold", "hold", 2, { whenDeleted: "Retain", whenScaled: "Delete" }),
      );
      await podPorts(cluster, "hold", "hold", 2);
      // A finalizer keeps the pod terminating, as a kubelet stopping its containers would.
      const finalizers = (list: string[]) => ({
        method: "PATCH" as const,
        path: "/api/v1/namespaces/hold/pods/hold-1",
        contentType: "application/merge-patch+json",
        bodyJson: { metadata: { finalizers: list } },
      });
      await kube.rest.performRequest(finalizers(["example.com/hold"]));
      const uid = (await kube.pods.get("hold-1", { namespace: "hold" })).metadata?.uid;
      await scale(cluster, "hold", "hold", 1);
      await eventually("claim port-hold-1 owned by its terminating pod", async () => {
        const claim = await kube.hostPortClaims.get("port-hold-1", { namespace: "hold" });
        const refs = claim.metadata.ownerReferences ?? [];
        return refs.some((r) => r.kind === "Pod" && r.name === "hold-1" && r.uid === uid)
          ? true
          : undefined;
      });
      const claim = await kube.hostPortClaims.get("port-hold-1", { namespace: "hold" });
      assert.equal(claim.metadata.deletionTimestamp, undefined, "kept while the pod terminates");
      await kube.rest.performRequest(finalizers([]));
      await eventuallyGone(
        "claim port-hold-1",
        () => kube.hostPortClaims.get("port-hold-1", { namespace: "hold" }),
      );
      const kept = await kube.hostPortClaims.get("port-hold-0", { namespace: "hold" });
      assert.equal(kept.metadata.deletionTimestamp, undefined, "ordinal 0 keeps its claim");
    },
  );

  await t.step("a Job's finished pod frees its port for the next pod", async () => {
    await kube.hostPortClasses.create(classObject("job", [[31200, 31200]]));
    await tenantNamespace(cluster, "job");
    await kube.hostPortClaimTemplates.create(templateObject("job", "port", "job"));
    const batch = job("job", "batch", "port");
    await cluster.apply({ ...batch, spec: { ...batch.spec!, completions: 2, parallelism: 1 } });
    const [firstPod, port] = [...(await podPorts(cluster, "job", "batch", 1))][0]!;
    assert.equal(port, 31200);
    // No kubelet runs the pod: set its phase as the kubelet would when its containers exit 0.
    await kube.rest.performRequest({
      method: "PATCH",
      path: `/api/v1/namespaces/job/pods/${firstPod}/status`,
      contentType: "application/merge-patch+json",
      bodyJson: { status: { phase: "Succeeded" } },
    });
    await eventuallyGone(
      `claim ${firstPod}-web`,
      () => kube.hostPortClaims.get(`${firstPod}-web`, { namespace: "job" }),
    );
    const next = await eventually("the Job's second pod with the freed port", async () => {
      const pods = await kube.pods.listAll({ namespace: "job", labelSelector: "app=batch" });
      const other = pods.items.find((p) => p.metadata?.name !== firstPod);
      return other && portOf(other) !== undefined ? other : undefined;
    });
    assert.equal(portOf(next), 31200, "the one port of the class went to the next pod");
    const finished = await kube.pods.get(firstPod, { namespace: "job" });
    assert.equal(finished.status?.phase, "Succeeded", "the Job keeps its finished pod");
  });

  await t.step(
    "an exhausted class refuses the pod, naming the class, with an Event on the template",
    async () => {
      await kube.hostPortClasses.create(classObject("tiny", [[31300, 31300]]));
      await tenantNamespace(cluster, "tiny");
      const template = await kube.hostPortClaimTemplates.create(
        templateObject("tiny", "port", "tiny"),
      );
      const bare = (name: string) => barePod("bare", "port", "tiny", { name });
      const first = await cluster.create(bare("a"));
      assert.equal(first.code, 0, first.stderr);
      assert.equal(portOf(await kube.pods.get("a", { namespace: "tiny" })), 31300);
      const second = await cluster.create(bare("b"));
      assert.notEqual(second.code, 0, second.stdout);
      assert.match(
        second.stderr,
        /claim-template\.hostport\.rmb938\.com\/web: Invalid value: "port": hostPortClass "tiny" is full: no free port for claim "b-web" of hostPortClass "tiny"; the pod's controller retries/,
      );
      assert.ok(
        refusals.some(({ template: t, message }) =>
          t.metadata.name === "port" && t.metadata.namespace === "tiny" &&
          t.metadata.uid === template.metadata.uid && /is full/.test(message)
        ),
        `an Event on the template: ${JSON.stringify(refusals)}`,
      );
      // The refused pod's claim does not linger to take the next free port.
      await eventuallyGone(
        "claim b-web",
        () => kube.hostPortClaims.get("b-web", { namespace: "tiny" }),
      );
    },
  );

  await t.step("a full quota refuses the pod with the quota's message", async () => {
    await kube.hostPortClasses.create(classObject("quota", [[31400, 31409]]));
    await tenantNamespace(cluster, "quota");
    await kube.hostPortClaimTemplates.create(templateObject("quota", "port", "quota"));
    const resource = "count/hostportclaims.hostport.rmb938.com";
    await cluster.apply({
      apiVersion: "v1",
      kind: "ResourceQuota",
      metadata: { name: "claims", namespace: "quota" },
      spec: { hard: { [resource]: "1" } },
    });
    await eventually("the quota's first status", async () => {
      const text = await cluster.get("resourcequota claims", "{.status.used}", "quota");
      return text === "" ? undefined : true;
    });
    const pod = (generateName: string) => barePod("q", "port", "quota", { generateName });
    const first = await cluster.create(pod("q-"));
    assert.equal(first.code, 0, first.stderr);
    const second = await cluster.create(pod("q-"));
    assert.notEqual(second.code, 0, second.stdout);
    assert.match(second.stderr, /exceeded quota: claims, requested: count\/hostportclaims/);
  });

  await t.step(
    "a bare pod created with generateName gets a name, and its claim goes with it",
    async () => {
      await tenantNamespace(cluster, "bare");
      await kube.hostPortClaimTemplates.create(templateObject("bare", "port", "deploy"));
      const created = await kube.pods.create(
        barePod("solo", "port", "bare", { generateName: "solo-" }),
        { namespace: "bare" },
      );
      const name = created.metadata!.name!;
      assert.match(name, /^solo-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
      const claim = await eventually(`claim ${name}-web adopted by its pod`, async () => {
        const claim = await kube.hostPortClaims.get(`${name}-web`, { namespace: "bare" });
        const ref = claim.metadata.ownerReferences?.find((r) => r.controller);
        return ref?.uid === created.metadata?.uid ? claim : undefined;
      });
      assert.equal(claim.status?.port, portOf(created));
      await kube.pods.delete(name, { namespace: "bare" });
      await eventuallyGone(
        `claim ${name}-web`,
        () => kube.hostPortClaims.get(`${name}-web`, { namespace: "bare" }),
      );
    },
  );
});

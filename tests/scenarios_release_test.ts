/**
 * A port is released only once no pod can still use it, whoever deletes what (issue #9, items 7
 * and 9). Our admission server and webhook configurations run against a real kube-apiserver
 * (`webhook_e2e_cluster.ts`), the controllers in-process (`controller_harness.ts`).
 *
 * - Item 7: a later admission step (a policy engine) that takes 12 s keeps a pod our webhook
 *   admitted out of the API server while its claim is deleted; the deletion window keeps the
 *   claim, and so its port, until the pod is stored and seen.
 * - Item 9: a tenant removes the finalizer of its Deleting claim while its pod can still run;
 *   the claim's HostPort keeps its port (Deleting, `DeletionBlocked`) until the pod is gone.
 */
import assert from "node:assert/strict";
import type { HostPort } from "../lib/api/mod.ts";
import {
  boundClaim,
  claimObject,
  classObject,
  eventually,
  eventuallyGone,
  startOperator,
} from "./controller_harness.ts";
import { deletePodNow } from "./core_clients.ts";
import type { WebhookTls } from "./controlplane/harness.ts";
import { type E2eCluster, pod, startE2eCluster, web } from "./webhook_e2e_cluster.ts";

/** The deletion window of these tests: it must cover the slow admission step (12 s). */
const WINDOW_MS = 16_000;
/** How long the slow admission step takes to answer. */
const SLOW_ADMISSION_MS = 12_000;
/** Pods with this label go through the slow admission step. */
const SLOW_LABEL = { "policy.example.com/slow": "true" };

/** A mutating webhook that allows every pod it sees after `delayMs` (a slow policy engine). */
interface SlowWebhook extends AsyncDisposable {
  /** How many admission reviews arrived (answered or not). */
  received(): number;
  /** Its MutatingWebhookConfiguration, named after ours so it is called after ours. */
  configuration: Record<string, unknown>;
}

async function serveSlowWebhook(tls: WebhookTls, delayMs: number): Promise<SlowWebhook> {
  let received = 0;
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const { promise: listening, resolve } = Promise.withResolvers<number>();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    cert: tls.certPem,
    key: tls.keyPem,
    onListen: (address) => resolve(address.port),
    onError: () => new Response("Cannot answer", { status: 500 }),
  }, async (request) => {
    const review = await request.json();
    received += 1;
    await new Promise((done) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        done(undefined);
      }, delayMs);
      timers.add(timer);
    });
    return Response.json({
      apiVersion: "admission.k8s.io/v1",
      kind: "AdmissionReview",
      response: { uid: review.request.uid, allowed: true },
    });
  });
  const port = await listening;
  return {
    received: () => received,
    configuration: {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "MutatingWebhookConfiguration",
      // Configurations are called in name order: ours is hostport-test-mutating.
      metadata: { name: "zz-slow-policy" },
      webhooks: [{
        name: "slow.policy.example.com",
        clientConfig: { url: `https://127.0.0.1:${port}/mutate`, caBundle: tls.caBundle },
        rules: [{
          apiGroups: [""],
          apiVersions: ["v1"],
          operations: ["CREATE"],
          resources: ["pods"],
        }],
        objectSelector: { matchLabels: SLOW_LABEL },
        admissionReviewVersions: ["v1"],
        sideEffects: "None",
        failurePolicy: "Fail",
        timeoutSeconds: 20,
      }],
    },
    [Symbol.asyncDispose]: async () => {
      for (const timer of timers) clearTimeout(timer);
      await server.shutdown();
    },
  };
}

async function labelledNamespace(cluster: E2eCluster, name: string): Promise<void> {
  await cluster.apply({
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name, labels: { "hostport.rmb938.com": "true" } },
  });
}

/** Waits until the pod webhook admits pods naming `claim` (its cache shows the claim Bound). */
async function webhookSeesBound(cluster: E2eCluster, namespace: string, claim: string) {
  const probe = JSON.stringify(
    pod("probe", namespace, { claims: { web: claim }, containers: [[web()]] }),
  );
  await eventually(`the pod webhook to admit pods of ${namespace}/${claim}`, async () => {
    const result = await cluster.kubectl(["create", "--dry-run=server", "-f", "-"], probe);
    return result.code === 0 ? true : undefined;
  });
}

/** Waits until the HostPort of a Pending claim reports that no port is free (settled). */
async function poolExhausted(cluster: E2eCluster, namespace: string, name: string) {
  return await eventually(`claim ${namespace}/${name} to wait for a free port`, async () => {
    const claim = await cluster.kube.hostPortClaims.get(name, { namespace });
    if (!claim.spec.hostPortName) return undefined;
    const hostPort = await cluster.kube.hostPorts.get(claim.spec.hostPortName);
    const allocated = hostPort.status?.conditions?.find((c) => c.type === "Allocated");
    return allocated?.reason === "PoolExhausted" ? { claim, hostPort } : undefined;
  });
}

/** Resolves once `ms` have passed since `sinceMs` (the deletion window is the behaviour here). */
async function windowPassed(sinceMs: number, ms: number): Promise<void> {
  await eventually("the deletion window to pass", () => {
    return Promise.resolve(Date.now() >= sinceMs + ms ? true : undefined);
  }, ms + 5_000);
}

Deno.test("a port is released only once no pod can still use it (issue #9 items 7 and 9)", async (t) => {
  await using cluster = await startE2eCluster();
  const { cp, kube } = cluster;
  await using operator = await startOperator(cp, { claimDeletionGraceMs: WINDOW_MS });
  await using slow = await serveSlowWebhook(await cp.webhookTls(), SLOW_ADMISSION_MS);
  await cluster.apply(slow.configuration);

  await t.step(
    "item 7: a claim deleted while a slow admission chain holds its pod keeps its port",
    async () => {
      await labelledNamespace(cluster, "team-a");
      await labelledNamespace(cluster, "team-b");
      await kube.hostPortClasses.create(classObject("one", [[9100, 9100]]));
      await kube.hostPortClaims.create(claimObject("team-a", "a", "one"));
      const { hostPort } = await boundClaim(kube, "team-a", "a");
      assert.equal(hostPort.status?.port, 9100);
      await webhookSeesBound(cluster, "team-a", "a");

      const p = pod("p", "team-a", { claims: { web: "a" }, containers: [[web()]] }) as {
        metadata: Record<string, unknown>;
      };
      const creating = cluster.create({ ...p, metadata: { ...p.metadata, labels: SLOW_LABEL } });
      // Our webhook admitted p and the policy engine now holds it: delete the claim.
      await eventually("the slow admission step to hold p", () => {
        return Promise.resolve(slow.received() > 0 ? true : undefined);
      });
      const deletedAt = Date.now();
      await kube.hostPortClaims.delete("a", { namespace: "team-a" });
      await kube.hostPortClaims.create(claimObject("team-b", "b", "one"));
      await poolExhausted(cluster, "team-b", "b");

      const created = await creating;
      assert.equal(created.code, 0, created.stderr);
      const stored = await kube.pods.get("p", { namespace: "team-a" });
      assert.equal(stored.metadata?.annotations?.["port.hostport.rmb938.com/web"], "9100");

      await windowPassed(deletedAt, WINDOW_MS + 2_000);
      const a = await kube.hostPortClaims.get("a", { namespace: "team-a" });
      assert.equal(a.status?.phase, "Deleting", "p can still run, so a stays");
      const held = await kube.hostPorts.get(hostPort.metadata.name!);
      assert.equal(held.status?.port, 9100, "the port stays held");
      const b = await kube.hostPortClaims.get("b", { namespace: "team-b" });
      assert.notEqual(b.status?.phase, "Bound", "b does not get the port p holds");

      await deletePodNow(kube, "p", "team-a");
      await eventuallyGone("claim a", () => kube.hostPortClaims.get("a", { namespace: "team-a" }));
      // The controllers finalized a themselves after its window: its HostPort does not wait again.
      const bound = await eventually("claim b to be Bound within half a window", async () => {
        const b = await kube.hostPortClaims.get("b", { namespace: "team-b" });
        return b.status?.phase === "Bound" ? b : undefined;
      }, WINDOW_MS / 2);
      assert.equal(bound.status?.port, 9100);
    },
  );

  await t.step(
    "item 9: a tenant removing its Deleting claim's finalizer does not free its pod's port",
    async () => {
      const token = await cp.serviceAccountToken("team-c", "tenant");
      await labelledNamespace(cluster, "team-c");
      await labelledNamespace(cluster, "team-d");
      await cluster.apply({
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "Role",
        metadata: { name: "claims", namespace: "team-c" },
        rules: [{
          apiGroups: ["hostport.rmb938.com"],
          resources: ["hostportclaims"],
          verbs: ["get", "list", "watch", "create", "update", "patch", "delete"],
        }],
      });
      await cluster.apply({
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "RoleBinding",
        metadata: { name: "tenant-claims", namespace: "team-c" },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "claims" },
        subjects: [{ kind: "ServiceAccount", name: "tenant", namespace: "team-c" }],
      });
      const asTenant = (args: string[]) => cp.kubectl(args, { token });

      await kube.hostPortClasses.create(classObject("one-more", [[9200, 9200]]));
      await kube.hostPortClaims.create(claimObject("team-c", "c", "one-more"));
      const { hostPort } = await boundClaim(kube, "team-c", "c");
      assert.equal(hostPort.status?.port, 9200);
      await webhookSeesBound(cluster, "team-c", "c");
      const q = await cluster.create(
        pod("q", "team-c", { claims: { web: "c" }, containers: [[web()]] }),
      );
      assert.equal(q.code, 0, q.stderr);

      await eventually("the tenant to delete claim c", async () => {
        const result = await asTenant(["delete", "hpc", "c", "-n", "team-c", "--wait=false"]);
        return result.code === 0 ? true : undefined; // the grant may take a moment
      });
      await eventually("claim c to be Deleting", async () => {
        const c = await kube.hostPortClaims.get("c", { namespace: "team-c" });
        return c.status?.phase === "Deleting" ? c : undefined;
      });
      const patched = await asTenant([
        "patch",
        "hpc",
        "c",
        "-n",
        "team-c",
        "--type=merge",
        "-p",
        '{"metadata":{"finalizers":null}}',
      ]);
      assert.equal(patched.code, 0, patched.stderr);
      await eventuallyGone("claim c", () => kube.hostPortClaims.get("c", { namespace: "team-c" }));
      await kube.hostPortClaims.create(claimObject("team-d", "d", "one-more"));

      const name = hostPort.metadata.name!;
      const blocked: HostPort = await eventually(
        "the HostPort of c to say q holds it",
        async () => {
          const hp = await kube.hostPorts.get(name);
          const condition = hp.status?.conditions?.find((c) => c.type === "DeletionBlocked");
          return condition?.reason === "PodsHoldPort" ? hp : undefined;
        },
      );
      assert.ok(blocked.metadata.deletionTimestamp, "the orphan is being deleted");
      assert.equal(blocked.status?.phase, "Deleting");
      assert.equal(blocked.status?.port, 9200, "the port stays held");
      assert.match(
        blocked.status?.conditions?.find((c) => c.type === "DeletionBlocked")?.message ?? "",
        /pod team-c\/q can still run/,
      );
      assert.ok(
        operator.recorder.about("HostPort", name).some((e) => e.reason === "PortStillInUse"),
      );
      await poolExhausted(cluster, "team-d", "d");

      // A pod that failed can no longer run: the port goes to d.
      const stored = await kube.pods.get("q", { namespace: "team-c" });
      await kube.pods.updateStatus({ ...stored, status: { ...stored.status, phase: "Failed" } });
      const bound = await eventually("claim d to be Bound", async () => {
        const d = await kube.hostPortClaims.get("d", { namespace: "team-d" });
        return d.status?.phase === "Bound" ? d : undefined;
      }, WINDOW_MS + 15_000);
      assert.equal(bound.status?.port, 9200);
      await eventuallyGone(`HostPort ${name}`, () => kube.hostPorts.get(name));
    },
  );
  await t.step(
    "item 9: a claim whose finalizer a tenant removes at once still waits out pods in admission",
    async () => {
      const token = await cp.serviceAccountToken("team-c", "tenant");
      const asTenant = (args: string[]) => cp.kubectl(args, { token });
      await kube.hostPortClasses.create(classObject("one-last", [[9300, 9300]]));
      await kube.hostPortClaims.create(claimObject("team-c", "e", "one-last"));
      const { hostPort } = await boundClaim(kube, "team-c", "e");
      assert.equal(hostPort.status?.port, 9300);
      await webhookSeesBound(cluster, "team-c", "e");

      const p2 = pod("p2", "team-c", { claims: { web: "e" }, containers: [[web()]] }) as {
        metadata: Record<string, unknown>;
      };
      const before = slow.received();
      const creating = cluster.create({ ...p2, metadata: { ...p2.metadata, labels: SLOW_LABEL } });
      await eventually("the slow admission step to hold p2", () => {
        return Promise.resolve(slow.received() > before ? true : undefined);
      });
      // The tenant deletes e and strips its finalizer at once: nothing of ours finalized it.
      const deleted = await asTenant(["delete", "hpc", "e", "-n", "team-c", "--wait=false"]);
      assert.equal(deleted.code, 0, deleted.stderr);
      const patched = await asTenant([
        "patch",
        "hpc",
        "e",
        "-n",
        "team-c",
        "--type=merge",
        "-p",
        '{"metadata":{"finalizers":null}}',
      ]);
      assert.equal(patched.code, 0, patched.stderr);
      await eventuallyGone("claim e", () => kube.hostPortClaims.get("e", { namespace: "team-c" }));
      await kube.hostPortClaims.create(claimObject("team-d", "f", "one-last"));
      await poolExhausted(cluster, "team-d", "f");

      const created = await creating;
      assert.equal(created.code, 0, created.stderr);
      const name = hostPort.metadata.name!;
      const blocked = await eventually("the HostPort of e to say p2 holds it", async () => {
        const hp = await kube.hostPorts.get(name);
        const condition = hp.status?.conditions?.find((c) => c.type === "DeletionBlocked");
        return condition?.message.includes("team-c/p2") ? hp : undefined;
      });
      assert.equal(blocked.status?.port, 9300, "the port stays held");
      const f = await kube.hostPortClaims.get("f", { namespace: "team-d" });
      assert.notEqual(f.status?.phase, "Bound", "f does not get the port p2 holds");

      await deletePodNow(kube, "p2", "team-c");
      const bound = await eventually("claim f to be Bound", async () => {
        const claim = await kube.hostPortClaims.get("f", { namespace: "team-d" });
        return claim.status?.phase === "Bound" ? claim : undefined;
      }, WINDOW_MS + 15_000);
      assert.equal(bound.status?.port, 9300);
    },
  );
});

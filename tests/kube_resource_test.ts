/**
 * ResourceClient against a real kube-apiserver: CRUD and /status on our kinds, CRD schema
 * validation, optimistic concurrency, patches, deletes, pagination, watches and built-ins.
 */
import assert from "node:assert/strict";
import type { HostPort, HostPortClaim, HostPortClass } from "../lib/api/mod.ts";
import {
  AlreadyExistsError,
  ConflictError,
  createKubeClients,
  CUSTOM_RESOURCE_DEFINITION_RESOURCE,
  GoneError,
  HOST_PORT_CLAIM_RESOURCE,
  InvalidError,
  type KubeClients,
  KubeRestClient,
  loadClusterConfig,
  NotFoundError,
  type RequestOptions,
  ResourceClient,
  type RestClient,
  type WatchEvent,
} from "../lib/kube/mod.ts";
import { startControlPlane } from "./controlplane/harness.ts";
import { closing, namespaces } from "./core_clients.ts";

const API_VERSION = "hostport.rmb938.com/v1alpha1" as const;

function uniqueName(prefix: string): string {
  return `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
}

function hostPortClass(name: string, pools = [{ start: 9000, end: 9010 }]): HostPortClass {
  return { apiVersion: API_VERSION, kind: "HostPortClass", metadata: { name }, spec: { pools } };
}

async function newNamespace(kube: KubeClients): Promise<string> {
  const name = uniqueName("kube");
  await namespaces(kube).create({ apiVersion: "v1", kind: "Namespace", metadata: { name } });
  return name;
}

Deno.test("ResourceClient against a real API server", async (t) => {
  await using cp = await startControlPlane();
  using rest = closing(
    new KubeRestClient(await loadClusterConfig({ kubeconfig: cp.kubeconfigPath })),
  );
  const kube = createKubeClients(rest);

  await t.step("create, get, update, list and delete a cluster-scoped HostPortClass", async () => {
    const name = uniqueName("class");
    const created = await kube.hostPortClasses.create(hostPortClass(name));
    assert.equal(created.metadata.name, name);
    assert.ok(created.metadata.uid);
    const read = await kube.hostPortClasses.get(name);
    assert.deepEqual(read.spec.pools, [{ start: 9000, end: 9010 }]);
    read.spec.pools.push({ start: 9500, end: 9600 });
    const updated = await kube.hostPortClasses.update(read);
    assert.equal(updated.spec.pools.length, 2);
    assert.notEqual(updated.metadata.resourceVersion, read.metadata.resourceVersion);
    const listed = await kube.hostPortClasses.listAll();
    assert.ok(listed.items.some((c) => c.metadata.name === name));
    assert.match(listed.resourceVersion, /^\d+$/);
    const deleted = await kube.hostPortClasses.delete(name);
    assert.equal(deleted, undefined, "deleted at once: the server answers a Status");
    await assert.rejects(kube.hostPortClasses.get(name), NotFoundError);
  });

  await t.step("the /status subresource of a namespaced HostPortClaim", async () => {
    const namespace = await newNamespace(kube);
    const claim: HostPortClaim = {
      apiVersion: API_VERSION,
      kind: "HostPortClaim",
      metadata: { name: "web", namespace },
      spec: { hostPortClassName: "games" },
    };
    const created = await kube.hostPortClaims.create(claim);
    assert.equal(created.metadata.namespace, namespace);
    const withStatus = await kube.hostPortClaims.updateStatus({
      ...created,
      spec: { hostPortClassName: "ignored-by-status" },
      status: { phase: "Pending" },
    });
    assert.equal(withStatus.status?.phase, "Pending");
    assert.equal(withStatus.spec.hostPortClassName, "games", "spec changes are ignored on /status");
    const patched = await kube.hostPortClaims.patchStatus("web", { status: { phase: "Bound" } }, {
      namespace,
    });
    assert.equal(patched.status?.phase, "Bound");
    const viaStatus = await kube.hostPortClaims.get("web", { namespace });
    assert.equal(viaStatus.status?.phase, "Bound");
    const specUpdate = await kube.hostPortClaims.update({
      ...viaStatus,
      status: { phase: "Pending" },
    });
    assert.equal(
      specUpdate.status?.phase,
      "Bound",
      "status changes are ignored on the main resource",
    );
  });

  await t.step(
    "CRD schema validation rejects a bad object with 422 Invalid and its causes",
    async () => {
      const bad = hostPortClass(uniqueName("bad"), [{ start: 0, end: 70000 }]);
      await assert.rejects(kube.hostPortClasses.create(bad), (error: unknown) => {
        assert.ok(error instanceof InvalidError, String(error));
        assert.equal(error.code, 422);
        assert.equal(error.reason, "Invalid");
        const fields = (error.status.details?.causes ?? []).map((c) => c.field).sort();
        assert.deepEqual(fields, ["spec.pools[0].end", "spec.pools[0].start"]);
        return true;
      });
    },
  );

  await t.step("a stale update gets 409 Conflict and a taken name 409 AlreadyExists", async () => {
    const name = uniqueName("conflict");
    const first = await kube.hostPortClasses.create(hostPortClass(name));
    await kube.hostPortClasses.update({ ...first, spec: { pools: [{ start: 1, end: 2 }] } });
    await assert.rejects(
      kube.hostPortClasses.update({ ...first, spec: { pools: [{ start: 3, end: 4 }] } }),
      (error: unknown) => error instanceof ConflictError && error.code === 409,
    );
    await assert.rejects(kube.hostPortClasses.create(hostPortClass(name)), AlreadyExistsError);
  });

  await t.step("merge patches", async () => {
    const name = uniqueName("patch");
    await kube.hostPortClasses.create(hostPortClass(name));
    const merged = await kube.hostPortClasses.patch(name, {
      metadata: { labels: { tier: "a" } },
      spec: { pools: [{ start: 9000, end: 9001 }] },
    });
    assert.equal(merged.metadata.labels?.tier, "a");
    assert.deepEqual(merged.spec.pools, [{ start: 9000, end: 9001 }]);
  });

  await t.step("delete honours preconditions and finalizers", async () => {
    const name = uniqueName("delete");
    const created = await kube.hostPortClasses.create({
      ...hostPortClass(name),
      metadata: { name, finalizers: ["example.com/hold"] },
    });
    await assert.rejects(
      kube.hostPortClasses.delete(name, {
        preconditions: { uid: "00000000-0000-0000-0000-000000000000" },
      }),
      ConflictError,
    );
    const deleting = await kube.hostPortClasses.delete(name, {
      preconditions: { uid: created.metadata.uid },
    });
    assert.ok(deleting?.metadata.deletionTimestamp, "held by the finalizer");
    await kube.hostPortClasses.patch(name, { metadata: { finalizers: null } });
    await assert.rejects(kube.hostPortClasses.get(name), NotFoundError);
  });

  await t.step("listAll() reads pages of 500 with continue and returns every object", async () => {
    const namespace = await newNamespace(kube);
    const names = Array.from({ length: 501 }, (_, i) => `c${i}`).sort();
    for (let i = 0; i < names.length; i += 50) {
      await Promise.all(
        names.slice(i, i + 50).map((name) =>
          kube.hostPortClaims.create({
            apiVersion: API_VERSION,
            kind: "HostPortClaim",
            metadata: { name, namespace },
            spec: { hostPortClassName: "x" },
          })
        ),
      );
    }
    const queries: URLSearchParams[] = [];
    const counting = {
      performRequest(opts: RequestOptions) {
        queries.push(opts.querystring ?? new URLSearchParams());
        return rest.performRequest(opts);
      },
    } as RestClient;
    const all = await new ResourceClient(counting, HOST_PORT_CLAIM_RESOURCE).listAll({ namespace });
    assert.deepEqual(all.items.map((c) => c.metadata.name).sort(), names);
    assert.deepEqual(queries.map((query) => [query.get("limit"), query.has("continue")]), [
      ["500", false],
      ["500", true],
    ]);
  });

  await t.step("watch() streams typed events and stops when aborted", async () => {
    const namespace = await newNamespace(kube);
    const start = await kube.hostPortClaims.listAll({ namespace });
    const abort = new AbortController();
    const events: WatchEvent<HostPortClaim>[] = [];
    const watching = (async () => {
      try {
        for await (
          const event of kube.hostPortClaims.watch({
            namespace,
            resourceVersion: start.resourceVersion,
            abortSignal: abort.signal,
          })
        ) {
          events.push(event);
          if (event.type === "DELETED") abort.abort();
        }
      } catch (error) {
        if (!abort.signal.aborted) throw error;
      }
    })();
    const claim = await kube.hostPortClaims.create({
      apiVersion: API_VERSION,
      kind: "HostPortClaim",
      metadata: { name: "w", namespace },
      spec: { hostPortClassName: "x" },
    });
    await kube.hostPortClaims.patch("w", { metadata: { labels: { a: "b" } } }, {
      namespace,
    });
    await kube.hostPortClaims.delete("w", { namespace });
    await watching;
    const objectEvents = events.filter((e) => e.type !== "BOOKMARK");
    assert.deepEqual(objectEvents.map((e) => e.type), ["ADDED", "MODIFIED", "DELETED"]);
    const added = objectEvents[0];
    assert.equal(added?.type === "ADDED" && added.object.metadata.uid, claim.metadata.uid);
  });

  await t.step("a watch from a compacted resourceVersion fails with GoneError", async () => {
    await assert.rejects(
      (async () => {
        for await (const _ of kube.hostPorts.watch({ resourceVersion: "1" })) { /* ignore */ }
      })(),
      GoneError,
    );
  });

  await t.step("cluster-scoped HostPort status and built-in kinds", async () => {
    const name = uniqueName("hpc");
    const hostPort: HostPort = {
      apiVersion: API_VERSION,
      kind: "HostPort",
      metadata: { name },
      spec: { hostPortClassName: "games" },
    };
    const created = await kube.hostPorts.create(hostPort);
    const allocated = await kube.hostPorts.updateStatus({
      ...created,
      status: { phase: "Allocated", port: 9005 },
    });
    assert.equal(allocated.status?.port, 9005);

    const namespace = await newNamespace(kube);
    const pod = await kube.pods.create({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "p", namespace },
      spec: { containers: [{ name: "c", image: "example.com/none" }] },
    });
    assert.equal(pod.kind, "Pod");
    const lease = await kube.leases.create({
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: { name: "leader", namespace },
      spec: { holderIdentity: "me", leaseDurationSeconds: 15 },
    });
    assert.equal(lease.spec?.holderIdentity, "me");
    const event = await kube.events.create({
      apiVersion: "events.k8s.io/v1",
      kind: "Event",
      metadata: { name: "e1", namespace },
      eventTime: new Date().toISOString().replace("Z", "000Z"),
      reportingController: "hostport.rmb938.com/test",
      reportingInstance: "test-1",
      action: "Allocate",
      reason: "Allocated",
      type: "Normal",
      regarding: { kind: "Pod", name: "p", namespace },
      note: "hello",
    });
    assert.equal(event.note, "hello");
    const pods = await kube.pods.listAll({ namespace });
    assert.equal(pods.items[0]?.kind, "Pod", "list items get apiVersion and kind filled in");
    const crds = new ResourceClient(rest, CUSTOM_RESOURCE_DEFINITION_RESOURCE);
    const crd = await crds.get("hostports.hostport.rmb938.com");
    assert.equal(crd.spec.names.kind, "HostPort");
  });
});

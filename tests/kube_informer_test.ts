/**
 * The Informer against a real kube-apiserver: watches the server closes, a frozen
 * connection, and an API server restart, each ending with a cache equal to a fresh list.
 */
import assert from "node:assert/strict";
import type { HostPortClaim } from "../lib/api/mod.ts";
import {
  createKubeClients,
  Informer,
  type KubeClients,
  KubeRestClient,
  loadClusterConfig,
  objectKey,
} from "../lib/kube/mod.ts";
import { startControlPlane } from "./controlplane/harness.ts";
import { claim, countRequests, TEST_LABEL, waitFor } from "./kube_informer_fixtures.ts";
import { closing, namespaces } from "./core_clients.ts";

function uniqueName(prefix: string): string {
  return `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
}

async function newNamespace(kube: KubeClients): Promise<string> {
  const name = uniqueName("inf");
  await namespaces(kube).create({ apiVersion: "v1", kind: "Namespace", metadata: { name } });
  return name;
}

function versions(objects: HostPortClaim[]): string[] {
  return objects.map((o) => `${objectKey(o)}@${o.metadata.resourceVersion}`).sort();
}

/** An informer plus a copy of the state its handlers reported. */
function track(
  kube: KubeClients,
  namespace: string,
  options: ConstructorParameters<typeof Informer>[1] = {},
) {
  const counted = countRequests(kube.rest);
  const informer = new Informer(createKubeClients(counted.rest).hostPortClaims, {
    labelSelector: `${TEST_LABEL}=${namespace}`,
    backoff: { initialMs: 100, maxMs: 1000 },
    ...options,
  });
  const seen = new Map<string, HostPortClaim>();
  const added: string[] = [];
  const errors: unknown[] = [];
  informer.addEventHandler({
    onAdd: (o) => {
      added.push(o.metadata.name!);
      seen.set(objectKey(o), o);
    },
    onUpdate: (_old, o) => seen.set(objectKey(o), o),
    onDelete: (o) => seen.delete(objectKey(o)),
  });
  return { informer, seen, added, errors, requests: counted.counts };
}

Deno.test("Informer against a real API server", async (t) => {
  await using cp = await startControlPlane();
  using rest = closing(
    new KubeRestClient(await loadClusterConfig({ kubeconfig: cp.kubeconfigPath })),
  );
  const kube = createKubeClients(rest);

  const matchesFreshList = async (informer: Informer<HostPortClaim>, namespace: string) => {
    const fresh = await kube.hostPortClaims.listAll({ namespace });
    return JSON.stringify(versions(informer.store.list())) ===
      JSON.stringify(versions(fresh.items));
  };

  await t.step(
    "a watch that outlives server-side closes resumes without a relist and misses nothing",
    async () => {
      const namespace = await newNamespace(kube);
      await kube.hostPortClaims.create(claim("before", namespace));
      const { informer, seen, added, requests } = track(kube, namespace, {
        watchTimeoutSeconds: 1,
      });
      informer.start();
      assert.equal(await informer.synced, true);
      const names = ["before"];
      // Writes keep coming while the server ends the watch every second.
      for (let i = 0; i < 20; i++) {
        const name = `c${i}`;
        names.push(name);
        await kube.hostPortClaims.create(claim(name, namespace));
        if (i % 4 === 3) await kube.hostPortClaims.delete(`c${i - 1}`, { namespace });
        await new Promise((resolve) => setTimeout(resolve, 150));
      }
      await waitFor(() => requests.watches >= 4, "several watches");
      await waitFor(() => matchesFreshList(informer, namespace), "cache equals a fresh list");
      assert.equal(requests.lists, 1, "never relisted");
      assert.deepEqual([...added].sort(), [...names].sort(), "every object was added exactly once");
      assert.deepEqual(versions([...seen.values()]), versions(informer.store.list()));
      await informer.stop();
    },
  );

  await t.step("a frozen connection is noticed as a stall and the informer recovers", async () => {
    const namespace = await newNamespace(kube);
    const { informer, seen, requests } = track(kube, namespace, {
      stallTimeoutMs: 2000,
      watchTimeoutSeconds: 300,
    });
    informer.start();
    await informer.synced;
    await kube.hostPortClaims.create(claim("a", namespace));
    await waitFor(() => informer.store.size === 1, "first object seen");
    const pid = cp.pids.kubeApiServer!;
    Deno.kill(pid, "SIGSTOP"); // the TCP connection stays open but goes silent
    try {
      // The server cannot end the watch (300 s): only the stall limit opens a second one.
      await waitFor(() => requests.watches >= 2, "the stall is noticed", 20_000);
    } finally {
      Deno.kill(pid, "SIGCONT");
    }
    await kube.hostPortClaims.create(claim("b", namespace));
    await waitFor(() => matchesFreshList(informer, namespace), "cache equals a fresh list");
    assert.equal(informer.store.size, 2);
    assert.deepEqual(versions([...seen.values()]), versions(informer.store.list()));
    await informer.stop();
  });

  await t.step("after an API server restart the cache equals a fresh list", async () => {
    const namespace = await newNamespace(kube);
    for (const name of ["keep", "change", "remove"]) {
      await kube.hostPortClaims.create(claim(name, namespace));
    }
    const errors: unknown[] = [];
    const { informer, seen } = track(kube, namespace, { onError: (error) => errors.push(error) });
    informer.start();
    await informer.synced;
    assert.equal(informer.store.size, 3);

    await cp.stopApiServer();
    await waitFor(() => errors.length > 0, "the informer notices the server is gone");
    await cp.startApiServer();
    // Changes right after the restart, racing the informer's reconnect.
    await kube.hostPortClaims.delete("remove", { namespace });
    await kube.hostPortClaims.patch("change", { metadata: { labels: { v: "2" } } }, {
      namespace,
    });
    await kube.hostPortClaims.create(claim("new", namespace));

    await waitFor(() => matchesFreshList(informer, namespace), "cache equals a fresh list");
    assert.deepEqual(informer.store.keys().sort(), [
      `${namespace}/change`,
      `${namespace}/keep`,
      `${namespace}/new`,
    ]);
    assert.equal(informer.store.getByName("change", namespace)?.metadata.labels?.v, "2");
    assert.deepEqual(
      versions([...seen.values()]),
      versions(informer.store.list()),
      "handlers saw every change",
    );
    await informer.stop();
  });

  await t.step("stop() ends the watch connection", async () => {
    const namespace = await newNamespace(kube);
    const { informer, requests } = track(kube, namespace);
    informer.start();
    await informer.synced;
    await informer.stop();
    const watches = requests.watches;
    await kube.hostPortClaims.create(claim("after-stop", namespace));
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(informer.store.size, 0, "no events after stop");
    assert.equal(requests.watches, watches, "no new watch after stop");
  });
});

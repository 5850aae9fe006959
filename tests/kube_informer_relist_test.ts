/**
 * The Informer relists when its resourceVersion has expired. The API server runs without its
 * watch cache, so watches are served by etcd and a compaction makes older versions "too old".
 */
import assert from "node:assert/strict";
import {
  createKubeClients,
  GoneError,
  Informer,
  KubeRestClient,
  loadClusterConfig,
  objectKey,
} from "../lib/kube/mod.ts";
import { startControlPlane } from "./controlplane/harness.ts";
import { claim, countRequests, TEST_LABEL, waitFor } from "./kube_informer_fixtures.ts";
import { closing, namespaces } from "./core_clients.ts";

Deno.test("Informer relists after its resourceVersion expired (410 Gone)", async () => {
  await using cp = await startControlPlane({ watchCache: false });
  using rest = closing(
    new KubeRestClient(await loadClusterConfig({ kubeconfig: cp.kubeconfigPath })),
  );
  const kube = createKubeClients(rest);
  const namespace = `relist-${crypto.randomUUID().slice(0, 8)}`;
  const other = `${namespace}-other`;
  for (const name of [namespace, other]) {
    await namespaces(kube).create({ apiVersion: "v1", kind: "Namespace", metadata: { name } });
  }
  await kube.hostPortClaims.create(claim("old", namespace));

  const deleted: string[] = [];
  const gone: unknown[] = [];
  const { rest: counted, counts: requests } = countRequests(rest);
  const informer = new Informer(createKubeClients(counted).hostPortClaims, {
    labelSelector: `${TEST_LABEL}=${namespace}`,
    watchTimeoutSeconds: 2,
    backoff: { initialMs: 100, maxMs: 1000 },
    onError: (error) => gone.push(error),
  });
  informer.addEventHandler({ onDelete: (o) => deleted.push(o.metadata.name!) });
  informer.start();
  await informer.synced;
  // At least the informer's resourceVersion: it saw no event since its list.
  const listedAt = (await kube.hostPortClaims.listAll({ namespace })).resourceVersion;

  // Move etcd on (in another namespace, so this informer sees no event) and compact, so the
  // informer's resourceVersion is gone when its watch is renewed.
  for (let i = 0; i < 5; i++) await kube.hostPortClaims.create(claim(`noise${i}`, other));
  const compacted = await cp.compactEtcd();
  assert.ok(compacted > Number(listedAt));
  await assert.rejects(
    (async () => {
      for await (const _ of kube.hostPortClaims.watch({ namespace, resourceVersion: listedAt })) {
        break;
      }
    })(),
    GoneError,
    "the listed resourceVersion is now too old",
  );

  // Only a 410 makes it list again (a failed watch resumes from its resourceVersion).
  await waitFor(() => requests.lists >= 2, "a relist after the 410 on the renewed watch");
  assert.equal(gone.length, 0, "a 410 is handled by relisting, not reported as an error");

  // The relisted informer keeps following changes.
  await kube.hostPortClaims.delete("old", { namespace });
  await kube.hostPortClaims.create(claim("new", namespace));
  await waitFor(async () => {
    const fresh = await kube.hostPortClaims.listAll({ namespace });
    const want = fresh.items.map((o) => `${objectKey(o)}@${o.metadata.resourceVersion}`).sort();
    const have = informer.store.list().map((o) => `${objectKey(o)}@${o.metadata.resourceVersion}`)
      .sort();
    return JSON.stringify(want) === JSON.stringify(have);
  }, "cache equals a fresh list");
  assert.deepEqual(informer.store.keys(), [`${namespace}/new`]);
  assert.deepEqual(deleted, ["old"]);
  await informer.stop();
});

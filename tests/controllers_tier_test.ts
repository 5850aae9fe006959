/**
 * The operator next to the real kube-controller-manager and kube-scheduler (the harness's
 * `controllers` option): the namespace controller deleting a namespace that holds our claims and
 * pods, the ReplicaSet controller creating a Deployment's pods through our pod webhook, and the
 * quota controller counting our CRD in a ResourceQuota. Our side runs in-process: the admission
 * server of `webhook_e2e_cluster.ts` and the controllers of `controller_harness.ts`.
 */
import assert from "node:assert/strict";
import { CLAIM_ANNOTATION_PREFIX, PORT_ANNOTATION_PREFIX } from "../lib/api/mod.ts";
import {
  boundClaim,
  claimObject,
  classObject,
  eventually,
  eventuallyGone,
  podObject,
  startOperator,
} from "./controller_harness.ts";
import { findBinaries } from "./controlplane/binaries.ts";
import { startControlPlane } from "./controlplane/harness.ts";
import { processesMentioning } from "./controlplane/process.ts";
import { type E2eCluster, startE2eCluster } from "./webhook_e2e_cluster.ts";
import { namespaces } from "./core_clients.ts";

/** The rig with real controllers, and our operator running against it. */
async function startRig(): Promise<{ cluster: E2eCluster } & AsyncDisposable> {
  const cluster = await startE2eCluster({ controlPlane: { controllers: true } });
  try {
    const operator = await startOperator(cluster.cp);
    return {
      cluster,
      [Symbol.asyncDispose]: async () => {
        try {
          await operator.stop();
        } finally {
          await cluster[Symbol.asyncDispose]();
        }
      },
    };
  } catch (error) {
    await cluster[Symbol.asyncDispose]();
    throw error;
  }
}

/** Creates namespace `name` with the label that turns our pod webhook on. */
async function tenantNamespace(cluster: E2eCluster, name: string): Promise<void> {
  await namespaces(cluster.kube).create({
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name, labels: { "hostport.rmb938.com": "true" } },
  });
}

Deno.test("deleting a namespace with claims and pods in it finishes and frees the ports", async () => {
  await using rig = await startRig();
  const { kube } = rig.cluster;
  await kube.hostPortClasses.create(classObject("two", [[30100, 30101]]));
  await tenantNamespace(rig.cluster, "doomed");
  const hostPorts: string[] = [];
  const ports: number[] = [];
  for (const name of ["a", "b"]) {
    await kube.hostPortClaims.create(claimObject("doomed", name, "two"));
    const { claim, hostPort } = await boundClaim(kube, "doomed", name);
    assert.deepEqual(claim.metadata?.finalizers?.length, 1, "the claim has our finalizer");
    hostPorts.push(hostPort.metadata!.name!);
    ports.push(claim.status!.port!);
    const pod = await kube.pods.create(podObject("doomed", `p-${name}`, name), {
      namespace: "doomed",
    });
    assert.equal(pod.spec?.containers[0]?.ports?.[0]?.hostPort, claim.status!.port);
  }
  assert.deepEqual(ports.toSorted(), [30100, 30101]);

  await namespaces(kube).delete("doomed");
  await eventuallyGone("namespace doomed", () => namespaces(kube).get("doomed"));
  for (const name of hostPorts) {
    await eventuallyGone(`HostPort ${name}`, () => kube.hostPorts.get(name));
  }

  // Both ports of the class are free again: two new claims elsewhere get them.
  await tenantNamespace(rig.cluster, "next");
  const again: number[] = [];
  for (const name of ["c", "d"]) {
    await kube.hostPortClaims.create(claimObject("next", name, "two"));
    again.push((await boundClaim(kube, "next", name)).claim.status!.port!);
  }
  assert.deepEqual(again.toSorted(), [30100, 30101]);
});

Deno.test("a Deployment's pods get their claim's port through the pod webhook", async () => {
  await using rig = await startRig();
  const { kube } = rig.cluster;
  await kube.hostPortClasses.create(classObject("web", [[30200, 30209]]));
  await tenantNamespace(rig.cluster, "apps");
  await kube.hostPortClaims.create(claimObject("apps", "shared", "web"));
  const port = (await boundClaim(kube, "apps", "shared")).claim.status!.port!;

  await rig.cluster.apply({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "echo", namespace: "apps" },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: "echo" } },
      template: {
        metadata: {
          labels: { app: "echo" },
          annotations: { [`${CLAIM_ANNOTATION_PREFIX}web`]: "shared" },
        },
        spec: {
          containers: [{
            name: "echo",
            image: "echo",
            ports: [{ name: "web", containerPort: 8080 }],
          }],
        },
      },
    },
  });

  const pods = await eventually("the Deployment's two pods, unschedulable", async () => {
    const list = await kube.pods.listAll({ namespace: "apps", labelSelector: "app=echo" });
    const unschedulable = list.items.filter((pod) =>
      pod.status?.conditions?.some((c) =>
        c.type === "PodScheduled" && c.status === "False" && c.reason === "Unschedulable"
      )
    );
    return unschedulable.length === 2 ? unschedulable : undefined;
  });
  for (const pod of pods) {
    const name = pod.metadata?.name;
    assert.equal(pod.metadata?.ownerReferences?.[0]?.kind, "ReplicaSet", name);
    assert.deepEqual(pod.spec?.containers.map((c) => c.ports?.map((p) => p.hostPort)), [[port]]);
    assert.equal(pod.metadata?.annotations?.[`${PORT_ANNOTATION_PREFIX}web`], String(port), name);
  }
});

// The harness starts kube-controller-manager after the CRDs, so the quota controller counts claims
// from its first sync of a quota. Measured otherwise (CRD installed after it started, quota made a
// second later): the quota's status lacked the claim count for the 150 s we watched, and the
// apiserver refused every claim create with "status unknown for quota" meanwhile.
Deno.test("the quota controller counts our claims in a ResourceQuota", async () => {
  await using rig = await startRig();
  const { cluster } = rig;
  const { kube } = cluster;
  const resource = "count/hostportclaims.hostport.rmb938.com";
  await kube.hostPortClasses.create(classObject("q", [[30300, 30309]]));
  await tenantNamespace(cluster, "quota");
  const used = () => cluster.get("resourcequota claims", "{.status.used}", "quota");

  const start = Date.now();
  await cluster.apply({
    apiVersion: "v1",
    kind: "ResourceQuota",
    metadata: { name: "claims", namespace: "quota" },
    spec: { hard: { [resource]: "2" } },
  });
  const first = await eventually("the quota's first status", async () => {
    const text = await used();
    return text === "" ? undefined : JSON.parse(text);
  });
  assert.deepEqual(first, { [resource]: "0" });
  const firstStatusMs = Date.now() - start;

  for (const name of ["one", "two"]) {
    await kube.hostPortClaims.create(claimObject("quota", name, "q"));
  }
  const created = Date.now();
  await eventually("the quota to count two claims", async () => {
    const text = await used();
    return text !== "" && JSON.parse(text)[resource] === "2" ? true : undefined;
  });
  const countedMs = Date.now() - created;
  console.log(`quota status after ${firstStatusMs} ms; two claims counted after ${countedMs} ms`);

  // The apiserver's quota admission enforces the quota on our CRD.
  const third = await cluster.create(claimObject("quota", "three", "q"));
  assert.notEqual(third.code, 0, third.stdout);
  assert.match(third.stderr, /exceeded quota: claims, requested: count\/hostportclaims/);

  // Only the quota controller lowers the count (admission counts creates, not deletes).
  await kube.hostPortClaims.delete("one", { namespace: "quota" });
  await eventually("the quota to count one claim", async () => {
    const text = await used();
    return text !== "" && JSON.parse(text)[resource] === "1" ? true : undefined;
  });
});

function isRunning(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    return !/^\d+ \(.*\) Z/.test(Deno.readTextFileSync(`/proc/${pid}/stat`));
  } catch {
    return false;
  }
}

Deno.test("the controllers option runs both controllers until stop()", async () => {
  const cp = await startControlPlane({ crds: false, controllers: true });
  try {
    const { kubeControllerManager, kubeScheduler } = cp.pids;
    assert.ok(isRunning(kubeControllerManager), "kube-controller-manager runs");
    assert.ok(isRunning(kubeScheduler), "kube-scheduler runs");
    // A new namespace gets its default ServiceAccount from kube-controller-manager.
    await cp.kubectl(["create", "namespace", "fresh"]);
    await eventually("the default ServiceAccount of namespace fresh", async () => {
      const { code } = await cp.kubectl(["get", "serviceaccount", "default", "-n", "fresh"]);
      return code === 0 ? true : undefined;
    });
    await cp.stop();
    assert.deepEqual(processesMentioning(cp.runDir), []);
    assert.ok(!isRunning(kubeControllerManager), "kube-controller-manager stopped");
    assert.ok(!isRunning(kubeScheduler), "kube-scheduler stopped");
  } finally {
    await cp.stop();
  }
});

Deno.test("the controllers die when the control plane's owner is killed with SIGKILL", async () => {
  const { binDir } = await findBinaries();
  const fixture = new URL("./controlplane/sigkill_fixture.ts", import.meta.url).pathname;
  const owner = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", fixture, "--controllers"],
    env: { KUBEBUILDER_ASSETS: binDir },
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  let runDir: string | undefined;
  try {
    const reader = owner.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    reader.releaseLock();
    const line = JSON.parse(text.split("\n")[0] ?? "");
    runDir = String(line.runDir);
    const pids = [line.pids.kubeControllerManager, line.pids.kubeScheduler];
    for (const pid of pids) assert.ok(isRunning(pid), `process ${pid} runs`);
    owner.kill("SIGKILL");
    await owner.status;
    await eventually(
      "the orphaned controllers to exit",
      () => pids.every((pid) => !isRunning(pid)) || undefined,
      30_000,
    );
    const dir = runDir;
    await eventually(
      "every orphaned process to exit",
      () => processesMentioning(dir).length === 0 || undefined,
      30_000,
    );
  } finally {
    try {
      owner.kill("SIGKILL");
    } catch {
      // already dead
    }
    await owner.status;
    await owner.stdout.cancel().catch(() => {});
    if (runDir !== undefined) await Deno.remove(runDir, { recursive: true });
  }
});

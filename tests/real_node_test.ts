/**
 * The real-node tier: a real one-node Kubernetes v1.35.4 on this machine (kubelet, containerd,
 * CNI, kube-proxy; `tests/realnode/`), and the operator installed and used exactly as a user
 * does, with the repository's files unmodified:
 *
 * - `kubectl apply -f deploy/release.yaml`, the rollout of 2 Ready replicas;
 * - the README quickstart (`deploy/examples/`): the pod runs and answers on its host port, on
 *   the node's address and on 127.0.0.1; a second pod asking for the same port stays Pending;
 * - leader failover (the Lease holder's pod deleted); a Deployment whose pods name one claim;
 * - per-pod ports (a HostPortClaimTemplate) on pods that run and answer: a StatefulSet (a pod
 *   deleted comes back on its port; scaled 5 to 3 under `whenScaled: Delete`, deleted under
 *   `whenDeleted: Retain`), a Deployment and its rollout, a Job whose pod runs to completion;
 * - the README's uninstall, which leaves nothing behind, and how fast the replicas stop;
 * - `helm install` of deploy/chart, a claim and a pod, and the chart's documented uninstall.
 *
 * One node for the file; it needs root (see README "Real-node tier"). The keeper tears the node
 * down and restores the host however the test ends; the test asserts that the host's snapshot
 * after equals the one before.
 */
import assert from "node:assert/strict";
import type { Pod as KubePod, PodSpec } from "kubernetes-types/core/v1.d.ts";
import { parse } from "yaml";
import { classObject, eventually } from "./controller_harness.ts";
import {
  deployment,
  job,
  podTemplate,
  portOf,
  statefulSet,
  templateObject,
} from "./per_pod_fixtures.ts";
import { NODE_IP, REPO_DIR } from "./realnode/config.ts";
import { type RealNode, startRealNode, type TeardownReport } from "./realnode/harness.ts";
import { DEFAULT_SHUTDOWN_GRACE_MS } from "../webhook/server.ts";

const NS = "hostport-allocator";
const LEASE = "f10832af.rmb938.com";
const BUILD_HELM = new URL("./controlplane/build_helm.sh", import.meta.url).pathname;

type Pod = {
  metadata: {
    name: string;
    deletionTimestamp?: string;
    deletionGracePeriodSeconds?: number;
    annotations?: Record<string, string>;
  };
  spec: { containers: { ports?: { hostPort?: number }[] }[] };
  status: {
    phase?: string;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
    containerStatuses?: {
      ready: boolean;
      state?: { terminated?: { exitCode: number; startedAt?: string; finishedAt?: string } };
    }[];
  };
};

async function json<T>(node: RealNode, args: string[]): Promise<T> {
  return JSON.parse(await node.kubectlOk([...args, "-o", "json"])) as T;
}

async function pods(node: RealNode, namespace: string, selector?: string): Promise<Pod[]> {
  const args = ["get", "pods", "-n", namespace, ...(selector ? ["-l", selector] : [])];
  return (await json<{ items: Pod[] }>(node, args)).items;
}

const ready = (pod: Pod) =>
  pod.status.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true;
const unschedulable = (pod: Pod) =>
  pod.status.conditions?.some((c) =>
    c.type === "PodScheduled" && c.reason === "Unschedulable" &&
    (c.message ?? "").includes("free ports")
  ) === true;

/** GETs `url` and returns the body once it answers 200. */
async function answer(url: string): Promise<string> {
  return await eventually(`${url} to answer`, async () => {
    const response = await fetch(url, { signal: AbortSignal.timeout(3000) });
    const body = await response.text();
    return response.ok ? body : undefined;
  });
}

async function claimPort(node: RealNode, name: string): Promise<number> {
  await node.kubectlOk([
    "wait",
    "-n",
    "default",
    "--for=jsonpath={.status.phase}=Bound",
    `hostportclaim/${name}`,
    "--timeout=60s",
  ]);
  return Number(
    await node.kubectlOk([
      "get",
      "-n",
      "default",
      "hostportclaim",
      name,
      "-o",
      "jsonpath={.status.port}",
    ]),
  );
}

function claim(name: string): string {
  return `apiVersion: hostport.rmb938.com/v1alpha1
kind: HostPortClaim
metadata: {name: ${name}, namespace: default}
spec: {hostPortClassName: sample}
`;
}

/** deploy/examples/pod-echo.yaml under another name. */
async function echoPodNamed(name: string): Promise<string> {
  const pod = parse(await Deno.readTextFile(`${REPO_DIR}deploy/examples/pod-echo.yaml`));
  pod.metadata.name = name;
  return JSON.stringify(pod);
}

async function rolledOut(node: RealNode): Promise<void> {
  await node.kubectlOk([
    "-n",
    NS,
    "rollout",
    "status",
    "deployment/hostport-allocator",
    "--timeout=180s",
  ]);
  await eventually("2 Ready replicas", async () => {
    const all = await pods(node, NS);
    return all.filter((p) => ready(p) && !p.metadata.deletionTimestamp).length === 2 &&
        all.length === 2
      ? true
      : undefined;
  }, 120_000);
}

/**
 * How the operator's replicas stop when `action` deletes them: each container's exit code and the
 * seconds from its deletion (deletionTimestamp minus the deletion's grace period) to its exit.
 * It watches the namespace's pods from before the action until every pod that was there is gone,
 * so no stop is missed however quickly the kubelet deletes the pod after its container exits (the
 * terminated state arrives in the pod's last MODIFIED or its DELETED event).
 */
async function replicaStops(
  node: RealNode,
  action: () => Promise<void>,
): Promise<{ pod: string; exitCode: number; seconds: number; grace: number }[]> {
  const api = await node.api();
  const path = `/api/v1/namespaces/${NS}/pods`;
  try {
    const list = await api.json("GET", path);
    assert.equal(list.status, 200, `list pods: ${JSON.stringify(list.body)}`);
    const { items, metadata } = list.body as {
      items: Pod[];
      metadata: { resourceVersion: string };
    };
    const waiting = new Set(items.map((pod) => pod.metadata.name));
    const seen = new Map<string, { exitCode: number; seconds: number; grace: number }>();
    // The first deletion seen counts: a later one with a shorter grace (the kubelet's final
    // delete has 0) moves deletionTimestamp.
    const deletions = new Map<string, { at: number; grace: number }>();
    const note = (pod: Pod) => {
      const { name, deletionTimestamp, deletionGracePeriodSeconds } = pod.metadata;
      if (deletionTimestamp === undefined) return;
      const grace = deletionGracePeriodSeconds ?? 40;
      const at = Date.parse(deletionTimestamp) - grace * 1000;
      const first = deletions.get(name);
      const deletion = first !== undefined && first.at <= at ? first : { at, grace };
      deletions.set(name, deletion);
      const ended = pod.status.containerStatuses?.[0]?.state?.terminated;
      if (ended?.finishedAt === undefined) return;
      const seconds = (Date.parse(ended.finishedAt) - deletion.at) / 1000;
      seen.set(name, { exitCode: ended.exitCode, seconds, grace: deletion.grace });
    };
    const abort = new AbortController();
    const response = await api.fetch(
      `${path}?watch=1&resourceVersion=${metadata.resourceVersion}&timeoutSeconds=300`,
      { signal: abort.signal },
    );
    assert.equal(response.status, 200, "watch pods");
    const events = (async () => {
      const decoder = new TextDecoder();
      let buffer = "";
      try {
        for await (const chunk of response.body!) {
          buffer += decoder.decode(chunk, { stream: true });
          let at: number;
          while ((at = buffer.indexOf("\n")) >= 0) {
            const event = JSON.parse(buffer.slice(0, at)) as { type: string; object: Pod };
            buffer = buffer.slice(at + 1);
            if (event.type === "ERROR") throw new Error(`watch: ${JSON.stringify(event.object)}`);
            note(event.object);
            if (event.type === "DELETED") waiting.delete(event.object.metadata.name);
          }
          if (waiting.size === 0) return;
        }
        throw new Error(`the pod watch ended with ${[...waiting].join(", ")} still there`);
      } finally {
        abort.abort();
      }
    })();
    try {
      await action();
    } catch (error) {
      abort.abort();
      await events.catch(() => {});
      throw error;
    }
    await events;
    return [...seen].map(([pod, stop]) => ({ pod, ...stop }));
  } finally {
    api.close();
  }
}

/**
 * A replica stopped without waiting out the webhook server's shutdown grace: that wait means a
 * connection held the graceful shutdown (it took the grace, 10 s, with the never-used-connection
 * fix undone); measured 0-1 s.
 */
function assertStoppedOnItsOwn(stop: { pod: string; seconds: number }): void {
  assert.ok(
    stop.seconds < DEFAULT_SHUTDOWN_GRACE_MS / 1000,
    `${stop.pod} stopped ${stop.seconds} s after its deletion: a connection held its shutdown`,
  );
}

/** Applies one object given as JSON. */
async function apply(node: RealNode, object: unknown): Promise<void> {
  await node.kubectlOk(["apply", "-f", "-"], { stdin: JSON.stringify(object) });
}

/** The pod spec of deploy/examples/statefulset-game.yaml: the echo with its own host port. */
async function gameSpec(): Promise<PodSpec> {
  const set = parse(await Deno.readTextFile(`${REPO_DIR}deploy/examples/statefulset-game.yaml`));
  return set.spec.template.spec as PodSpec;
}

async function appPods(node: RealNode, app: string): Promise<KubePod[]> {
  const args = ["get", "pods", "-n", "default", "-l", `app=${app}`];
  return (await json<{ items: KubePod[] }>(node, args)).items;
}

const readyNow = (pod: KubePod) =>
  pod.metadata?.deletionTimestamp === undefined &&
  pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true;

/**
 * Waits until app `app` has exactly `count` pods, all Ready (and passing `accept`); returns each
 * pod's port `web`.
 */
async function readyPorts(
  node: RealNode,
  app: string,
  count: number,
  accept: (pod: KubePod) => boolean = () => true,
): Promise<Map<string, number>> {
  return await eventually(`${count} Ready pods of ${app}`, async () => {
    const all = await appPods(node, app);
    if (all.length !== count || !all.every((p) => readyNow(p) && accept(p))) return undefined;
    return new Map(all.map((p) => [p.metadata?.name ?? "", portOf(p) ?? 0]));
  }, 120_000);
}

/** The ports are distinct, and each pod answers on its own, at the node's address and 127.0.0.1. */
async function answerOnTheirOwn(ports: Map<string, number>): Promise<void> {
  assert.equal(new Set(ports.values()).size, ports.size, `distinct ports: ${[...ports]}`);
  for (const [pod, port] of ports) {
    assert.ok(port >= 9500 && port <= 9650, `${pod}: port ${port} of its class`);
    for (const host of [NODE_IP, "127.0.0.1"]) {
      const body = await answer(`http://${host}:${port}/`);
      assert.match(body, new RegExp(`pod ${pod}, container port 8080, host port ${port}\n`));
    }
  }
}

type Claim = {
  metadata: {
    name: string;
    deletionTimestamp?: string;
    ownerReferences?: { kind: string; name: string; controller?: boolean }[];
  };
  status?: { port?: number };
};

/** The claims of namespace default, by name. */
async function claims(node: RealNode): Promise<Map<string, Claim>> {
  const list = await json<{ items: Claim[] }>(node, ["get", "hostportclaims", "-n", "default"]);
  return new Map(list.items.map((c) => [c.metadata.name, c]));
}

/** The ports HostPorts hold now. */
async function heldPorts(node: RealNode): Promise<number[]> {
  const list = await json<{ items: { status?: { port?: number } }[] }>(node, ["get", "hostports"]);
  return list.items.map((h) => h.status?.port ?? 0).filter((p) => p > 0);
}

const duplicated = (ports: number[]) => ports.filter((p, i) => ports.indexOf(p) !== i);

/**
 * The README quickstart's manifests, unmodified: the class, the claim (waited for until it holds
 * a port), then the pod, waited for until Ready. Resolves the claim's port.
 */
async function playQuickstart(node: RealNode): Promise<number> {
  await node.kubectlOk(["apply", "-f", "deploy/examples/hostportclass-sample.yaml"]);
  await node.kubectlOk(["apply", "-f", "deploy/examples/hostportclaim-echo-web.yaml"]);
  const port = await claimPort(node, "echo-web");
  await node.kubectlOk(["apply", "-f", "deploy/examples/pod-echo.yaml"]);
  await node.kubectlOk(
    ["wait", "-n", "default", "--for=condition=Ready", "pod/echo", "--timeout=120s"],
  );
  return port;
}

/** The README's "Uninstalling" steps 1 to 3: pods and workloads, claims, HostPorts, classes. */
async function deleteClaimsAndClasses(node: RealNode): Promise<void> {
  await node.kubectlOk([
    "delete",
    "deployments,statefulsets,jobs,pods",
    "--all",
    "-n",
    "default",
  ]);
  await node.kubectlOk(["delete", "hostportclaims", "--all", "--all-namespaces", "--timeout=180s"]);
  await node.kubectlOk(["delete", "hostports", "--all"]);
  await node.kubectlOk(["delete", "hostportclasses", "--all"]);
  assert.equal(
    await node.kubectlOk(["get", "hostportclaims,hostports,hostportclasses", "-A", "-o", "name"]),
    "",
  );
}

async function helm(node: RealNode, args: string[]): Promise<string> {
  const dir = new TextDecoder().decode(
    (await new Deno.Command("bash", { args: [BUILD_HELM], stderr: "inherit" }).output()).stdout,
  ).trim();
  const home = await Deno.makeTempDir({ prefix: "helm-home-" });
  try {
    const out = await new Deno.Command(`${dir}/helm`, {
      args,
      env: {
        ...node.env,
        HELM_CACHE_HOME: `${home}/cache`,
        HELM_CONFIG_HOME: `${home}/config`,
        HELM_DATA_HOME: `${home}/data`,
      },
    }).output();
    const text = new TextDecoder();
    assert.equal(out.code, 0, `helm ${args.join(" ")}: ${text.decode(out.stderr)}`);
    return text.decode(out.stdout);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
}

/** Nothing of the operator is left: no CRDs, webhook configurations or namespace. */
async function nothingLeft(node: RealNode): Promise<void> {
  const crds = await node.kubectlOk(["get", "crds", "-o", "name"]);
  assert.doesNotMatch(crds, /hostport\.rmb938\.com/);
  const hooks = await node.kubectlOk([
    "get",
    "mutatingwebhookconfigurations,validatingwebhookconfigurations",
    "-o",
    "name",
  ]);
  assert.doesNotMatch(hooks, /hostport-allocator/);
  await eventually(`namespace ${NS} to be gone`, async () => {
    const result = await node.kubectl(["get", "namespace", NS]);
    return result.code !== 0 && result.stderr.includes("NotFound") ? true : undefined;
  }, 120_000);
  const clusterRoles = await node.kubectlOk([
    "get",
    "clusterroles,clusterrolebindings",
    "-o",
    "name",
  ]);
  assert.doesNotMatch(clusterRoles, /hostport-allocator/);
}

Deno.test("real node: release, quickstart, failover, uninstall, helm", async (t) => {
  const node = await startRealNode();
  console.log(`node Ready ${node.ready.startSeconds.toFixed(1)} s after the keeper started`);
  let failed = true;
  const step = async (name: string, fn: () => Promise<void>) => {
    if (!await t.step(name, fn)) throw new Error(`Step failed: ${name}`);
  };
  try {
    await step("kubectl apply -f deploy/release.yaml rolls out 2 Ready replicas", async () => {
      await node.kubectlOk(["apply", "-f", "deploy/release.yaml"]);
      await rolledOut(node);
    });

    await step("the quickstart's pod answers on its host port", async () => {
      await node.kubectlOk(["label", "namespace", "default", "hostport.rmb938.com=true"]);
      const port = await playQuickstart(node);
      assert.equal(port, 9000);
      const pod = await json<Pod>(node, ["get", "-n", "default", "pod", "echo"]);
      assert.equal(pod.spec.containers[0]?.ports?.[0]?.hostPort, 9000);
      assert.equal(pod.metadata.annotations?.["port.hostport.rmb938.com/web"], "9000");
      for (const host of [NODE_IP, "127.0.0.1"]) {
        const body = await answer(`http://${host}:9000/`);
        assert.match(body, /pod echo, container port 8080, host port 9000/);
      }
    });

    await step("a second pod asking for the same claim stays Pending: no free port", async () => {
      await node.kubectlOk(["apply", "-f", "-"], { stdin: await echoPodNamed("echo-2") });
      await eventually("echo-2 to be Unschedulable for want of a free port", async () => {
        const [pod] = (await pods(node, "default")).filter((p) => p.metadata.name === "echo-2");
        return pod !== undefined && unschedulable(pod) && pod.status.phase === "Pending"
          ? true
          : undefined;
      });
      await node.kubectlOk(["delete", "pod", "-n", "default", "echo-2"]);
    });

    await step("deleting the leader's pod: a new claim still binds, 2 replicas again", async () => {
      const lease = await json<{ spec: { holderIdentity?: string } }>(node, [
        "get",
        "lease",
        "-n",
        NS,
        LEASE,
      ]);
      const leader = lease.spec.holderIdentity?.split("_")[0];
      assert.ok(leader, "the Lease has a holder");
      await node.kubectlOk(["delete", "pod", "-n", NS, leader, "--wait=false"]);
      await node.kubectlOk(["apply", "-f", "-"], { stdin: claim("failover") });
      assert.equal(await claimPort(node, "failover"), 9500);
      await eventually("the Lease held by another pod", async () => {
        const now = await json<{ spec: { holderIdentity?: string } }>(node, [
          "get",
          "lease",
          "-n",
          NS,
          LEASE,
        ]);
        const holder = now.spec.holderIdentity?.split("_")[0];
        return holder !== undefined && holder !== leader ? true : undefined;
      }, 90_000);
      await rolledOut(node);
    });

    await step(
      "a Deployment whose pods name one claim: 1 Running, the others Pending",
      async () => {
        await node.kubectlOk(["apply", "-f", "-"], { stdin: claim("shared") });
        const port = await claimPort(node, "shared");
        await node.kubectlOk(["apply", "-f", "-"], {
          stdin: JSON.stringify({
            apiVersion: "apps/v1",
            kind: "Deployment",
            metadata: { name: "shared", namespace: "default" },
            spec: {
              replicas: 3,
              selector: { matchLabels: { app: "shared" } },
              template: {
                metadata: {
                  labels: { app: "shared" },
                  annotations: { "claim.hostport.rmb938.com/web": "shared" },
                },
                spec: {
                  containers: [{
                    name: "echo",
                    image: "registry.k8s.io/e2e-test-images/agnhost:2.53",
                    args: ["netexec", "--http-port=8080"],
                    ports: [{ name: "web", containerPort: 8080 }],
                  }],
                },
              },
            },
          }),
        });
        await eventually("1 Running and 2 Unschedulable pods of the Deployment", async () => {
          const all = await pods(node, "default", "app=shared");
          const running = all.filter((p) => p.status.phase === "Running" && ready(p));
          const pending = all.filter((p) => p.status.phase === "Pending" && unschedulable(p));
          return all.length === 3 && running.length === 1 && pending.length === 2
            ? true
            : undefined;
        }, 120_000);
        const body = await answer(`http://127.0.0.1:${port}/`);
        assert.match(body, /pod shared-\S+, container port 8080/);
      },
    );

    // Per-pod ports. The deletion window (65 s) of the claims that go here runs while the next
    // steps do: the last per-pod step checks their ports are back in the pool.
    const spec = await gameSpec();
    let sts = new Map<string, number>();
    let scaledAway: number[] = [];
    let jobPod = "";
    await step(
      "a StatefulSet of 3 with a template: 3 ports, each pod answers on its own",
      async () => {
        await apply(node, templateObject("default", "port", "sample"));
        const policy = { whenDeleted: "Retain", whenScaled: "Delete" };
        await apply(node, statefulSet("default", "game", 3, policy, spec));
        sts = await readyPorts(node, "game", 3);
        await answerOnTheirOwn(sts);
        for (const [pod, port] of sts) assert.equal(await claimPort(node, `port-${pod}`), port);
      },
    );

    await step("game-1 deleted: the new game-1 has the same port and answers on it", async () => {
      const old = await json<KubePod>(node, ["get", "pod", "-n", "default", "game-1"]);
      await node.kubectlOk(["delete", "pod", "-n", "default", "game-1"]);
      const again = await readyPorts(
        node,
        "game",
        3,
        (p) => p.metadata?.name !== "game-1" || p.metadata.uid !== old.metadata?.uid,
      );
      assert.deepEqual(again, sts);
      await answerOnTheirOwn(new Map([["game-1", sts.get("game-1") ?? 0]]));
    });

    await step(
      "scaled 5 to 3 (whenScaled Delete): the claims of game-3 and game-4 owned by their " +
        "terminating pods and deleted; the StatefulSet deleted (whenDeleted Retain): the others stay",
      async () => {
        await node.kubectlOk(["scale", "-n", "default", "statefulset/game", "--replicas=5"]);
        const five = await readyPorts(node, "game", 5);
        await answerOnTheirOwn(five);
        scaledAway = ["game-3", "game-4"].map((pod) => five.get(pod) ?? 0);
        await node.kubectlOk(["scale", "-n", "default", "statefulset/game", "--replicas=3"]);
        // Each claim is owned by its pod (set while the pod terminates), then deleted: by the
        // garbage collector once the pod is gone, or by the operator if it sees the pod gone
        // first (the race is by design; either is the policy). The finalizer then holds it for
        // the deletion window, so it is seen deleting here.
        await eventually("claims port-game-3 and port-game-4 deleted with their pods", async () => {
          const now = await claims(node);
          return ["game-3", "game-4"].every((pod) => {
              const claim = now.get(`port-${pod}`);
              const owners = claim?.metadata.ownerReferences ?? [];
              return claim?.metadata.deletionTimestamp !== undefined &&
                owners.some((r) => r.kind === "Pod" && r.name === pod);
            })
            ? true
            : undefined;
        }, 120_000);
        const byOperator = await node.kubectlOk([
          "get",
          "events",
          "-n",
          "default",
          "--field-selector",
          "reason=TemplateClaimDeleted",
          "-o",
          "jsonpath={.items[*].involvedObject.name}",
        ]);
        console.log(
          `scaled-away claims deleted by the operator (others by the GC): [${byOperator}]`,
        );
        await node.kubectlOk(["delete", "statefulset", "-n", "default", "game"]);
        await eventually("the StatefulSet's pods gone", async () => {
          return (await appPods(node, "game")).length === 0 ? true : undefined;
        }, 120_000);
        const kept = await claims(node);
        for (const [pod, port] of sts) {
          const claim = kept.get(`port-${pod}`);
          assert.equal(claim?.metadata.deletionTimestamp, undefined, `port-${pod} kept`);
          assert.equal(claim?.status?.port, port, `port-${pod} keeps its port`);
        }
      },
    );

    await step("a Job's pod answers, then runs to completion; its claim is deleted", async () => {
      await apply(node, classObject("single", [[9650, 9650]]));
      await apply(node, templateObject("default", "once", "single"));
      await apply(node, job("default", "batch", "once", spec));
      const ports = await readyPorts(node, "batch", 1);
      await answerOnTheirOwn(ports);
      jobPod = [...ports.keys()][0] ?? "";
      assert.equal(ports.get(jobPod), 9650);
      assert.match(await answer("http://127.0.0.1:9650/exit?code=0"), /exiting with code 0/);
      await node.kubectlOk([
        "wait",
        "-n",
        "default",
        "--for=condition=Complete",
        "job/batch",
        "--timeout=120s",
      ]);
      const done = await json<KubePod>(node, ["get", "pod", "-n", "default", jobPod]);
      assert.equal(done.status?.phase, "Succeeded");
      assert.equal(done.status?.containerStatuses?.[0]?.state?.terminated?.exitCode, 0);
      await eventually(`claim ${jobPod}-web deleted`, async () => {
        const claim = (await claims(node)).get(`${jobPod}-web`);
        return claim === undefined || claim.metadata.deletionTimestamp !== undefined
          ? true
          : undefined;
      });
    });

    await step(
      "a Deployment of 4 with a template: 4 ports, each pod answers on its own; a rollout " +
        "never has a port on two Running pods or two HostPorts",
      async () => {
        await apply(node, deployment("default", "web", 4, "port", "1", spec));
        await answerOnTheirOwn(await readyPorts(node, "web", 4));
        await apply(node, deployment("default", "web", 4, "port", "2", spec));
        // `eventually` retries a probe that throws, so duplicates are collected, then asserted.
        const duplicates: string[] = [];
        let samples = 0;
        const second = await eventually(
          "the rollout to finish",
          async () => {
            const all = await appPods(node, "web");
            const running = all.filter((p) => p.status?.phase === "Running").map((p) =>
              portOf(p) ?? 0
            );
            if (duplicated(running).length > 0) duplicates.push(`Running pods: ${running}`);
            const held = await heldPorts(node);
            if (duplicated(held).length > 0) duplicates.push(`HostPorts: ${held}`);
            samples++;
            const done = all.length === 4 &&
              all.every((p) => readyNow(p) && p.metadata?.annotations?.revision === "2");
            return done
              ? new Map(all.map((p) => [p.metadata?.name ?? "", portOf(p) ?? 0]))
              : undefined;
          },
          180_000,
          200,
        );
        console.log(`rollout: ${samples} samples`);
        assert.deepEqual(duplicates, [], "no port was held twice at any sample");
        assert.ok(samples > 1, "the rollout was sampled while it ran");
        await answerOnTheirOwn(second);
      },
    );

    await step(
      "the ports of game-3, game-4 and the Job's pod are back in the pool: a new pod takes 9650",
      async () => {
        const gone = [...scaledAway, 9650];
        await eventually(
          "the claims and HostPorts of the scaled-away and finished pods gone",
          async () => {
            const now = await claims(node);
            const held = await heldPorts(node);
            return ["port-game-3", "port-game-4", `${jobPod}-web`].every((c) => !now.has(c)) &&
                gone.every((p) => !held.includes(p))
              ? true
              : undefined;
          },
          120_000,
          1000,
        );
        const pod = podTemplate("after", "once", {}, spec);
        await apply(node, {
          apiVersion: "v1",
          kind: "Pod",
          metadata: { ...pod.metadata, name: "after", namespace: "default" },
          spec: pod.spec,
        });
        const ports = await readyPorts(node, "after", 1);
        assert.equal(ports.get("after"), 9650);
        await answerOnTheirOwn(ports);
      },
    );

    await step(
      "the README's uninstall leaves nothing; the replicas stop on their own, exit 0",
      async () => {
        await deleteClaimsAndClasses(node);
        const stops = await replicaStops(node, async () => {
          await node.kubectlOk(["delete", "-f", "deploy/manifests/40-webhooks.yaml"]);
          await node.kubectlOk([
            "delete",
            "-f",
            "deploy/release.yaml",
            "--ignore-not-found",
            "--timeout=180s",
          ]);
        });
        console.log(`replica stops at uninstall: ${JSON.stringify(stops)}`);
        await nothingLeft(node);
        assert.equal(stops.length, 2, `both replicas seen stopping: ${JSON.stringify(stops)}`);
        for (const stop of stops) {
          assert.equal(stop.exitCode, 0, `${stop.pod} exit code`);
          assertStoppedOnItsOwn(stop);
        }
      },
    );

    await step("helm install of deploy/chart: Ready, a claim binds, a pod answers", async () => {
      await helm(node, ["install", "hostport-allocator", `${REPO_DIR}deploy/chart`]);
      await rolledOut(node);
      const port = await playQuickstart(node);
      assert.match(await answer(`http://127.0.0.1:${port}/`), new RegExp(`host port ${port}`));
    });

    await step("helm uninstall as the README says leaves nothing", async () => {
      await deleteClaimsAndClasses(node);
      const stops = await replicaStops(node, async () => {
        await helm(node, ["uninstall", "hostport-allocator", "--wait", "--timeout=3m"]);
      });
      console.log(`replica stops at helm uninstall: ${JSON.stringify(stops)}`);
      await node.kubectlOk(["delete", "-f", "deploy/chart/crds/"]);
      await nothingLeft(node);
      assert.equal(stops.length, 2, `both replicas seen stopping: ${JSON.stringify(stops)}`);
      for (const stop of stops) {
        assert.equal(stop.exitCode, 0, `${stop.pod} exit code`);
        assertStoppedOnItsOwn(stop);
      }
    });
    failed = false;
  } finally {
    const report: TeardownReport = await node.stop({ keepLogs: failed });
    console.log(
      `node down in ${report.stopSeconds.toFixed(1)} s; peak memory ${report.peakMemoryMiB} MiB ` +
        JSON.stringify(report.peakBreakdownMiB),
    );
    assert.deepEqual(report.differences, [], "the host is as it was before the node");
  }
});

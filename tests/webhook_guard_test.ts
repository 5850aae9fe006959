/**
 * The admission guards of issue #9 through a real kube-apiserver, as a tenant or admin would try
 * them: a pod that can still run (a terminating one included) keeps its claims whatever writes it
 * (the pod or `pods/status`), only the operator writes a port into a HostPort (`hostports/status`
 * included), the kubelet's status writes never reach the webhook, and a stalled claim cache
 * cannot admit a pod for a claim that is being deleted; the operator's own HostPort writes and
 * claim UPDATEs never reach the webhooks, its claim CREATEs do. No controllers run; the operator
 * is the release's ServiceAccount, which kubectl impersonates.
 */
import assert from "node:assert/strict";
import {
  CLAIM_ANNOTATION_PREFIX,
  FINALIZER,
  type HostPortClaim,
  POD_MESSAGE,
} from "../lib/api/mod.ts";
import { Informer, NotFoundError } from "../lib/kube/mod.ts";
import { WEBHOOK_PATHS } from "../webhook/configurations.ts";
import { OPERATOR_USER } from "../scripts/gen_release_names.ts";
import { cachedAdmissionLookups } from "../webhook/server_lookups.ts";
import { eventually, eventuallyGone } from "./controller_harness.ts";
import {
  admitted,
  type E2eCluster,
  pod,
  refusal,
  refused,
  startE2eCluster,
  web,
} from "./webhook_e2e_cluster.ts";
import { metricValue } from "./webhook_fixtures.ts";

const CLAIM = CLAIM_ANNOTATION_PREFIX;
const HOLD = "example.com/hold";
const POD_PATH = WEBHOOK_PATHS.mutatePod;

/** A pod naming `claim` on port web, kept by a finalizer so that deleting it leaves it Terminating. */
function heldPod(name: string, claim: string): unknown {
  const manifest = pod(name, "ns1", { claims: { web: claim }, containers: [[web()]] }) as {
    metadata: Record<string, unknown>;
  };
  return { ...manifest, metadata: { ...manifest.metadata, finalizers: [HOLD] } };
}

/** Admission requests the server has answered so far on `path` (its `/metrics`). */
function requests(cluster: E2eCluster, path: string): Promise<number> {
  return metricValue(cluster.metrics, "controller_runtime_webhook_requests_total", {
    webhook: path,
  });
}

function podRequests(cluster: E2eCluster): Promise<number> {
  return requests(cluster, POD_PATH);
}

/** Requests answered so far on the HostPort and claim paths, by webhook. */
async function customResourceRequests(cluster: E2eCluster): Promise<Record<string, number>> {
  const ids = [
    "mutateHostPort",
    "validateHostPort",
    "mutateHostPortClaim",
    "validateHostPortClaim",
  ] as const;
  const counts = await Promise.all(ids.map((id) => requests(cluster, WEBHOOK_PATHS[id])));
  return Object.fromEntries(ids.map((id, i) => [id, counts[i]!]));
}

async function kubectlOk(cluster: E2eCluster, args: string[]): Promise<void> {
  const result = await cluster.kubectl(args);
  assert.equal(result.code, 0, `kubectl ${args.join(" ")}: ${result.stderr}`);
}

async function kubectlRefused(cluster: E2eCluster, args: string[]): Promise<string> {
  const result = await cluster.kubectl(args);
  assert.notEqual(result.code, 0, `kubectl ${args.join(" ")} was admitted: ${result.stdout}`);
  return result.stderr.trim();
}

function podDenied(podName: string, error: string): string {
  return `Error from server (Forbidden): admission webhook "mpod.kb.io" denied the request: ` +
    `Pod "${podName}" is invalid: ${error}`;
}

Deno.test("admission guards hold against tenants, admins and stale caches (issue #9)", async (t) => {
  // The claim informer is ours so that the test can stall it; pod admission must not trust it.
  let stallClaims: () => Promise<void> = () => Promise.resolve();
  let claimCache: Informer<HostPortClaim> | undefined;
  await using cluster = await startE2eCluster({
    operatorUsername: OPERATOR_USER,
    startLookups(kube) {
      const claims = new Informer(kube.hostPortClaims);
      const hostPorts = new Informer(kube.hostPorts);
      const classes = new Informer(kube.hostPortClasses);
      const informers = [claims, hostPorts, classes];
      for (const informer of informers) informer.start();
      claimCache = claims;
      stallClaims = () => claims.stop();
      const stop = async () => void await Promise.all(informers.map((i) => i.stop()));
      return {
        lookups: cachedAdmissionLookups(
          { hostPorts: hostPorts.store, classes: classes.store },
          { claims: kube.hostPortClaims, hostPorts: kube.hostPorts },
        ),
        synced: Promise.all(informers.map((i) => i.synced)).then((all) => all.every(Boolean)),
        stop,
        [Symbol.asyncDispose]: stop,
      };
    },
  });
  await kubectlOk(cluster, ["create", "namespace", "ns1"]);
  await kubectlOk(cluster, ["label", "namespace", "ns1", "hostport.rmb938.com=true"]);
  await cluster.apply({
    apiVersion: "hostport.rmb938.com/v1alpha1",
    kind: "HostPortClass",
    metadata: { name: "c1" },
    spec: { pools: [{ start: 9000, end: 9009 }] },
  });

  await t.step(
    "item 2: a terminating pod cannot drop its claim; its finalizer can go",
    async () => {
      await cluster.bindClaim("ns1", "a", 9000);
      await admitted(cluster, heldPod("p1", "a"));
      await kubectlOk(cluster, ["delete", "hpc", "a", "-n", "ns1", "--wait=false"]);
      await kubectlOk(cluster, ["delete", "pod", "p1", "-n", "ns1", "--wait=false"]);
      assert.notEqual(await cluster.get("pod p1", "{.metadata.deletionTimestamp}", "ns1"), "");
      const drop = await kubectlRefused(cluster, [
        "annotate",
        "pod",
        "p1",
        "-n",
        "ns1",
        `${CLAIM}web-`,
      ]);
      assert.equal(
        drop,
        podDenied(
          "p1",
          `spec.containers[0].ports[0].hostPort: Invalid value: 9000: ${POD_MESSAGE.hostPortsForbidden}`,
        ),
      );
      const change = await kubectlRefused(cluster, [
        "annotate",
        "pod",
        "p1",
        "-n",
        "ns1",
        "--overwrite",
        `${CLAIM}web=other`,
      ]);
      assert.match(change, /cannot change the claim of an existing pod/);
      assert.equal(
        await cluster.get("pod p1", `{.metadata.annotations}`, "ns1").then((text) =>
          JSON.parse(text)[`${CLAIM}web`]
        ),
        "a",
      );
    },
  );

  await t.step("item 3: nor through pods/status", async () => {
    const before = await podRequests(cluster);
    const drop = await kubectlRefused(cluster, [
      "patch",
      "pod",
      "p1",
      "-n",
      "ns1",
      "--subresource=status",
      "--type=json",
      "-p",
      JSON.stringify([{
        op: "remove",
        path: "/metadata/annotations/claim.hostport.rmb938.com~1web",
      }]),
    ]);
    assert.equal(
      drop,
      podDenied(
        "p1",
        `spec.containers[0].ports[0].hostPort: Invalid value: 9000: ${POD_MESSAGE.hostPortsForbidden}`,
      ),
    );
    assert.equal(await podRequests(cluster), before + 1);
  });

  await t.step("updates that leave our annotations alone never reach the webhook", async () => {
    const before = await podRequests(cluster);
    // A label (pods) and a condition (pods/status, as the kubelet writes): matchConditions skip them.
    await kubectlOk(cluster, ["label", "pod", "p1", "-n", "ns1", "tier=web"]);
    await kubectlOk(cluster, [
      "patch",
      "pod",
      "p1",
      "-n",
      "ns1",
      "--subresource=status",
      "--type=merge",
      "-p",
      JSON.stringify({ status: { conditions: [{ type: "example.com/Ready", status: "True" }] } }),
    ]);
    // One update that does touch them, to know the server has answered everything sent before it.
    await kubectlRefused(cluster, ["annotate", "pod", "p1", "-n", "ns1", `${CLAIM}extra=x`]);
    await eventually(
      "the pod webhook's count to move",
      async () => await podRequests(cluster) > before || undefined,
    );
    assert.equal(await podRequests(cluster), before + 1);
  });

  await t.step("the finalizer of a terminating pod can always be removed", async () => {
    await kubectlOk(cluster, [
      "patch",
      "pod",
      "p1",
      "-n",
      "ns1",
      "--type=json",
      "-p",
      JSON.stringify([{ op: "remove", path: "/metadata/finalizers" }]),
    ]);
    await eventuallyGone("pod p1", () => cluster.kube.pods.get("p1", { namespace: "ns1" }));
  });

  await t.step("a pod that has Succeeded may drop its claim", async () => {
    await cluster.bindClaim("ns1", "b", 9001);
    await admitted(cluster, pod("p2", "ns1", { claims: { web: "b" }, containers: [[web()]] }));
    await kubectlOk(cluster, [
      "patch",
      "pod",
      "p2",
      "-n",
      "ns1",
      "--subresource=status",
      "--type=merge",
      "-p",
      JSON.stringify({ status: { phase: "Succeeded" } }),
    ]);
    await kubectlOk(cluster, ["annotate", "pod", "p2", "-n", "ns1", `${CLAIM}web-`]);
    assert.equal(
      await cluster.get("pod p2", `{.metadata.annotations}`, "ns1").then((text) =>
        `${CLAIM}web` in JSON.parse(text)
      ),
      false,
    );
  });

  await t.step("item 8: only the operator writes a port into a HostPort", async () => {
    const hostPort = await cluster.bindClaim("ns1", "c", 0);
    const allocate = (port: number) => [
      "patch",
      "hp",
      hostPort,
      "--subresource=status",
      "--type=merge",
      "-p",
      JSON.stringify({ status: { phase: "Allocated", port } }),
    ];
    const expected = `The HostPort "${hostPort}" is invalid: status.port: Forbidden: only the ` +
      "operator allocates ports";
    // The admin, and a tenant with every permission, are refused (9000 is held by a's HostPort).
    assert.equal(await kubectlRefused(cluster, allocate(9000)), expected);
    const tenant = ["--as=system:serviceaccount:ns1:default", "--as-group=system:masters"];
    assert.equal(await kubectlRefused(cluster, [...tenant, ...allocate(9000)]), expected);
    assert.equal(await cluster.get(`hp ${hostPort}`, "{.status.port}"), "");
    await kubectlOk(cluster, [...cluster.asOperator, ...allocate(9002)]);
    assert.equal(await cluster.get(`hp ${hostPort}`, "{.status.port}"), "9002");
    // Once written, nobody (the operator included) moves it.
    const moved = await kubectlRefused(cluster, [...cluster.asOperator, ...allocate(9003)]);
    assert.match(moved, /status\.port: .*cannot change port/);
  });

  await t.step(
    "the operator's own HostPort writes and claim UPDATEs skip the webhooks",
    async () => {
      const asOperator = async (args: string[], manifest?: unknown) => {
        const stdin = manifest === undefined ? undefined : JSON.stringify(manifest);
        const result = await cluster.kubectl([...cluster.asOperator, ...args], stdin);
        assert.equal(result.code, 0, `kubectl ${args.join(" ")}: ${result.stderr}`);
      };
      const claim = (name: string) => ({
        apiVersion: "hostport.rmb938.com/v1alpha1",
        kind: "HostPortClaim",
        metadata: { name, namespace: "ns1" },
        spec: { hostPortClassName: "c1" },
      });
      // The admin's: a claim for the operator to bind, and a HostPort without a port.
      await cluster.apply(claim("e"));
      const uid = await cluster.get("hpc e", "{.metadata.uid}", "ns1");
      const pending = await cluster.bindClaim("ns1", "g", 0);
      const before = await customResourceRequests(cluster);
      // Binding e as the controllers do, the finalizer written by the operator itself.
      await asOperator(["create", "-f", "-"], {
        apiVersion: "hostport.rmb938.com/v1alpha1",
        kind: "HostPort",
        metadata: { name: "hp-e", finalizers: [FINALIZER] },
        spec: { hostPortClassName: "c1", claimRef: { namespace: "ns1", name: "e", uid } },
      });
      await asOperator([
        "patch",
        "hp",
        "hp-e",
        "--subresource=status",
        "--type=merge",
        "-p",
        JSON.stringify({ status: { phase: "Allocated", port: 9005 } }),
      ]);
      await asOperator([
        "patch",
        "hpc",
        "e",
        "-n",
        "ns1",
        "--type=merge",
        "-p",
        JSON.stringify({ spec: { hostPortName: "hp-e" } }),
      ]);
      // A claim the operator creates (a per-pod claim) goes through both: it gets the finalizer.
      await asOperator(["create", "-f", "-"], claim("f"));
      assert.equal(await cluster.get("hpc f", "{.metadata.finalizers[0]}", "ns1"), FINALIZER);
      // The admin's port is refused by the webhook; once counted, so is everything sent before it.
      const allocate = JSON.stringify({ status: { phase: "Allocated", port: 9006 } });
      const refusedPort = await kubectlRefused(cluster, [
        "patch",
        "hp",
        pending,
        "--subresource=status",
        "--type=merge",
        "-p",
        allocate,
      ]);
      assert.match(refusedPort, /status\.port: Forbidden: only the operator allocates ports/);
      await eventually(
        "the HostPort webhook's count to move",
        async () =>
          (await customResourceRequests(cluster)).validateHostPort! > before.validateHostPort! ||
          undefined,
      );
      assert.deepEqual(await customResourceRequests(cluster), {
        mutateHostPort: before.mutateHostPort,
        validateHostPort: before.validateHostPort! + 1,
        mutateHostPortClaim: before.mutateHostPortClaim! + 1,
        validateHostPortClaim: before.validateHostPortClaim! + 1,
      });
    },
  );

  await t.step("a stalled claim cache cannot admit a pod for a deleting claim", async () => {
    await cluster.bindClaim("ns1", "d", 9004);
    await eventually("the claim cache to see d bound", () =>
      Promise.resolve(
        claimCache?.store.getByName("d", "ns1")?.status?.phase === "Bound" ? true : undefined,
      ));
    await stallClaims();
    await kubectlOk(cluster, ["delete", "hpc", "d", "-n", "ns1", "--wait=false"]);
    assert.notEqual(await cluster.get("hpc d", "{.metadata.deletionTimestamp}", "ns1"), "");
    assert.equal(claimCache?.store.getByName("d", "ns1")?.metadata.deletionTimestamp, undefined);
    await refused(
      cluster,
      pod("p3", "ns1", { claims: { web: "d" }, containers: [[web()]] }),
      refusal(
        "p3",
        `metadata.annotations.${CLAIM}web: Invalid value: "d": ${POD_MESSAGE.claimDeleting}`,
      ),
    );
    await assert.rejects(cluster.kube.pods.get("p3", { namespace: "ns1" }), NotFoundError);
  });
});

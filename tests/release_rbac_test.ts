/**
 * The release's RBAC against a real API server: the operator runs out of cluster with a token of
 * the release's own ServiceAccount (namespace, ServiceAccount, ClusterRoles, Roles and bindings
 * applied from deploy/manifests/), completes the README quickstart, the per-pod example (with
 * kube-controller-manager creating the StatefulSet's pods) and their clean-up without one
 * Forbidden, and the API server's audit log of its calls shows that the rules allow each call
 * and grant nothing that no call used (except the grants listed below, each with its reason).
 */
import assert from "node:assert/strict";
import { parseAllDocuments } from "yaml";
import type { ClusterRole, Role } from "kubernetes-types/rbac/v1.d.ts";
import { createKubeClients, KubeRestClient, loadClusterConfig } from "../lib/kube/mod.ts";
import { classQuotaResource } from "../lib/quota/mod.ts";
import { NAMES, OPERATOR_USER } from "../scripts/gen_release_names.ts";
import { SelfManagedCertificateSource } from "../webhook/tls_self_managed.ts";
import { type ControlPlane, startControlPlane } from "./controlplane/harness.ts";
import { auditFlags, readApiCalls } from "./demo/audit_log.ts";
import { manifestPath, RBAC_PIECES, startLocalOperator } from "./demo/local_operator.ts";
import { QUICKSTART_NAMESPACE, runPerPodExample, runQuickstart } from "./demo/quickstart.ts";
import { eventually } from "./controller_harness.ts";
import { type BoundRole, checkCalls, describeCall } from "./demo/rbac_check.ts";
import { closing } from "./core_clients.ts";

/**
 * Grants a short run cannot use, and why they are still needed. Every other grant must be used.
 */
const UNUSED_WITH_REASON: Record<string, string> = {
  "ClusterRole/hostport-allocator: patch events.events.k8s.io":
    "the Event recorder patches the series of an Event that repeats (lib/ops/event_recorder.ts); " +
    "the quickstart emits each Event once",
  "ClusterRole/hostport-allocator: get hostports.hostport.rmb938.com":
    "the HostPort controller reads a HostPort again after a status write refused with a conflict, " +
    "and the claim webhook reads one it has not cached yet when a claim is bound to it by hand; " +
    "the quickstart does neither (the operator's own claim updates skip the webhooks)",
  "ClusterRole/hostport-allocator: patch hostportclaims.hostport.rmb938.com":
    "the template-claim controller patches a claim's owners when its pod is stored (bare, " +
    "Deployment and Job pods) or a StatefulSet's retention policy or scale changes while the " +
    "pod lives; the example's claims are made with their owners, and pods without a kubelet go " +
    "at once (tests/per_pod_claims_test.ts covers the patch)",
};

/** The roles the release binds to the operator's ServiceAccount, read from the applied files. */
async function boundRoles(): Promise<BoundRole[]> {
  const roles: BoundRole[] = [];
  for (const piece of RBAC_PIECES) {
    const text = await Deno.readTextFile(manifestPath(piece));
    const docs = parseAllDocuments(text).map((doc) => doc.toJS() as ClusterRole | Role | null);
    for (const doc of docs) {
      if (doc?.kind === "ClusterRole") {
        roles.push({ label: `ClusterRole/${doc.metadata?.name}`, rules: doc.rules ?? [] });
      } else if (doc?.kind === "Role") {
        const ns = doc.metadata?.namespace;
        roles.push({
          label: `Role/${ns}/${doc.metadata?.name}`,
          namespace: ns,
          rules: doc.rules ?? [],
        });
      }
    }
  }
  return roles;
}

async function kubectlOk(cp: ControlPlane, args: string[]): Promise<string> {
  const result = await cp.kubectl(args);
  assert.equal(result.code, 0, `kubectl ${args.join(" ")}: ${result.stderr}`);
  return result.stdout;
}

async function eventuallyGone(cp: ControlPlane, args: string[]): Promise<void> {
  await eventually(`${args.join(" ")} to be NotFound`, async () => {
    const result = await cp.kubectl(args);
    return result.code !== 0 && /NotFound/.test(result.stderr) ? true : undefined;
  });
}

async function cleanUp(cp: ControlPlane): Promise<void> {
  const ns = ["-n", QUICKSTART_NAMESPACE];
  // Scaling away an ordinal makes the template-claim controller delete its claim (whenScaled).
  await kubectlOk(cp, ["scale", ...ns, "statefulset", "game", "--replicas=2"]);
  await eventuallyGone(cp, ["get", ...ns, "hostportclaim", "game-port-game-2"]);
  await kubectlOk(cp, [
    "delete",
    ...ns,
    "statefulset",
    "game",
    "--cascade=foreground",
    "--timeout=60s",
  ]);
  await kubectlOk(cp, ["delete", ...ns, "hostportclaimtemplate", "game-port"]);
  await eventuallyGone(cp, ["get", ...ns, "hostportclaim", "game-port-game-0"]);
  await kubectlOk(cp, ["delete", ...ns, "pod", "echo", "--wait=true", "--timeout=60s"]);
  await kubectlOk(cp, [
    "delete",
    ...ns,
    "hostportclaim",
    "echo-web",
    "--wait=true",
    "--timeout=60s",
  ]);
  await kubectlOk(cp, ["delete", "hostportclass", "sample", "--wait=true", "--timeout=60s"]);
  const left = await kubectlOk(cp, ["get", "hostports", "-o", "name"]);
  assert.equal(left.trim(), "", "every HostPort is gone after the claim");
}

/**
 * A repair of the certificate Secret, the one self-managed call a short run does not make (the
 * operator updates the Secret when renewing, or when it finds it damaged on its 60 s resync): the
 * operator's own code (webhook/tls_self_managed.ts, with the names the Deployment's arguments
 * give) runs one pass with the ServiceAccount's token after the Secret was damaged.
 */
async function repairDamagedSecret(cp: ControlPlane, kubeconfig: string): Promise<void> {
  const secret = ["-n", NAMES.namespace, "secret", NAMES.tlsSecret];
  const damaged = btoa("damaged");
  const patch = JSON.stringify({ data: { "tls.crt": damaged } });
  await kubectlOk(cp, ["patch", ...secret, "--type=merge", "-p", patch]);
  using rest = closing(new KubeRestClient(await loadClusterConfig({ kubeconfig })));
  await new SelfManagedCertificateSource({
    kube: createKubeClients(rest),
    namespace: NAMES.namespace,
    serviceName: NAMES.service,
    mutatingWebhookConfigurations: [NAMES.crdWebhooks, NAMES.podWebhooks],
    validatingWebhookConfigurations: [NAMES.crdWebhooks],
  }).pass();
  const repaired = await kubectlOk(cp, ["get", ...secret, "-o", "jsonpath={.data.tls\\.crt}"]);
  assert.ok(repaired !== "" && repaired !== damaged, "the pass repaired the Secret");
}

Deno.test("the release's ServiceAccount runs the quickstart with least-privilege RBAC", async () => {
  const auditDir = await Deno.makeTempDir({ prefix: "hostport-audit-" });
  const audit = await auditFlags(auditDir, OPERATOR_USER);
  try {
    await using cp = await startControlPlane({ apiServerArgs: audit.args, controllers: true });
    // The default release's certificate mode: the webhook works only once the CA is injected.
    await using operator = await startLocalOperator(cp, {
      tls: "self-managed",
      args: ["--log-level=debug", "--claim-deletion-grace=2s"],
    });
    // A claim quota in the quickstart's namespace: the operator writes its per-class usage.
    await kubectlOk(cp, [
      "create",
      "quota",
      "claims",
      "-n",
      QUICKSTART_NAMESPACE,
      "--hard",
      `${classQuotaResource("sample")}=5`,
    ]);
    const result = await runQuickstart((args) => cp.kubectl(args));
    assert.equal(result.claim.phase, "Bound");
    assert.equal(result.pod.hostPort, result.claim.port);
    const perPod = await runPerPodExample((args) => cp.kubectl(args));
    assert.equal(new Set(perPod.pods.map((pod) => pod.hostPort)).size, 3);
    await cleanUp(cp);
    await repairDamagedSecret(cp, operator.kubeconfig);
    const status = await operator.stop();
    const logs = await operator.logs();
    assert.doesNotMatch(logs, /forbidden/i, "the operator was never refused");

    const calls = await readApiCalls(audit.logPath, OPERATOR_USER);
    const refused = calls.filter((call) => call.code === 403);
    assert.deepEqual(refused.map(describeCall), [], "no call was Forbidden");
    const report = checkCalls(await boundRoles(), calls);
    assert.deepEqual(report.unallowed.map(describeCall), [], "every call is allowed by a rule");
    const unused = report.unused.map((grant) => grant.key).filter((key) =>
      !(key in UNUSED_WITH_REASON)
    );
    assert.deepEqual(unused, [], "every grant was used, or is listed with a reason");
    assert.equal(status.code, 0, `the operator exits 0 on SIGTERM:\n${logs}`);
  } finally {
    await Deno.remove(auditDir, { recursive: true });
  }
});

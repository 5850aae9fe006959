/**
 * `--register-webhooks` against a real API server, with the operator as a process out of
 * cluster: nothing is configured by hand, yet the API server calls its webhooks (a new claim
 * comes back with the finalizer, a pod with its host port), except for the operator's own
 * HostPort writes and claim UPDATEs (its per-pod claims still meet the quota); a configuration
 * someone else made is left alone, and after SIGTERM the three configurations it wrote are gone
 * and it exits 0.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { FINALIZER, NAMESPACE_LABEL_KEY, NAMESPACE_LABEL_VALUE } from "../lib/api/mod.ts";
import { classQuotaResource } from "../lib/quota/mod.ts";
import { WEBHOOK_NAMES, WEBHOOK_PATHS } from "../webhook/configurations.ts";
import { NotFoundError } from "../lib/kube/mod.ts";
import { REGISTERED_BY_LABEL, REGISTERED_BY_VALUE } from "../webhook/tls_self_managed.ts";
import { startControlPlane } from "./controlplane/harness.ts";
import {
  adminClients,
  boundClaim,
  claimObject,
  classObject,
  ensureNamespace,
  eventually,
  podObject,
} from "./controller_harness.ts";
import { freePorts, OperatorProcess } from "./demo/operator_process.ts";
import { namespaces } from "./core_clients.ts";
import { podTemplate, templateObject } from "./per_pod_fixtures.ts";

const OPERATOR_NAMESPACE = "hostport-allocator";
const TENANT = "tenant";
const CRD = "hostport-allocator-crd";
const POD = "hostport-allocator-pod";
const FOREIGN = "someone-else";
/** The operator's ServiceAccount (a cluster-admin), so that the test's own writes are not its. */
const OPERATOR_SA = "operator";
/** The webhooks the operator's own writes skip (claim ones: UPDATEs only). */
const SKIPPED = [
  "mutateHostPort",
  "validateHostPort",
  "mutateHostPortClaim",
  "validateHostPortClaim",
] as const;

/** Admission requests the operator has answered on `path` (its `/metrics`). */
async function answered(operator: OperatorProcess, path: string): Promise<number> {
  const text = await (await fetch(`${operator.metricsUrl}/metrics`)).text();
  return text.split("\n")
    .filter((line) =>
      line.startsWith("controller_runtime_webhook_requests_total{") &&
      line.includes(`webhook="${path}"`)
    )
    .reduce((sum, line) => sum + Number(line.split(" ").at(-1)), 0);
}

Deno.test("--register-webhooks registers our webhooks by URL and removes them on SIGTERM", async () => {
  await using cp = await startControlPlane();
  using kube = await adminClients(cp);
  await ensureNamespace(kube, OPERATOR_NAMESPACE);
  await namespaces(kube).create({
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name: TENANT, labels: { [NAMESPACE_LABEL_KEY]: NAMESPACE_LABEL_VALUE } },
  });
  // Someone else's configuration, which must survive the operator.
  await kube.validatingWebhookConfigurations.create({
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "ValidatingWebhookConfiguration",
    metadata: { name: FOREIGN },
    webhooks: [],
  });

  const token = await cp.serviceAccountToken(OPERATOR_NAMESPACE, OPERATOR_SA);
  const user = `system:serviceaccount:${OPERATOR_NAMESPACE}:${OPERATOR_SA}`;
  const binding = await cp.kubectl([
    "create",
    "clusterrolebinding",
    OPERATOR_SA,
    "--clusterrole=cluster-admin",
    `--serviceaccount=${OPERATOR_NAMESPACE}:${OPERATOR_SA}`,
  ]);
  assert.equal(binding.code, 0, binding.stderr);

  const ports = freePorts();
  await using operator = OperatorProcess.start({
    kubeconfig: await cp.tokenKubeconfig(token),
    namespace: OPERATOR_NAMESPACE,
    logPath: join(cp.runDir, "operator.log"),
    ports,
    args: [
      `--register-webhooks=https://127.0.0.1:${ports.webhook}`,
      "--leader-elect=false",
      "--claim-deletion-grace=2s",
      "--graceful-shutdown-timeout=10s",
    ],
  });
  await operator.waitReady();

  for (
    const config of [
      await kube.mutatingWebhookConfigurations.get(CRD),
      await kube.validatingWebhookConfigurations.get(CRD),
      await kube.mutatingWebhookConfigurations.get(POD),
    ]
  ) {
    assert.equal(config.metadata?.labels?.[REGISTERED_BY_LABEL], REGISTERED_BY_VALUE);
    for (const webhook of config.webhooks ?? []) {
      assert.ok(webhook.clientConfig.url?.startsWith(operator.webhookUrl), webhook.name);
      assert.ok(webhook.clientConfig.caBundle, `${webhook.name} has a caBundle`);
      // It learnt its username: its own HostPort writes and claim UPDATEs skip the webhooks.
      const skips = SKIPPED.some((id) => WEBHOOK_NAMES[id] === webhook.name);
      assert.equal(JSON.stringify(webhook.matchConditions ?? []).includes(user), skips);
    }
  }

  // The API server calls the CR webhooks: the claim is stored with the finalizer.
  await kube.hostPortClasses.create(classObject("pool", [[30000, 30009]]));
  const claim = await kube.hostPortClaims.create(claimObject(TENANT, "web", "pool"));
  assert.deepEqual(claim.metadata?.finalizers, [FINALIZER]);
  const { hostPort } = await boundClaim(kube, TENANT, "web");
  // Only the tenant's CREATE reached the CR webhooks, not the operator's HostPort and binding.
  const count = (id: keyof typeof WEBHOOK_PATHS) => answered(operator, WEBHOOK_PATHS[id]);
  await eventually(
    "the claim's CREATE to be counted",
    async () => await count("validateHostPortClaim") > 0 || undefined,
  );
  assert.deepEqual(
    await Promise.all(SKIPPED.map(count)),
    [0, 0, 1, 1],
  );
  // And the pod webhook: the pod is stored with the claim's port.
  const pod = await eventually(
    "a pod naming the bound claim to be admitted",
    () => kube.pods.create(podObject(TENANT, "echo", "web")),
  );
  assert.equal(pod.spec?.containers[0]?.ports?.[0]?.hostPort, hostPort.status?.port);
  // A per-pod claim, created by the operator, still meets the class's quota (held by "web").
  await kube.hostPortClaimTemplates.create(templateObject(TENANT, "tpl", "pool"));
  const quota = classQuotaResource("pool");
  const limit = { apiVersion: "v1", kind: "ResourceQuota", metadata: { name: "pool" } };
  const applied = await cp.kubectl(
    ["apply", "-n", TENANT, "-f", "-"],
    { stdin: JSON.stringify({ ...limit, spec: { hard: { [quota]: "1" } } }) },
  );
  assert.equal(applied.code, 0, applied.stderr);
  const { metadata, spec } = podTemplate("game", "tpl");
  const refusal = await eventually(
    "a pod naming the template to be refused by the quota",
    async () => {
      const created = await cp.kubectl(["create", "-n", TENANT, "-f", "-"], {
        stdin: JSON.stringify({
          apiVersion: "v1",
          kind: "Pod",
          metadata: { ...metadata, generateName: "game-" },
          spec,
        }),
      });
      return created.code === 0 ? undefined : created.stderr;
    },
  );
  // Refused at the claim's CREATE by the claim webhook (not held back later by the controller).
  const byWebhook = `admission webhook "${WEBHOOK_NAMES.validateHostPortClaim}" denied the request`;
  assert.ok(refusal.includes(`${byWebhook}: hostportclaims.hostport.rmb938.com "`), refusal);
  assert.ok(refusal.includes(`is forbidden: exceeded quota: pool, requested: ${quota}=1`), refusal);

  const status = await operator.stop();
  assert.equal(status.code, 0, await operator.logs());
  for (
    const get of [
      () => kube.mutatingWebhookConfigurations.get(CRD),
      () => kube.validatingWebhookConfigurations.get(CRD),
      () => kube.mutatingWebhookConfigurations.get(POD),
    ]
  ) {
    await assert.rejects(get, NotFoundError);
  }
  assert.equal((await kube.validatingWebhookConfigurations.get(FOREIGN)).metadata?.name, FOREIGN);
});

Deno.test("--register-webhooks does not replace a configuration it did not write", async () => {
  await using cp = await startControlPlane();
  using kube = await adminClients(cp);
  await ensureNamespace(kube, OPERATOR_NAMESPACE);
  // The release's (or a hand-made) pod configuration: no registered-by label.
  const theirs = await kube.mutatingWebhookConfigurations.create({
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "MutatingWebhookConfiguration",
    metadata: { name: POD },
    webhooks: [],
  });
  const ports = freePorts();
  await using operator = OperatorProcess.start({
    kubeconfig: cp.kubeconfigPath,
    namespace: OPERATOR_NAMESPACE,
    logPath: join(cp.runDir, "operator.log"),
    ports,
    args: [`--register-webhooks=https://127.0.0.1:${ports.webhook}`, "--leader-elect=false"],
  });
  let status: Deno.CommandStatus | undefined;
  operator.process.exited.then((exited) => status = exited);
  // The child is unref'd: waiting by polling keeps the event loop alive meanwhile.
  await eventually("the operator to exit", () => status);
  assert.notEqual(status?.code, 0);
  assert.match(await operator.logs(), /hostport-allocator-pod\W+ exists without the label/);
  const after = await kube.mutatingWebhookConfigurations.get(POD);
  assert.equal(after.metadata?.resourceVersion, theirs.metadata?.resourceVersion);
  for (
    const get of [
      () => kube.mutatingWebhookConfigurations.get(CRD),
      () => kube.validatingWebhookConfigurations.get(CRD),
    ]
  ) {
    await assert.rejects(get, NotFoundError);
  }
});

Deno.test("--register-webhooks leaves nothing registered when the webhook server cannot start", async () => {
  await using cp = await startControlPlane();
  using kube = await adminClients(cp);
  await ensureNamespace(kube, OPERATOR_NAMESPACE);
  const ports = freePorts();
  // Someone else holds the webhook port.
  using _taken = Deno.listen({ hostname: "127.0.0.1", port: ports.webhook });
  await using operator = OperatorProcess.start({
    kubeconfig: cp.kubeconfigPath,
    namespace: OPERATOR_NAMESPACE,
    logPath: join(cp.runDir, "operator.log"),
    ports,
    args: [`--register-webhooks=https://127.0.0.1:${ports.webhook}`, "--leader-elect=false"],
  });
  let status: Deno.CommandStatus | undefined;
  operator.process.exited.then((exited) => status = exited);
  await eventually("the operator to exit", () => status);
  assert.notEqual(status?.code, 0);
  const logs = await operator.logs();
  assert.match(
    logs,
    /Registered MutatingWebhookConfiguration/,
    `it had registered; its log:\n${logs}`,
  );
  for (
    const get of [
      () => kube.mutatingWebhookConfigurations.get(CRD),
      () => kube.validatingWebhookConfigurations.get(CRD),
      () => kube.mutatingWebhookConfigurations.get(POD),
    ]
  ) {
    await assert.rejects(get, NotFoundError);
  }
});

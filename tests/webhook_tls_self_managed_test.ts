/**
 * Self-managed webhook certificates against a real kube-apiserver: two replicas agree on one
 * Secret, the CA bundle lands in the webhook configurations, the API server calls our server
 * with it, and the serving certificate and then the CA are renewed while the API server keeps
 * calling, with no call failing.
 */
import assert from "node:assert/strict";
import type { Secret } from "kubernetes-types/core/v1.d.ts";
import {
  createKubeClients,
  type KubeClients,
  KubeRestClient,
  loadClusterConfig,
} from "../lib/kube/mod.ts";
import { startWebhookServer } from "../webhook/server.ts";
import { splitPemBundle } from "../webhook/tls_self_managed.ts";
import {
  SelfManagedCertificateSource,
  type SelfManagedOptions,
} from "../webhook/tls_self_managed.ts";
import { isSignedBy } from "../webhook/tls_source.ts";
import { type ControlPlane, startControlPlane } from "./controlplane/harness.ts";
import { memoryLookups, TEST_CONFIGURATIONS, webhookConfigurations } from "./webhook_fixtures.ts";
import { closing, namespaces } from "./core_clients.ts";

const NAMESPACE = "hostport-system";
/**
 * A class both webhooks act on: the mutating one adds the finalizer, the validating one warns
 * about the NodePort range. The CRD's own rules pass it, so what kubectl shows comes from us.
 */
function nodePortClass(name: string): string {
  return `apiVersion: hostport.rmb938.com/v1alpha1
kind: HostPortClass
metadata: {name: ${name}}
spec: {pools: [{start: 30000, end: 30010}]}
`;
}

/** Dry-run creates a class and returns what shows that both webhooks were called, or why not. */
async function callWebhooks(cp: ControlPlane, name: string): Promise<string | undefined> {
  const result = await cp.kubectl(
    ["create", "--dry-run=server", "-o", "jsonpath={.metadata.finalizers}", "-f", "-"],
    { stdin: nodePortClass(name) },
  );
  const mutated = result.code === 0 && result.stdout === '["hostport.rmb938.com"]';
  const validated = /in the default NodePort range/.test(result.stderr);
  return mutated && validated
    ? undefined
    : `${result.code} ${result.stdout} ${result.stderr}`.trim();
}

function secretText(secret: Secret, key: string): string {
  return new TextDecoder().decode(
    Uint8Array.from(atob(secret.data?.[key] ?? ""), (c) => c.charCodeAt(0)),
  );
}

function options(
  kube: KubeClients,
  overrides: Partial<SelfManagedOptions> = {},
): SelfManagedOptions {
  return {
    kube,
    namespace: NAMESPACE,
    serviceName: "hostport-allocator-webhook",
    ipAddresses: ["127.0.0.1"],
    mutatingWebhookConfigurations: [TEST_CONFIGURATIONS.mutating],
    validatingWebhookConfigurations: [TEST_CONFIGURATIONS.validating],
    ...overrides,
  };
}

/** A replica a test can stop and wait on, so no pass of it writes after the step. */
class Replica extends SelfManagedCertificateSource {
  #last: Promise<unknown> = Promise.resolve();

  protected override refresh(): Promise<number | undefined> {
    const refresh = super.refresh();
    this.#last = refresh;
    return refresh;
  }

  /** Aborts `stop` (the start signal's) and resolves once no pass of the loop runs. */
  async stop(stop: AbortController): Promise<void> {
    stop.abort();
    await this.#last;
  }
}

Deno.test("self-managed certificates on a real API server", async (t) => {
  await using cp = await startControlPlane();
  using rest = closing(
    new KubeRestClient(await loadClusterConfig({ kubeconfig: cp.kubeconfigPath })),
  );
  const kube = createKubeClients(rest);
  await namespaces(kube).create({
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name: NAMESPACE },
  });
  const stop = new AbortController();
  const lookups = memoryLookups([], []);

  await t.step("two replicas agree on one Secret and the API server trusts its CA", async () => {
    const [a, b] = [
      new Replica(options(kube)),
      new Replica(options(kube)),
    ];
    await Promise.all([a.start(stop.signal), b.start(stop.signal)]);
    const secret = await kube.secrets.get("hostport-allocator-webhook-tls", {
      namespace: NAMESPACE,
    });
    assert.equal(secret.type, "kubernetes.io/tls");
    assert.equal(a.current()?.certPem, secretText(secret, "tls.crt"));
    assert.equal(b.current()?.certPem, a.current()?.certPem);
    assert.deepEqual(a.current()?.subjectAltNames, [
      "DNS:hostport-allocator-webhook.hostport-system.svc",
      "DNS:hostport-allocator-webhook.hostport-system.svc.cluster.local",
      "IP:127.0.0.1",
    ]);

    await using server = await startWebhookServer({
      certificates: a,
      lookups,
      hostname: "127.0.0.1",
      port: 0,
    });
    const configs = webhookConfigurations(server.port, ""); // no caBundle: the source injects it
    await kube.mutatingWebhookConfigurations.create(configs.mutating);
    await kube.validatingWebhookConfigurations.create(configs.validating);
    await a.pass();
    const validating = await kube.validatingWebhookConfigurations.get(
      TEST_CONFIGURATIONS.validating,
    );
    const bundle = btoa(secretText(secret, "ca.crt"));
    assert.ok(validating.webhooks?.every((webhook) => webhook.clientConfig.caBundle === bundle));

    assert.equal(await callWebhooks(cp, "first"), undefined);
    await Promise.all([a.stop(stop), b.stop(stop)]);
  });

  await t.step("serving certificate and CA renew while the API server keeps calling", async () => {
    const short = options(kube, {
      serviceName: "short-lived", // Secret short-lived-tls
      // Short lifetimes, so renewals happen within the test, but long enough that the API
      // server learns each new CA bundle (caPropagationMs) on a loaded machine.
      caValidityMs: 24_000,
      servingValidityMs: 9_000,
      caPropagationMs: 2_000,
      backdateMs: 0,
      resyncIntervalMs: 250,
      retryIntervalMs: 250,
    });
    const running = new AbortController();
    const a = new Replica(short);
    const b = new Replica(short);
    await Promise.all([a.start(running.signal), b.start(running.signal)]);
    await using server = await startWebhookServer({
      certificates: a,
      lookups,
      hostname: "127.0.0.1",
      port: 0,
    });
    const configs = webhookConfigurations(server.port, "");
    await kube.mutatingWebhookConfigurations.delete(TEST_CONFIGURATIONS.mutating);
    await kube.validatingWebhookConfigurations.delete(TEST_CONFIGURATIONS.validating);
    await kube.mutatingWebhookConfigurations.create(configs.mutating);
    await kube.validatingWebhookConfigurations.create(configs.validating);
    await a.pass();

    const firstCa = splitPemBundle(
      secretText(await kube.secrets.get("short-lived-tls", { namespace: NAMESPACE }), "ca.crt"),
    )[0]!;
    const served = new Set<string>([a.current()!.certPem]);
    a.subscribe((pair) => served.add(pair.certPem));
    const failures: string[] = [];
    let calls = 0;
    const deadline = Date.now() + 90_000; // bounds the loop; nothing is asserted about time
    const renewedCa = () => [...served].some((pem) => !isSignedBy(pem, firstCa));
    while (Date.now() < deadline && !(renewedCa() && served.size >= 4)) {
      calls++;
      const failure = await callWebhooks(cp, `class-${calls}`);
      if (failure !== undefined) failures.push(failure);
    }
    assert.deepEqual(failures, []);
    assert.ok(renewedCa(), `the CA was not renewed after ${calls} calls`);
    assert.ok(served.size >= 4, `only ${served.size} serving certificates after ${calls} calls`);
    const secret = await kube.secrets.get("short-lived-tls", { namespace: NAMESPACE });
    await b.pass(); // the other replica adopts what is in the Secret
    assert.equal(b.current()?.certPem, secretText(secret, "tls.crt"));
    await Promise.all([a.stop(running), b.stop(running)]);
  });
});

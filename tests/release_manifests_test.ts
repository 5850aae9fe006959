/**
 * The generated release files: up to date with the generator (run `deno task gen` when this
 * fails), CRDs first, RBAC without wildcards, a Deployment the operator's own flag parser
 * accepts, hardened pods, and webhook configurations that match the admission server's paths.
 */
import assert from "node:assert/strict";
import type { MutatingWebhook } from "kubernetes-types/admissionregistration/v1.d.ts";
import type { Deployment } from "kubernetes-types/apps/v1.d.ts";
import type { ClusterRole, Role } from "kubernetes-types/rbac/v1.d.ts";
import { parseAllDocuments } from "yaml";
import { parseOperatorConfig } from "../lib/ops/config.ts";
import { WEBHOOK_NAMES, WEBHOOK_PATHS, webhookSet } from "../webhook/configurations.ts";
import { type ManifestObject, releaseFiles } from "../scripts/gen_release_files.ts";
import { NAMES } from "../scripts/gen_release_names.ts";
import { DEFAULT_CERT_DIR } from "../lib/ops/flags.ts";

const DEPLOY = new URL("../deploy/", import.meta.url);
const HINT = "deploy/ is out of date: run `deno task gen`";

type AnyObject = ManifestObject & {
  metadata?: { name?: string; annotations?: Record<string, string> };
} & Record<string, unknown>;

async function readRelease(name: string): Promise<AnyObject[]> {
  const text = await Deno.readTextFile(new URL(name, DEPLOY));
  return parseAllDocuments(text).map((doc) => doc.toJS() as AnyObject).filter((o) => o !== null);
}

function only<T>(objects: AnyObject[], kind: string, name?: string): T[] {
  return objects.filter((o) =>
    o.kind === kind && (name === undefined || o.metadata?.name === name)
  ) as T[];
}

Deno.test("every generated file in deploy/ equals what the generator builds", async () => {
  const files = releaseFiles();
  for (const [path, expected] of files) {
    const actual = await Deno.readTextFile(new URL(path, DEPLOY)).catch(() => "(missing)");
    assert.equal(actual, expected, `${path} differs; ${HINT}`);
  }
  const pieces: string[] = [];
  for await (const entry of Deno.readDir(new URL("manifests/", DEPLOY))) {
    pieces.push(`manifests/${entry.name}`);
  }
  const stale = pieces.filter((path) => !files.has(path));
  assert.deepEqual(
    stale,
    [],
    `deploy/manifests/ holds files the generator no longer makes; ${HINT}`,
  );
});

for (const release of ["release.yaml", "release-cert-manager.yaml"]) {
  Deno.test(`${release} applies CRDs first, then the namespace, and holds no wildcard grant`, async () => {
    const objects = await readRelease(release);
    const kinds = objects.map((o) => o.kind);
    assert.deepEqual(kinds.slice(0, 5), [
      "CustomResourceDefinition",
      "CustomResourceDefinition",
      "CustomResourceDefinition",
      "CustomResourceDefinition",
      "Namespace",
    ]);
    for (
      const role of [...only<ClusterRole>(objects, "ClusterRole"), ...only<Role>(objects, "Role")]
    ) {
      for (const rule of role.rules ?? []) {
        const all = [
          ...rule.apiGroups ?? [],
          ...rule.resources ?? [],
          ...rule.verbs,
          ...rule.resourceNames ?? [],
        ];
        assert.ok(!all.some((v) => v.includes("*")), `${role.metadata?.name} grants a wildcard`);
        assert.equal(rule.nonResourceURLs, undefined);
      }
    }
    assert.ok(
      only<Role>(objects, "Role").every((role) => role.metadata?.namespace === NAMES.namespace),
      "Roles live in the operator namespace only",
    );
  });

  Deno.test(`${release}: the operator's flag parser accepts the Deployment's arguments`, async () => {
    const [deployment] = only<Deployment>(await readRelease(release), "Deployment");
    const container = deployment?.spec?.template.spec?.containers[0];
    const parsed = parseOperatorConfig(container?.args ?? [], {}, {
      inCluster: true,
      podNamespace: NAMES.namespace,
    });
    assert.equal(parsed.kind, "config", JSON.stringify(parsed));
    if (parsed.kind !== "config") return;
    assert.equal(parsed.config.leaderElection.enabled, true);
    assert.equal(parsed.config.webhook.addr.port, 9443);
    assert.equal(parsed.config.healthAddr.port, 8081);
    assert.equal(parsed.config.metricsAddr?.port, 8080);
    if (release === "release.yaml") {
      // The operator injects its CA into exactly the release's webhook configurations.
      assert.deepEqual(parsed.config.webhook.tls, {
        type: "self-signed",
        serviceName: NAMES.service,
        namespace: NAMES.namespace,
        mutatingWebhookConfigurations: [NAMES.crdWebhooks, NAMES.podWebhooks],
        validatingWebhookConfigurations: [NAMES.crdWebhooks],
        ipAddresses: [],
      });
    } else {
      assert.deepEqual(parsed.config.webhook.tls, { type: "directory", certDir: DEFAULT_CERT_DIR });
    }
  });

  Deno.test(`${release}: webhooks use the server's names and paths, fail closed, and spare the operator namespace`, async () => {
    const objects = await readRelease(release);
    const hooks = [
      ...only<AnyObject>(objects, "MutatingWebhookConfiguration"),
      ...only<AnyObject>(objects, "ValidatingWebhookConfiguration"),
    ].flatMap((config) => config.webhooks as MutatingWebhook[]);
    const byName = new Map(hooks.map((hook) => [hook.name, hook]));
    assert.deepEqual([...byName.keys()].sort(), Object.values(WEBHOOK_NAMES).sort());
    for (const [id, name] of Object.entries(WEBHOOK_NAMES)) {
      const hook = byName.get(name)!;
      const service = hook.clientConfig.service;
      assert.equal(service?.path, WEBHOOK_PATHS[id as keyof typeof WEBHOOK_PATHS]);
      assert.equal(service?.name, NAMES.service);
      assert.equal(service?.port, 443);
      assert.equal(hook.failurePolicy, "Fail");
      assert.equal(hook.sideEffects, "None");
      assert.equal(hook.timeoutSeconds, 10);
      assert.deepEqual(hook.admissionReviewVersions, ["v1"]);
    }
    // The Deployment's ServiceAccount skips the HostPort webhooks, and the claim ones on UPDATE.
    const pod = only<Deployment>(objects, "Deployment")[0]?.spec?.template.spec;
    const user = `system:serviceaccount:${NAMES.namespace}:${pod?.serviceAccountName}`;
    const notUser = `request.userInfo.username != "${user}"`;
    const skip = (id: keyof typeof WEBHOOK_NAMES) => byName.get(WEBHOOK_NAMES[id])?.matchConditions;
    for (const id of ["mutateHostPort", "validateHostPort"] as const) {
      assert.deepEqual(skip(id), [{ name: "not-the-operator", expression: notUser }]);
    }
    for (const id of ["mutateHostPortClaim", "validateHostPortClaim"] as const) {
      assert.deepEqual(skip(id), [{
        name: "not-an-operator-update",
        expression: `request.operation == 'CREATE' || ${notUser}`,
      }]);
    }
    assert.equal(skip("mutateHostPortClass"), undefined);
    assert.equal(skip("validateHostPortClass"), undefined);
    assert.deepEqual(byName.get(WEBHOOK_NAMES.mutatePod)?.namespaceSelector, {
      matchLabels: { "hostport.rmb938.com": "true" },
      matchExpressions: [{
        key: "kubernetes.io/metadata.name",
        operator: "NotIn",
        values: [NAMES.namespace],
      }],
    });
  });
}

Deno.test("the cert-manager release mounts the Certificate's Secret and injects its CA", async () => {
  const objects = await readRelease("release-cert-manager.yaml");
  const [certificate] = only<AnyObject>(objects, "Certificate");
  const spec = certificate?.spec as {
    secretName: string;
    dnsNames: string[];
    issuerRef: { name: string };
  };
  assert.deepEqual(spec.dnsNames, [
    `${NAMES.service}.${NAMES.namespace}.svc`,
    `${NAMES.service}.${NAMES.namespace}.svc.cluster.local`,
  ]);
  assert.equal(
    only<AnyObject>(objects, "Issuer", spec.issuerRef.name).length,
    1,
    "the Issuer exists",
  );
  const [deployment] = only<Deployment>(objects, "Deployment");
  const pod = deployment?.spec?.template.spec;
  const volume = pod?.volumes?.find((v) => v.secret?.secretName === spec.secretName);
  assert.ok(volume, "the Deployment mounts the Certificate's Secret");
  const mount = pod?.containers[0]?.volumeMounts?.find((m) => m.name === volume.name);
  assert.equal(mount?.mountPath, DEFAULT_CERT_DIR);
  const configs = [
    ...only<AnyObject>(objects, "MutatingWebhookConfiguration"),
    ...only<AnyObject>(objects, "ValidatingWebhookConfiguration"),
  ];
  assert.equal(configs.length, 3);
  for (const config of configs) {
    assert.equal(
      config.metadata?.annotations?.["cert-manager.io/inject-ca-from"],
      `${NAMES.namespace}/${certificate?.metadata?.name}`,
    );
  }
  const roles = [...only<Role>(objects, "Role"), ...only<ClusterRole>(objects, "ClusterRole")];
  const resources = roles.flatMap((role) =>
    role.rules?.flatMap((rule) => rule.resources ?? []) ?? []
  );
  assert.ok(!resources.includes("secrets"), "with cert-manager the operator reads no Secret");
  assert.ok(!resources.some((r) => r.endsWith("webhookconfigurations")), "nor patches webhooks");
});

Deno.test("the Deployment runs two hardened replicas with probes, limits and a PodDisruptionBudget", async () => {
  for (const release of ["release.yaml", "release-cert-manager.yaml"]) {
    const objects = await readRelease(release);
    const [deployment] = only<Deployment>(objects, "Deployment");
    const pod = deployment!.spec!.template.spec!;
    const container = pod.containers[0]!;
    assert.equal(deployment?.spec?.replicas, 2);
    assert.equal(pod.serviceAccountName, NAMES.serviceAccount);
    assert.equal(pod.securityContext?.runAsNonRoot, true);
    assert.equal(pod.securityContext?.seccompProfile?.type, "RuntimeDefault");
    assert.deepEqual(container.securityContext, {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ["ALL"] },
      seccompProfile: { type: "RuntimeDefault" },
    });
    assert.equal(container.livenessProbe?.httpGet?.path, "/healthz");
    assert.equal(container.readinessProbe?.httpGet?.path, "/readyz");
    assert.ok(container.resources?.requests?.memory && container.resources.limits?.memory);
    assert.ok(container.resources?.requests?.cpu && container.resources.limits?.cpu);
    assert.ok((pod.topologySpreadConstraints ?? []).length > 0);
    assert.ok((pod.terminationGracePeriodSeconds ?? 0) > 30, "longer than the 30 s shutdown bound");
    const [pdb] = only<AnyObject>(objects, "PodDisruptionBudget");
    assert.equal((pdb?.spec as { minAvailable: number }).minAvailable, 1);
  }
});

Deno.test("webhookSet() skips nobody without the operator's username, and quotes it for CEL", () => {
  const options = {
    client: { kind: "url", baseUrl: "https://127.0.0.1:9443" },
    crdName: "crd",
    podName: "pod",
    operatorNamespace: "op",
  } as const;
  const hooks = webhookSet(options).flatMap((config) => config.webhooks ?? []);
  for (const hook of hooks.filter((hook) => hook.name !== WEBHOOK_NAMES.mutatePod)) {
    assert.equal(hook.matchConditions, undefined, hook.name);
  }
  const [mutating] = webhookSet({ ...options, operatorUsername: 'a"b\\c' });
  assert.deepEqual(mutating.webhooks?.[0]?.matchConditions, [
    { name: "not-the-operator", expression: 'request.userInfo.username != "a\\"b\\\\c"' },
  ]);
});

/**
 * The release files against a real API server (no operator running): both releases pass a
 * server-side dry run (the cert-manager one with stand-in cert-manager CRDs), the pod template
 * meets the `restricted` Pod Security level, `kubectl apply -f deploy/release.yaml` works on an
 * empty cluster and again without changes, and the applied webhooks fail closed everywhere
 * except in the operator's own namespace and in unlabelled namespaces.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import type { Deployment } from "kubernetes-types/apps/v1.d.ts";
import { NAMES } from "../scripts/gen_release_names.ts";
import { type ControlPlane, startControlPlane } from "./controlplane/harness.ts";
import { eventually } from "./controller_harness.ts";
import { fakeCertManagerCrds } from "./demo/fake_cert_manager.ts";
import { manifestPath } from "./demo/local_operator.ts";

const RELEASE = fileURLToPath(new URL("../deploy/release.yaml", import.meta.url));
const RELEASE_CERT_MANAGER = fileURLToPath(
  new URL("../deploy/release-cert-manager.yaml", import.meta.url),
);

async function kubectlOk(cp: ControlPlane, args: string[], stdin?: string) {
  const result = await cp.kubectl(args, stdin === undefined ? {} : { stdin });
  assert.equal(result.code, 0, `kubectl ${args.join(" ")}:\n${result.stderr}`);
  return result;
}

/** The Deployment's pod template as a bare Pod in the operator namespace. */
async function operatorPod(): Promise<string> {
  const docs = parseAllDocuments(await Deno.readTextFile(RELEASE)).map((doc) => doc.toJS());
  const deployment = docs.find((doc) => doc?.kind === "Deployment") as Deployment;
  const template = deployment.spec!.template;
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { ...template.metadata, name: "template-check", namespace: NAMES.namespace },
    spec: template.spec,
  });
}

/** A pod that meets the restricted Pod Security level (the operator namespace enforces it). */
function podIn(namespace: string): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "plain", namespace },
    spec: {
      securityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
      containers: [{
        name: "c",
        image: "example.invalid/c",
        securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
      }],
    },
  });
}

Deno.test("the release files apply to a real API server", async (t) => {
  await using cp = await startControlPlane({ crds: false });
  await kubectlOk(cp, ["apply", "-f", manifestPath("00-namespace.yaml")]);

  await t.step(
    "release.yaml passes a server-side dry run without Pod Security warnings",
    async () => {
      const result = await kubectlOk(cp, ["apply", "--dry-run=server", "-f", RELEASE]);
      assert.match(
        result.stdout,
        /deployment\.apps\/hostport-allocator created \(server dry run\)/,
      );
      assert.doesNotMatch(result.stderr, /PodSecurity|Warning/);
    },
  );

  await t.step(
    "the operator's pod is admitted under the restricted Pod Security level",
    async () => {
      const result = await kubectlOk(
        cp,
        ["create", "--dry-run=server", "-f", "-"],
        await operatorPod(),
      );
      assert.match(result.stdout, /pod\/template-check created \(server dry run\)/);
      const plain = JSON.stringify({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "plain", namespace: NAMES.namespace },
        spec: { containers: [{ name: "c", image: "example.invalid/c" }] },
      });
      const refused = await cp.kubectl(["create", "--dry-run=server", "-f", "-"], { stdin: plain });
      assert.match(
        refused.stderr,
        /violates PodSecurity "restricted:latest"/,
        "the level is enforced",
      );
    },
  );

  await t.step(
    "release-cert-manager.yaml passes a server-side dry run with cert-manager's kinds",
    async () => {
      await kubectlOk(cp, ["apply", "-f", "-"], fakeCertManagerCrds());
      await kubectlOk(cp, [
        "wait",
        "--for=condition=Established",
        "crd/issuers.cert-manager.io",
        "crd/certificates.cert-manager.io",
      ]);
      const result = await kubectlOk(cp, ["apply", "--dry-run=server", "-f", RELEASE_CERT_MANAGER]);
      assert.match(
        result.stdout,
        /certificate\.cert-manager\.io\/hostport-allocator created \(server dry run\)/,
      );
      assert.doesNotMatch(result.stderr, /PodSecurity|Warning/);
    },
  );

  await t.step(
    "kubectl apply -f deploy/release.yaml creates everything, and applying it again changes nothing",
    async () => {
      await kubectlOk(cp, ["apply", "-f", RELEASE]);
      // `kubectl diff` compares a server-side dry run with the live objects: exit 0 = no change.
      const diff = await cp.kubectl(["diff", "-f", RELEASE]);
      assert.equal(diff.code, 0, `applying again would change:\n${diff.stdout}${diff.stderr}`);
    },
  );

  await t.step("re-applying the release keeps the CA bundle the operator injected", async () => {
    const caBundle = btoa("-----BEGIN CERTIFICATE-----\ninjected\n-----END CERTIFICATE-----\n");
    const inject = JSON.stringify([{
      op: "add",
      path: "/webhooks/0/clientConfig/caBundle",
      value: caBundle,
    }]);
    await kubectlOk(cp, [
      "patch",
      "mutatingwebhookconfiguration",
      NAMES.podWebhooks,
      "--type=json",
      "-p",
      inject,
    ]);
    await kubectlOk(cp, ["apply", "-f", RELEASE]);
    const kept = await kubectlOk(cp, [
      "get",
      "mutatingwebhookconfiguration",
      NAMES.podWebhooks,
      "-o",
      "jsonpath={.webhooks[0].clientConfig.caBundle}",
    ]);
    assert.equal(kept.stdout, caBundle);
  });

  await t.step("with the operator down, the CR webhooks fail closed", async () => {
    // The API server learns new CRDs and webhook configurations from its own watches: poll.
    await eventually("a HostPortClass to be refused by the unreachable webhook", async () => {
      const result = await cp.kubectl(["create", "--dry-run=server", "-f", "-"], {
        stdin: JSON.stringify({
          apiVersion: "hostport.rmb938.com/v1alpha1",
          kind: "HostPortClass",
          metadata: { name: "down" },
          spec: { pools: [{ start: 9000, end: 9001 }] },
        }),
      });
      assert.notEqual(result.code, 0, "admitted");
      assert.match(result.stderr, /failed calling webhook "mhostportclass\.kb\.io"/);
      return true;
    });
  });

  await t.step("the pod webhook spares unlabelled namespaces and the operator's own", async () => {
    await kubectlOk(cp, ["create", "namespace", "labelled"]);
    await kubectlOk(cp, ["create", "namespace", "unlabelled"]);
    for (const ns of ["labelled", NAMES.namespace]) {
      await kubectlOk(cp, ["label", "namespace", ns, "hostport.rmb938.com=true"]);
    }
    // The API server matches namespaceSelector against its cache of namespaces: poll.
    await eventually("a pod in the labelled namespace to be refused", async () => {
      const refused = await cp.kubectl(["create", "--dry-run=server", "-f", "-"], {
        stdin: podIn("labelled"),
      });
      assert.notEqual(refused.code, 0, "admitted");
      assert.match(refused.stderr, /failed calling webhook "mpod\.kb\.io"/);
      return true;
    });
    for (const ns of ["unlabelled", NAMES.namespace]) {
      await kubectlOk(cp, ["create", "--dry-run=server", "-f", "-"], podIn(ns));
    }
  });
});

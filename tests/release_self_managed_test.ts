/**
 * The default release's certificate handling, with the Deployment's own arguments: the operator,
 * running as the release's ServiceAccount, creates the Secret `hostport-allocator-tls` with a CA
 * and a serving certificate for the Service's DNS names, and injects the CA into the release's
 * three webhook configurations.
 */
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { join } from "node:path";
import { NAMES } from "../scripts/gen_release_names.ts";
import { operatorArgs } from "../scripts/gen_release_workload.ts";
import { type ControlPlane, startControlPlane } from "./controlplane/harness.ts";
import { waitUntil } from "./controlplane/wait.ts";
import { manifestPath, RBAC_PIECES } from "./demo/local_operator.ts";
import { OperatorProcess } from "./demo/operator_process.ts";

async function kubectlOk(cp: ControlPlane, args: string[]): Promise<string> {
  const result = await cp.kubectl(args);
  assert.equal(result.code, 0, `kubectl ${args.join(" ")}:\n${result.stderr}`);
  return result.stdout;
}

async function secretField(cp: ControlPlane, key: string): Promise<string> {
  const result = await cp.kubectl([
    "get",
    "-n",
    NAMES.namespace,
    "secret",
    NAMES.tlsSecret,
    "-o",
    `jsonpath={.data.${key.replaceAll(".", "\\.")}}`,
  ]);
  return result.code === 0 ? result.stdout : "";
}

async function caBundles(cp: ControlPlane): Promise<string[]> {
  const out = await kubectlOk(cp, [
    "get",
    "mutatingwebhookconfigurations,validatingwebhookconfigurations",
    "-o",
    'jsonpath={range .items[*].webhooks[*]}{.clientConfig.caBundle}{"\\n"}{end}',
  ]);
  return out.split("\n").filter((line, i, all) => i < all.length - 1 || line !== "");
}

Deno.test("the default release's operator makes its certificate and injects its CA", async () => {
  await using cp = await startControlPlane();
  for (const piece of [...RBAC_PIECES, "40-webhooks.yaml"]) {
    await kubectlOk(cp, ["apply", "-f", manifestPath(piece)]);
  }
  const token = await cp.serviceAccountToken(NAMES.namespace, NAMES.serviceAccount);
  await using operator = OperatorProcess.start({
    kubeconfig: await cp.tokenKubeconfig(token),
    namespace: NAMES.namespace,
    logPath: join(cp.runDir, "operator.log"),
    args: operatorArgs("self-managed"),
  });
  await waitUntil(async () => {
    const ca = await secretField(cp, "ca.crt");
    const bundles = await caBundles(cp);
    return ca !== "" && bundles.length === 7 && bundles.every((bundle) => bundle === ca);
  }, {
    what: "the Secret and the CA injected into all 7 webhooks",
    timeoutMs: 60_000,
    process: operator.process,
  });
  const cert = new X509Certificate(atob(await secretField(cp, "tls.crt")));
  for (const name of NAMES.dnsNames) {
    assert.ok(
      cert.subjectAltName?.includes(`DNS:${name}`),
      `${cert.subjectAltName} covers ${name}`,
    );
  }
  assert.doesNotMatch(await operator.logs(), /forbidden/i);
});

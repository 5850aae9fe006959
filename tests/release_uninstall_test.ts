/**
 * Uninstalling, as docs/release-readme-draft.md tells it: with the operator running, deleting the
 * claims first lets every finalizer go; with the operator already gone, the claims hang on their
 * finalizer until deploy/remove-finalizers.sh removes the webhooks and the finalizers, after which
 * the objects and the CRDs go away.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { type ControlPlane, startControlPlane } from "./controlplane/harness.ts";
import { manifestPath, startLocalOperator } from "./demo/local_operator.ts";
import { runQuickstart } from "./demo/quickstart.ts";

const SCRIPT = fileURLToPath(new URL("../deploy/remove-finalizers.sh", import.meta.url));
const RELEASE = fileURLToPath(new URL("../deploy/release.yaml", import.meta.url));
const CRDS = [
  "hostportclaims.hostport.rmb938.com",
  "hostports.hostport.rmb938.com",
  "hostportclasses.hostport.rmb938.com",
];

async function kubectlOk(cp: ControlPlane, args: string[]): Promise<string> {
  const result = await cp.kubectl(args);
  assert.equal(result.code, 0, `kubectl ${args.join(" ")}:\n${result.stderr}`);
  return result.stdout;
}

async function ourObjects(cp: ControlPlane): Promise<string> {
  return (await kubectlOk(cp, [
    "get",
    "hostportclaims,hostports,hostportclasses",
    "-A",
    "-o",
    "name",
  ]))
    .trim();
}

Deno.test("with the operator running, the documented uninstall leaves nothing behind", async () => {
  await using cp = await startControlPlane();
  // A short deletion window: no slow admission chain here, and the claim's deletion waits on it.
  await using operator = await startLocalOperator(cp, { args: ["--claim-deletion-grace=2s"] });
  await runQuickstart((args) => cp.kubectl(args));
  await kubectlOk(cp, ["delete", "-n", "default", "pod", "echo"]);
  await kubectlOk(cp, ["delete", "hostportclaims", "--all", "-A", "--timeout=60s"]);
  await kubectlOk(cp, ["delete", "hostports", "--all", "--timeout=60s"]);
  await kubectlOk(cp, ["delete", "hostportclasses", "--all", "--timeout=60s"]);
  assert.equal(await ourObjects(cp), "");
  await kubectlOk(cp, ["delete", "-f", manifestPath("40-webhooks.yaml")]);
  // --wait=false: without kube-controller-manager a namespace never finishes terminating here.
  await kubectlOk(cp, ["delete", "-f", RELEASE, "--ignore-not-found", "--wait=false"]);
  await kubectlOk(cp, [
    "wait",
    "--for=delete",
    ...CRDS.map((crd) => `crd/${crd}`),
    "--timeout=60s",
  ]);
  await operator.process.stop(1_000); // not a clean-shutdown test: ops_process_test.ts is
});

Deno.test("with the operator gone, remove-finalizers.sh lets claims, classes and CRDs go", async () => {
  await using cp = await startControlPlane();
  const operator = await startLocalOperator(cp, { args: ["--claim-deletion-grace=2s"] });
  try {
    await runQuickstart((args) => cp.kubectl(args));
  } finally {
    await operator.process.stop(1_000); // an operator that is simply gone, not a clean stop
  }
  await kubectlOk(cp, ["delete", "-n", "default", "pod", "echo"]);
  await kubectlOk(cp, ["delete", "hostportclaim", "-n", "default", "echo-web", "--wait=false"]);
  const stuck = await kubectlOk(cp, [
    "get",
    "hostportclaim",
    "-n",
    "default",
    "echo-web",
    "-o",
    "jsonpath={.metadata.deletionTimestamp} {.metadata.finalizers}",
  ]);
  assert.match(stuck, /^\S+ \["hostport\.rmb938\.com"\]$/, "the claim hangs on its finalizer");

  const script = await new Deno.Command("bash", {
    args: [SCRIPT],
    env: { ...cp.env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(script.code, 0, new TextDecoder().decode(script.stderr));

  await kubectlOk(cp, [
    "delete",
    "hostportclaims,hostports,hostportclasses",
    "--all",
    "-A",
    "--timeout=60s",
  ]);
  assert.equal(await ourObjects(cp), "");
  await kubectlOk(cp, ["delete", "crd", ...CRDS, "--timeout=60s"]);
  const webhooks = await kubectlOk(cp, [
    "get",
    "mutatingwebhookconfigurations,validatingwebhookconfigurations",
    "-o",
    "name",
  ]);
  assert.equal(webhooks.trim(), "", "the script removed the webhook configurations");
});

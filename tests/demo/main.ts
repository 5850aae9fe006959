/**
 * `deno task demo`: the README quickstart on this machine, with nothing installed beforehand. It
 * starts a local kube-apiserver + etcd with kube-controller-manager and kube-scheduler (the test
 * harness; built on first use), runs the operator out of cluster as the release's
 * ServiceAccount, plays the quickstart and the per-pod example (a StatefulSet whose controller
 * creates the pods; no kubelet runs them) with kubectl, prints what a user should see, then
 * deletes what it created and stops every process it started.
 *
 *     deno task demo [--keep]
 *
 * `--keep` leaves everything running after the quickstart until Ctrl-C, for exploring with
 * kubectl.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { OPERATOR_USER } from "../../scripts/gen_release_names.ts";
import { startControlPlane } from "../controlplane/harness.ts";
import { startLocalOperator } from "./local_operator.ts";
import {
  type PerPodResult,
  QUICKSTART_NAMESPACE,
  type QuickstartResult,
  runPerPodExample,
  runQuickstart,
} from "./quickstart.ts";

const USAGE = "Usage: deno task demo [--keep]";

function heading(text: string): void {
  console.log(`\n==> ${text}`);
}

function printQuickstart(result: QuickstartResult): void {
  // The last step is the listing, which printOutcome shows.
  for (const step of result.steps.slice(0, -1)) {
    console.log(`$ ${step.command}`);
    if (step.output.trim() !== "") console.log(step.output.trimEnd());
  }
}

function printOutcome(result: QuickstartResult): void {
  const { claim, pod } = result;
  heading("What you should see");
  console.log(
    `HostPortClaim ${QUICKSTART_NAMESPACE}/echo-web is ${claim.phase} with port ${claim.port} ` +
      `(HostPort ${claim.hostPortName})`,
  );
  console.log(`Pod ${QUICKSTART_NAMESPACE}/echo has hostPort ${pod.hostPort} on its port "web"`);
  console.log(
    `Pod ${QUICKSTART_NAMESPACE}/echo has annotation port.hostport.rmb938.com/web=${pod.annotation}`,
  );
  console.log("$ kubectl get hostportclasses,hostportclaims,hostports");
  console.log(result.listing.trimEnd());
}

function printPerPod(result: PerPodResult): void {
  for (const step of result.steps) {
    console.log(`$ ${step.command}`);
    if (step.output.trim() !== "") console.log(step.output.trimEnd());
  }
  heading("What you should see");
  for (const pod of result.pods) {
    console.log(
      `Pod ${QUICKSTART_NAMESPACE}/${pod.name} has claim ${pod.claim} and hostPort ${pod.hostPort}`,
    );
  }
}

function waitForSignal(): Promise<Deno.Signal> {
  return new Promise((resolve) => {
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      Deno.addSignalListener(signal, () => resolve(signal));
    }
  });
}

async function cleanUp(
  kubectl: (args: string[]) => Promise<{ code: number; stdout: string; stderr: string }>,
): Promise<void> {
  heading(
    "Cleaning up: the StatefulSet (its claims go with it), the pod, then the claim (its " +
      "HostPort goes with it), then the class",
  );
  const ns = ["-n", QUICKSTART_NAMESPACE];
  for (
    const args of [
      ["delete", ...ns, "statefulset", "game", "--cascade=foreground", "--timeout=60s"],
      ["delete", ...ns, "hostportclaimtemplate", "game-port", "--timeout=60s"],
      ["delete", ...ns, "pod", "echo", "--timeout=60s"],
      ["delete", ...ns, "hostportclaim", "echo-web", "--timeout=60s"],
      ["delete", "hostportclass", "sample", "--timeout=60s"],
    ]
  ) {
    console.log(`$ kubectl ${args.join(" ")}`);
    const result = await kubectl(args);
    console.log((result.code === 0 ? result.stdout : result.stderr).trimEnd());
  }
}

async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { keep: { type: "boolean" }, help: { type: "boolean", short: "h" } },
  });
  if (values.help) return console.log(USAGE);
  heading(
    "Starting a local control plane: kube-apiserver + etcd, kube-controller-manager and " +
      "kube-scheduler on 127.0.0.1",
  );
  console.log(
    "(the first run builds them and kubectl from the Go module proxy: ~6 min)",
  );
  await using cp = await startControlPlane({ controllers: true });
  console.log(`kube-apiserver at ${cp.url}; the CRDs of deploy/crds/ are installed`);
  heading(`Starting the operator out of cluster as ${OPERATOR_USER}`);
  // A short deletion window keeps the clean-up quick; a cluster keeps the default (65 s).
  await using operator = await startLocalOperator(cp, {
    onStep: (line) => console.log(line),
    args: ["--claim-deletion-grace=2s"],
  });
  console.log(
    `ready: the webhook serves ${operator.webhookUrl}, logs in ${operator.process.logPath}`,
  );
  heading("The quickstart");
  const result = await runQuickstart((kubectlArgs) => cp.kubectl(kubectlArgs));
  printQuickstart(result);
  printOutcome(result);
  heading("Per-pod ports: a StatefulSet whose every replica gets a port of its own");
  console.log("(kube-controller-manager creates the pods; no kubelet runs them here)");
  printPerPod(await runPerPodExample((kubectlArgs) => cp.kubectl(kubectlArgs)));
  if (values.keep) {
    heading("Everything keeps running; press Ctrl-C to stop");
    console.log(`export KUBECONFIG=${cp.kubeconfigPath} PATH=${cp.binDir}:$PATH`);
    console.log(`Stopping after ${await waitForSignal()}`);
  }
  await cleanUp((kubectlArgs) => cp.kubectl(kubectlArgs));
  heading("Stopping the operator (SIGTERM) and the control plane");
  const status = await operator.stop();
  console.log(`operator exited with code ${status.code}`);
}

if (import.meta.main) {
  try {
    await main(Deno.args);
    console.log("\nDone: every process the demo started has stopped.");
  } catch (error) {
    console.error(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
    Deno.exit(1);
  }
}

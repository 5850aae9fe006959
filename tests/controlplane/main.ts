/**
 * `deno task controlplane`: starts a local kube-apiserver + etcd (with `--controllers` also
 * kube-controller-manager and kube-scheduler), prints how to reach it, and stops it cleanly on
 * Ctrl-C or SIGTERM.
 *
 *     deno task controlplane [--no-crds] [--keep] [--no-watch-cache] [--controllers]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { startControlPlane } from "./harness.ts";

const USAGE =
  "Usage: deno task controlplane [--no-crds] [--keep] [--no-watch-cache] [--controllers]";

function waitForSignal(): Promise<Deno.Signal> {
  return new Promise((resolve) => {
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      Deno.addSignalListener(signal, () => resolve(signal));
    }
  });
}

async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      "no-crds": { type: "boolean" },
      keep: { type: "boolean" },
      "no-watch-cache": { type: "boolean" },
      controllers: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const signalled = waitForSignal();
  const cp = await startControlPlane({
    crds: !values["no-crds"],
    keepRunDir: values.keep ?? false,
    watchCache: !values["no-watch-cache"],
    controllers: values.controllers ?? false,
  });
  try {
    console.log(`kube-apiserver: ${cp.url}`);
    console.log(`kubeconfig:     ${cp.kubeconfigPath}`);
    console.log(`kubectl:        ${cp.kubectlPath}`);
    console.log(`logs:           ${cp.logDir}`);
    console.log(`export KUBECONFIG=${cp.kubeconfigPath} PATH=${cp.binDir}:$PATH`);
    console.log("Press Ctrl-C to stop.");
    console.log(`Stopping after ${await signalled}`);
  } finally {
    await cp.stop();
  }
}

if (import.meta.main) {
  try {
    await main(Deno.args);
  } catch (error) {
    console.error(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
    Deno.exit(1);
  }
}

/**
 * Test fixture: starts a control plane, prints `{"runDir": ..., "pids": ...}` as one JSON line,
 * then idles until killed. The test SIGKILLs it and checks that nothing it started survives.
 * With the argument `--controllers` it also starts kube-controller-manager and kube-scheduler.
 *
 * @module
 */
import { startControlPlane } from "./harness.ts";

if (import.meta.main) {
  const controllers = Deno.args.includes("--controllers");
  const cp = await startControlPlane({ crds: false, keepRunDir: true, controllers });
  console.log(JSON.stringify({ runDir: cp.runDir, pids: cp.pids }));
  setInterval(() => {}, 60_000); // idle; the owner is meant to die by a signal
}

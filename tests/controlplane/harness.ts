/**
 * A real kube-apiserver + etcd on 127.0.0.1 for integration tests (envtest-style): secure
 * serving, RBAC, an admin client certificate, ServiceAccount tokens, and the project's CRDs.
 *
 * ```ts
 * await using cp = await startControlPlane();
 * const { stdout } = await cp.kubectl(["get", "ns", "default"]);
 * ```
 *
 * By default no kube-controller-manager runs: namespaces never finish terminating, nothing is
 * garbage collected, namespaces get no `default` ServiceAccount, and the aggregated ClusterRoles
 * (`view`, `edit`, `admin`) stay empty. Use a fresh namespace per test, and bind Roles of your own.
 * Tests that need real controllers pass `{ controllers: true }`, which also starts
 * kube-controller-manager and kube-scheduler (there is still no node: pods stay Pending).
 *
 * @module
 */
import { join } from "node:path";
import { findBinaries } from "./binaries.ts";
import { ControlPlane } from "./control_plane.ts";
import { ControlPlaneError } from "./errors.ts";
import { spawnEtcd, waitForEtcd } from "./etcd.ts";
import { renderKubeconfig, writePrivateFile } from "./kubeconfig.ts";
import type { KubectlOptions, KubectlResult } from "./kubectl.ts";
import {
  type ControlPlaneOptions,
  type ControlPlanePids,
  DEFAULT_CRD_DIR,
  DEFAULT_START_TIMEOUT_MS,
  KEEP_RUN_DIR_ENV,
} from "./options.ts";
import { createControlPlanePki, type WebhookTls } from "./pki.ts";

export type { ControlPlaneOptions, ControlPlanePids, KubectlOptions, KubectlResult, WebhookTls };
export {
  ControlPlane,
  ControlPlaneError,
  DEFAULT_CRD_DIR,
  DEFAULT_START_TIMEOUT_MS,
  KEEP_RUN_DIR_ENV,
};

/**
 * Builds (on first use) and starts etcd and kube-apiserver on 127.0.0.1, writes the admin
 * kubeconfig, installs the CRDs, and with `controllers` starts kube-controller-manager and
 * kube-scheduler (after the CRDs, so their controllers see them from the start). Whatever happens, no process outlives the caller: on a
 * failed start everything is stopped (the run dir is kept for its logs), and every process has a
 * watchdog that kills it once this Deno process is gone.
 *
 * @throws {ControlPlaneError} when a binary is missing or a part does not start; the message
 * ends with the tail of the relevant log
 */
export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const binaries = await findBinaries();
  const runDir = await Deno.makeTempDir({ prefix: "hostport-controlplane-" });
  const logDir = options.logDir ?? runDir;
  await Deno.mkdir(logDir, { recursive: true });
  const pki = await createControlPlanePki(join(runDir, "pki")).catch(async (error: unknown) => {
    await Deno.remove(runDir, { recursive: true }).catch(() => {});
    throw error;
  });
  const etcd = spawnEtcd({ binary: binaries.etcd, runDir, logPath: join(logDir, "etcd.log") });
  const cp = new ControlPlane({ binaries, runDir, logDir, pki, etcd }, options);
  try {
    await waitForEtcd(etcd, options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS);
    await cp.startApiServer();
    await writePrivateFile(cp.kubeconfigPath, renderKubeconfig(cp.url, cp.caPem, pki.admin));
    if (options.crds ?? true) await cp.installCrds(options.crdDir ?? DEFAULT_CRD_DIR);
    if (options.controllers ?? false) await cp.startControllers();
  } catch (error) {
    await cp.stop({ keepRunDir: true }); // the error message points at its logs
    throw error;
  }
  return cp;
}

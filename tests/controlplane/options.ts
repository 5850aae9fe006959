/**
 * Options and defaults of the test control plane.
 *
 * @module
 */
import { fileURLToPath } from "node:url";

/** The project's CRD directory, installed by default. */
export const DEFAULT_CRD_DIR = fileURLToPath(new URL("../../deploy/crds", import.meta.url));
/** Default deadline for etcd, kube-apiserver and CRDs to come up (generous for 2 cores). */
export const DEFAULT_START_TIMEOUT_MS = 90_000;
/** Set this environment variable to `1` to keep the run dir (logs, etcd data) after `stop()`. */
export const KEEP_RUN_DIR_ENV = "HOSTPORT_CONTROLPLANE_KEEP";

/** How to start the control plane. */
export interface ControlPlaneOptions {
  /** Install the CRDs of `crdDir` (default true; a missing or empty directory is skipped). */
  crds?: boolean;
  /** Directory of CRD YAML files; `deploy/crds` of this repository by default. */
  crdDir?: string;
  /** Extra kube-apiserver flags, appended last (so they override the harness's). */
  apiServerArgs?: string[];
  /**
   * kube-apiserver's watch cache (default true). With `false`, lists and watches go to etcd, so
   * after `ControlPlane.compactEtcd()` a watch from an older resourceVersion gets 410 Gone.
   */
  watchCache?: boolean;
  /**
   * Also run kube-controller-manager and kube-scheduler (default false), for tests that need
   * real controllers: namespace deletion, garbage collection, ResourceQuota status, the
   * Deployment, ReplicaSet and StatefulSet controllers, `default` ServiceAccounts. There is no
   * node, so pods stay Pending (unschedulable). Startup waits until both work; it costs
   * about a second or two more.
   */
  controllers?: boolean;
  /** Directory for the logs (`etcd.log`, `kube-apiserver.log`, ...); the run dir by default. */
  logDir?: string;
  /** Deadline for startup, in milliseconds. */
  startTimeoutMs?: number;
  /** SIGTERM-to-SIGKILL grace when stopping, in milliseconds. */
  stopGraceMs?: number;
  /** Keep the run dir after `stop()` (also: environment variable `HOSTPORT_CONTROLPLANE_KEEP=1`). */
  keepRunDir?: boolean;
}

/** Process ids of the running binaries. */
export interface ControlPlanePids {
  /** etcd. */
  etcd: number;
  /** kube-apiserver, or undefined while it is stopped. */
  kubeApiServer: number | undefined;
  /** kube-controller-manager, or undefined when it is not running. */
  kubeControllerManager?: number | undefined;
  /** kube-scheduler, or undefined when it is not running. */
  kubeScheduler?: number | undefined;
}

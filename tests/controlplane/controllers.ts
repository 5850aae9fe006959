/**
 * kube-controller-manager and kube-scheduler for the test control plane (the `controllers`
 * option): their flags, start, and the wait until they work. Each authenticates with a client
 * certificate as its bootstrap RBAC user; the controller manager runs every controller under its
 * own ServiceAccount, and signs with the harness's CA and ServiceAccount key.
 *
 * @module
 */
import { join } from "node:path";
import { ApiClient } from "./api_client.ts";
import { answers } from "./api_server.ts";
import { renderKubeconfig, writePrivateFile } from "./kubeconfig.ts";
import type { ControllersPki, ControlPlanePki } from "./pki.ts";
import { freePort, type ManagedProcess, spawnManaged } from "./process.ts";
import { waitUntil } from "./wait.ts";

/** Everything needed to start both controllers against one apiserver. */
export interface ControllersConfig {
  /** Path of kube-controller-manager. */
  controllerManagerBinary: string;
  /** Path of kube-scheduler. */
  schedulerBinary: string;
  /** The apiserver's URL. */
  apiServerUrl: string;
  /** The control plane's certificates and keys. */
  pki: ControlPlanePki;
  /** The controllers' own certificates. */
  controllersPki: ControllersPki;
  /** The apiserver's service range (the controller manager must agree with it). */
  serviceClusterIpRange: string;
  /** Directory for the kubeconfigs. */
  runDir: string;
  /** Directory for `kube-controller-manager.log` and `kube-scheduler.log`. */
  logDir: string;
}

/** The two running controllers. */
export interface RunningControllers {
  /** kube-controller-manager. */
  controllerManager: ManagedProcess;
  /** kube-scheduler. */
  scheduler: ManagedProcess;
  /** `https://127.0.0.1:<port>` of the controller manager's `/healthz`. */
  controllerManagerUrl: string;
  /** `https://127.0.0.1:<port>` of the scheduler's `/healthz`. */
  schedulerUrl: string;
}

function common(kubeconfig: string, port: number, serving: ControllersPki["serving"]): string[] {
  return [
    `--kubeconfig=${kubeconfig}`,
    `--authentication-kubeconfig=${kubeconfig}`,
    `--authorization-kubeconfig=${kubeconfig}`,
    "--bind-address=127.0.0.1",
    `--secure-port=${port}`, // not the fixed default: several control planes may run at once
    `--tls-cert-file=${serving.certFile}`,
    `--tls-private-key-file=${serving.keyFile}`,
    "--leader-elect=false",
    "--profiling=false",
    "--v=1",
  ];
}

/** Returns the kube-controller-manager flags for `config`, given its kubeconfig and port. */
export function controllerManagerArgs(
  config: ControllersConfig,
  kubeconfig: string,
  port: number,
): string[] {
  const { pki } = config;
  return [
    ...common(kubeconfig, port, config.controllersPki.serving),
    `--root-ca-file=${pki.ca.certFile}`,
    `--service-account-private-key-file=${pki.serviceAccount.signingKeyFile}`,
    "--use-service-account-credentials=true",
    `--cluster-signing-cert-file=${pki.ca.certFile}`,
    `--cluster-signing-key-file=${pki.ca.keyFile}`,
    `--service-cluster-ip-range=${config.serviceClusterIpRange}`,
    "--allocate-node-cidrs=false",
    // The default client limits (20 QPS, burst 30) throttle its startup: with
    // --use-service-account-credentials each controller first gets a ServiceAccount and token.
    "--kube-api-qps=500",
    "--kube-api-burst=1000",
  ];
}

/** Returns the kube-scheduler flags, given its kubeconfig and port. */
export function schedulerArgs(
  config: ControllersConfig,
  kubeconfig: string,
  port: number,
): string[] {
  return common(kubeconfig, port, config.controllersPki.serving);
}

/** Writes the controllers' kubeconfigs and starts both (they are not working yet). */
export async function spawnControllers(config: ControllersConfig): Promise<RunningControllers> {
  const { apiServerUrl, pki, controllersPki } = config;
  const kcmKubeconfig = join(config.runDir, "kube-controller-manager.kubeconfig");
  const schedulerKubeconfig = join(config.runDir, "kube-scheduler.kubeconfig");
  await writePrivateFile(
    kcmKubeconfig,
    renderKubeconfig(apiServerUrl, pki.ca.certPem, controllersPki.controllerManager),
  );
  await writePrivateFile(
    schedulerKubeconfig,
    renderKubeconfig(apiServerUrl, pki.ca.certPem, controllersPki.scheduler),
  );
  const kcmPort = freePort();
  const schedulerPort = freePort();
  const controllerManager = spawnManaged(
    "kube-controller-manager",
    config.controllerManagerBinary,
    controllerManagerArgs(config, kcmKubeconfig, kcmPort),
    { logPath: join(config.logDir, "kube-controller-manager.log") },
  );
  const scheduler = spawnManaged(
    "kube-scheduler",
    config.schedulerBinary,
    schedulerArgs(config, schedulerKubeconfig, schedulerPort),
    { logPath: join(config.logDir, "kube-scheduler.log") },
  );
  return {
    controllerManager,
    scheduler,
    controllerManagerUrl: `https://127.0.0.1:${kcmPort}`,
    schedulerUrl: `https://127.0.0.1:${schedulerPort}`,
  };
}

/**
 * Waits until both controllers answer `/healthz` and the controller manager's controllers act:
 * the `default` namespace has its `default` ServiceAccount.
 *
 * @param admin a client of the apiserver as the admin
 * @param caPem the CA of the controllers' serving certificate
 * @throws {ControlPlaneError} on timeout or when either exits, with its log tail
 */
export async function waitForControllers(
  running: RunningControllers,
  admin: ApiClient,
  caPem: string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const left = () => Math.max(1000, deadline - Date.now());
  for (
    const [process, url] of [
      [running.controllerManager, running.controllerManagerUrl],
      [running.scheduler, running.schedulerUrl],
    ] as const
  ) {
    const client = new ApiClient(url, { caPem });
    try {
      await waitUntil(() => answers(client, "/healthz"), {
        what: `${process.name} to become healthy`,
        timeoutMs: left(),
        process,
      });
    } finally {
      client.close();
    }
  }
  await waitUntil(() => answers(admin, "/api/v1/namespaces/default/serviceaccounts/default"), {
    what: 'the "default" ServiceAccount (made by kube-controller-manager)',
    timeoutMs: left(),
    process: running.controllerManager,
  });
}

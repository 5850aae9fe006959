/**
 * kube-apiserver for the test control plane: its flags (envtest's set, loopback only, RBAC on),
 * start, and readiness.
 *
 * @module
 */
import { join } from "node:path";
import type { ApiClient } from "./api_client.ts";
import type { ControlPlanePki } from "./pki.ts";
import { type ManagedProcess, spawnManaged } from "./process.ts";
import { waitUntil } from "./wait.ts";

/** The apiserver's service range; kube-controller-manager is given the same. */
export const SERVICE_CLUSTER_IP_RANGE = "10.0.0.0/24";

/** Everything needed to start (and restart) the apiserver the same way. */
export interface ApiServerConfig {
  /** Path of the kube-apiserver binary. */
  binary: string;
  /** Secure port on 127.0.0.1. */
  port: number;
  /** etcd client URL. */
  etcdUrl: string;
  /** Certificates and keys. */
  pki: ControlPlanePki;
  /** Directory for the apiserver's own scratch files. */
  runDir: string;
  /** Log file (appended across restarts). */
  logPath: string;
  /** Serve watches and lists from etcd rather than from the watch cache. */
  watchCache: boolean;
  /** Extra flags, appended last so they win. */
  extraArgs: readonly string[];
}

function hasDefaultRoute(): boolean {
  try {
    return Deno.readTextFileSync("/proc/net/route").split("\n").some((line) =>
      line.split(/\s+/)[1] === "00000000"
    );
  } catch {
    return false;
  }
}

/** Returns the kube-apiserver command-line flags for `config`. */
export function apiServerArgs(config: ApiServerConfig): string[] {
  const { pki } = config;
  const url = `https://127.0.0.1:${config.port}`;
  return [
    `--etcd-servers=${config.etcdUrl}`,
    "--bind-address=127.0.0.1",
    `--secure-port=${config.port}`,
    // Without a default route the apiserver cannot pick an address of its own.
    ...(hasDefaultRoute() ? [] : ["--advertise-address=127.0.0.1"]),
    `--cert-dir=${join(config.runDir, "apiserver-certs")}`,
    `--tls-cert-file=${pki.apiServer.certFile}`,
    `--tls-private-key-file=${pki.apiServer.keyFile}`,
    `--client-ca-file=${pki.ca.certFile}`,
    `--service-account-issuer=${url}/`,
    `--service-account-key-file=${pki.serviceAccount.publicKeyFile}`,
    `--service-account-signing-key-file=${pki.serviceAccount.signingKeyFile}`,
    `--service-cluster-ip-range=${SERVICE_CLUSTER_IP_RANGE}`,
    "--authorization-mode=RBAC",
    // No controller-manager runs, so no namespace would ever get its "default" ServiceAccount.
    "--disable-admission-plugins=ServiceAccount",
    // Endpoints validation rejects the loopback address the apiserver would write.
    "--endpoint-reconciler-type=none",
    "--allow-privileged=true",
    "--profiling=false",
    `--watch-cache=${config.watchCache}`,
    "--v=1",
    ...config.extraArgs,
  ];
}

/** Starts kube-apiserver with `config` (it is not ready yet). */
export function spawnApiServer(config: ApiServerConfig): ManagedProcess {
  return spawnManaged("kube-apiserver", config.binary, apiServerArgs(config), {
    logPath: config.logPath,
  });
}

/** Whether `path` answers 200 within 5 s (any failure counts as no). */
export async function answers(client: ApiClient, path: string): Promise<boolean> {
  try {
    const response = await client.fetch(path, { signal: AbortSignal.timeout(5000) });
    await response.body?.cancel();
    return response.status === 200;
  } catch {
    return false;
  }
}

/**
 * Waits until the apiserver answers `/readyz` (so RBAC's bootstrap roles exist) and serves the
 * `default` namespace.
 *
 * @throws {ControlPlaneError} on timeout or when the apiserver exits, with its log tail
 */
export async function waitForApiServer(
  client: ApiClient,
  process: ManagedProcess,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  await waitUntil(() => answers(client, "/readyz"), {
    what: "kube-apiserver to become ready",
    timeoutMs,
    process,
  });
  await waitUntil(() => answers(client, "/api/v1/namespaces/default"), {
    what: 'the "default" namespace',
    timeoutMs: Math.max(1000, deadline - Date.now()),
    process,
  });
}

/**
 * The release's operator on a local control plane, out of cluster: the release's namespace,
 * ServiceAccount and RBAC applied from deploy/manifests/, the operator started with a token of
 * that ServiceAccount, and the release's webhook configurations pointed at it by URL, trusting
 * either the harness's webhook certificate or the operator's self-managed one.
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { WebhookClientConfig } from "kubernetes-types/admissionregistration/v1.d.ts";
import { webhookConfigurations } from "../../scripts/gen_release_files.ts";
import { NAMES } from "../../scripts/gen_release_names.ts";
import { operatorArgs } from "../../scripts/gen_release_workload.ts";
import type { ControlPlane } from "../controlplane/harness.ts";
import { freePorts, OperatorProcess, webhookCertDir } from "./operator_process.ts";

/** The pieces that give the operator its namespace, ServiceAccount and RBAC. */
export const RBAC_PIECES = [
  "00-namespace.yaml",
  "10-rbac.yaml",
  "11-rbac-self-managed-tls.yaml",
] as const;

/** Absolute path of a file of deploy/manifests/. */
export function manifestPath(name: string): string {
  return fileURLToPath(new URL(`../../deploy/manifests/${name}`, import.meta.url));
}

/** Thrown when a setup step fails. */
export class LocalOperatorError extends Error {
  override name = "LocalOperatorError";
}

async function kubectlOk(cp: ControlPlane, args: string[], stdin?: string): Promise<string> {
  const result = await cp.kubectl(args, stdin === undefined ? {} : { stdin });
  if (result.code !== 0) {
    throw new LocalOperatorError(`kubectl ${args.join(" ")} failed: ${result.stderr.trim()}`);
  }
  return result.stdout;
}

/** What to run. */
export interface LocalOperatorOptions {
  /**
   * Where the webhook certificate comes from: the harness's (a directory, as with cert-manager),
   * or the operator's own, with the Deployment's arguments (`--webhook-self-signed`: it keeps the
   * Secret and injects its CA into the webhook configurations).
   */
  tls?: "harness" | "self-managed";
  /** Extra operator flags. */
  args?: readonly string[];
  /** Told about each step, for the demo's narration. */
  onStep?: (message: string) => void;
}

/**
 * The release's three webhook configurations as it generates them, each webhook calling
 * `baseUrl` plus its path instead of the Service and trusting `caBundle` (base64 PEM; absent:
 * injected later).
 */
export function releaseWebhooksAt(
  baseUrl: string,
  caBundle?: string,
): ReturnType<typeof webhookConfigurations> {
  const atUrl = <T extends { webhooks?: { clientConfig: WebhookClientConfig }[] }>(config: T) =>
    ({
      ...config,
      webhooks: config.webhooks?.map((webhook) => ({
        ...webhook,
        clientConfig: {
          url: `${baseUrl}${webhook.clientConfig.service?.path ?? ""}`,
          ...caBundle !== undefined && { caBundle },
        },
      })),
    }) as T;
  const [crdMutating, crdValidating, pod] = webhookConfigurations();
  return [atUrl(crdMutating), atUrl(crdValidating), atUrl(pod)];
}

async function applyWebhooks(
  cp: ControlPlane,
  endpoint: { baseUrl: string; caBundle?: string },
  say: (message: string) => void,
): Promise<void> {
  for (const config of releaseWebhooksAt(endpoint.baseUrl, endpoint.caBundle)) {
    say(`${config.kind} ${config.metadata?.name} -> ${endpoint.baseUrl}`);
    await kubectlOk(cp, ["apply", "-f", "-"], JSON.stringify(config));
  }
}

/**
 * Applies the release's RBAC, starts the operator as its ServiceAccount, registers the webhooks
 * by URL, and waits until the operator is ready. The caller stops the operator.
 *
 * @throws {LocalOperatorError} when kubectl refuses a step
 * @throws {ControlPlaneError} when the operator exits or does not become ready
 */
export async function startLocalOperator(
  cp: ControlPlane,
  options: LocalOperatorOptions = {},
): Promise<OperatorProcess> {
  const say = options.onStep ?? (() => {});
  for (const piece of RBAC_PIECES) {
    say(`kubectl apply -f deploy/manifests/${piece}`);
    await kubectlOk(cp, ["apply", "-f", manifestPath(piece)]);
  }
  const token = await cp.serviceAccountToken(NAMES.namespace, NAMES.serviceAccount);
  const ports = freePorts();
  const baseUrl = `https://127.0.0.1:${ports.webhook}`;
  const selfManaged = options.tls === "self-managed";
  // The operator injects its CA on its first pass, so its configurations must exist by then.
  if (selfManaged) await applyWebhooks(cp, { baseUrl }, say);
  const tls = await cp.webhookTls();
  const operator = OperatorProcess.start({
    kubeconfig: await cp.tokenKubeconfig(token),
    namespace: NAMES.namespace,
    logPath: join(cp.runDir, "operator.log"),
    ports,
    ...selfManaged ? { args: [...operatorArgs("self-managed"), ...options.args ?? []] } : {
      certDir: await webhookCertDir(tls, cp.runDir),
      args: ["--leader-elect=true", ...options.args ?? []],
    },
  });
  try {
    say(`operator started (pid ${operator.process.pid}), waiting for ${operator.healthUrl}/readyz`);
    await operator.waitReady();
    if (!selfManaged) {
      await applyWebhooks(cp, { baseUrl, caBundle: tls.caBundle }, say);
    }
  } catch (error) {
    await operator.stop();
    throw error;
  }
  return operator;
}

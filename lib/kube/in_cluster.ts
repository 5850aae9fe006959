/**
 * In-cluster configuration: the API server from `KUBERNETES_SERVICE_HOST`/`_PORT`, and the
 * service account's token (re-read as the kubelet rotates it), CA and namespace files.
 *
 * @module
 */
import type { ClusterConfig } from "./cluster_config.ts";
import type { ReadTextFile } from "./kubeconfig_resolve.ts";

/** Where the kubelet mounts the service account. */
export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/** The in-cluster settings are missing or unreadable. */
export class InClusterConfigError extends Error {
  /** Builds `Cannot load in-cluster config: <detail>`. */
  constructor(detail: string, options?: ErrorOptions) {
    super(`Cannot load in-cluster config: ${detail}`, options);
    this.name = "InClusterConfigError";
  }
}

/** Inputs of `resolveInClusterConfig`. */
export interface InClusterOptions {
  /** Reads an environment variable. */
  env: (name: string) => string | undefined;
  /** Reads a file's text. */
  readFile: ReadTextFile;
  /** The mounted service account folder; defaults to `SERVICE_ACCOUNT_DIR`. */
  serviceAccountDir?: string;
}

/** Whether the process looks like it runs in a pod (`KUBERNETES_SERVICE_HOST` and `_PORT` set). */
export function isInCluster(env: (name: string) => string | undefined): boolean {
  return Boolean(env("KUBERNETES_SERVICE_HOST") && env("KUBERNETES_SERVICE_PORT"));
}

async function read(readFile: ReadTextFile, path: string, what: string): Promise<string> {
  try {
    return await readFile(path);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new InClusterConfigError(`cannot read the ${what} "${path}": ${detail}`, {
      cause: error,
    });
  }
}

/**
 * Builds the in-cluster `ClusterConfig`. The token is referenced by path so each request
 * sees the rotated token; it is read once here to fail early when it is missing.
 *
 * @throws {InClusterConfigError} when the variables are unset or a file cannot be read
 */
export async function resolveInClusterConfig(options: InClusterOptions): Promise<ClusterConfig> {
  const host = options.env("KUBERNETES_SERVICE_HOST");
  const port = options.env("KUBERNETES_SERVICE_PORT");
  if (!host || !port) {
    throw new InClusterConfigError(
      "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set",
    );
  }
  if (!/^\d+$/.test(port)) {
    throw new InClusterConfigError(`KUBERNETES_SERVICE_PORT "${port}" is not a port number`);
  }
  const dir = options.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  const tokenPath = `${dir}/token`;
  const token = (await read(options.readFile, tokenPath, "service account token")).trim();
  if (token === "") throw new InClusterConfigError(`the token file "${tokenPath}" is empty`);
  const caPem = await read(options.readFile, `${dir}/ca.crt`, "service account CA");
  let namespace = "default";
  try {
    namespace = (await options.readFile(`${dir}/namespace`)).trim() || "default";
  } catch {
    // Older or projected mounts may lack the namespace file; "default" is kubectl's fallback.
  }
  const hostPart = host.includes(":") ? `[${host}]` : host;
  return {
    server: `https://${hostPart}:${port}`,
    caPem,
    auth: { type: "tokenFile", path: tokenPath },
    namespace,
    source: "in-cluster",
  };
}

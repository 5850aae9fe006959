/**
 * What the process learns from its surroundings before it parses flags: whether it runs in a
 * pod, the pod's namespace (the service-account namespace file), and a unique identity for
 * leader election and Event reporting.
 *
 * @module
 */
import { isInCluster, SERVICE_ACCOUNT_DIR } from "../kube/mod.ts";
import type { ConfigContext } from "./config.ts";

/** Detects the in-cluster environment. */
export async function detectEnvironment(
  env: (name: string) => string | undefined = (name) => Deno.env.get(name),
  serviceAccountDir: string = SERVICE_ACCOUNT_DIR,
): Promise<ConfigContext> {
  const inCluster = isInCluster(env);
  let podNamespace: string | undefined;
  try {
    podNamespace = (await Deno.readTextFile(`${serviceAccountDir}/namespace`)).trim() || undefined;
  } catch {
    podNamespace = undefined; // out of cluster, or no service account mounted
  }
  return { inCluster, podNamespace };
}

/** A unique identity for this process: `<hostname>_<random uuid>`, as client-go builds it. */
export function processIdentity(): string {
  let host = "unknown";
  try {
    host = Deno.env.get("POD_NAME") || Deno.hostname();
  } catch {
    // Without --allow-sys the hostname is unknown; the uuid keeps the identity unique.
  }
  return `${host}_${crypto.randomUUID()}`;
}

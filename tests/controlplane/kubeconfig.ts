/**
 * Kubeconfig files for the test control plane.
 *
 * @module
 */
import { stringify } from "yaml";

/** How the kubeconfig's single user authenticates. */
export type KubeconfigUser =
  | { certPem: string; keyPem: string }
  | { token: string };

function base64(text: string): string {
  return btoa(text);
}

/** Renders a self-contained kubeconfig (all PEM inline) with one cluster, user and context. */
export function renderKubeconfig(url: string, caPem: string, user: KubeconfigUser): string {
  const credentials = "token" in user ? { token: user.token } : {
    "client-certificate-data": base64(user.certPem),
    "client-key-data": base64(user.keyPem),
  };
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{
      name: "controlplane",
      cluster: { server: url, "certificate-authority-data": base64(caPem) },
    }],
    users: [{ name: "controlplane-user", user: credentials }],
    contexts: [{
      name: "controlplane",
      context: { cluster: "controlplane", user: "controlplane-user", namespace: "default" },
    }],
    "current-context": "controlplane",
  });
}

/** Writes `contents` to `path`, readable by the owner only (it holds credentials). */
export async function writePrivateFile(path: string, contents: string): Promise<void> {
  await Deno.writeTextFile(path, contents, { mode: 0o600 });
}

/**
 * The resolved connection settings the REST client needs, whether they came from a
 * kubeconfig or from the in-cluster service account.
 *
 * @module
 */

/** An exec credential plugin, with its command resolved against the kubeconfig's folder. */
export interface ExecSpec {
  /** `client.authentication.k8s.io/v1` or `v1beta1`. */
  apiVersion: "client.authentication.k8s.io/v1" | "client.authentication.k8s.io/v1beta1";
  /** The program to run. */
  command: string;
  /** Its arguments. */
  args: string[];
  /** Extra environment variables for the plugin. */
  env: { name: string; value: string }[];
  /** Shown when the command cannot be started. */
  installHint?: string;
  /** Whether `KUBERNETES_EXEC_INFO` carries `spec.cluster`. */
  provideClusterInfo: boolean;
  /** `Always` is refused: the operator never has a terminal. */
  interactiveMode: "Never" | "IfAvailable" | "Always";
}

/** How requests are authenticated (in addition to any client certificate). */
export type AuthSpec =
  | { type: "none" }
  | { type: "token"; token: string }
  /** Re-read as it rotates (bound service-account tokens). */
  | { type: "tokenFile"; path: string }
  | { type: "basic"; username: string; password: string }
  | { type: "exec"; exec: ExecSpec };

/** A PEM client certificate and its key. */
export interface ClientCertificate {
  /** PEM certificate (chain). */
  certPem: string;
  /** PEM private key. */
  keyPem: string;
}

/** Everything needed to talk to one API server as one user. */
export interface ClusterConfig {
  /** The server URL without a trailing slash, for example `https://127.0.0.1:6443`. */
  server: string;
  /** PEM CA bundle trusted in addition to the system roots. */
  caPem?: string;
  /** The client certificate from the kubeconfig. */
  clientCertificate?: ClientCertificate;
  /** Bearer token, token file, basic or exec authentication. */
  auth: AuthSpec;
  /** The context's namespace, or the pod's namespace in-cluster; `default` otherwise. */
  namespace: string;
  /** An HTTP(S) proxy for every request. */
  proxyUrl?: string;
  /** Where the settings came from, for messages (`kubeconfig "/x" context "dev"`). */
  source: string;
}

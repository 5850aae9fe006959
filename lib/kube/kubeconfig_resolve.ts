/**
 * Turns a merged kubeconfig plus an optional `--context` into a `ClusterConfig`: picks the
 * context, checks that its cluster and user exist, reads CA and client-certificate files
 * through the injected reader, and chooses one authentication method.
 *
 * @module
 */
import type { AuthSpec, ClientCertificate, ClusterConfig, ExecSpec } from "./cluster_config.ts";
import { KubeConfigError, type MergedKubeConfig } from "./kubeconfig.ts";
import type { KubeConfigCluster, KubeConfigContext, KubeConfigUser } from "./kubeconfig_schema.ts";

/** Reads a file's text (injected so resolution is testable). */
export type ReadTextFile = (path: string) => Promise<string>;

/** Options of `resolveKubeConfig`. */
export interface ResolveKubeConfigOptions {
  /** Use this context instead of `current-context` (`--context`). */
  context?: string | undefined;
  /** Reads certificate files. */
  readFile: ReadTextFile;
}

/** Decodes a base64 `*-data` field to text; returns undefined when it is not base64. */
export function decodeBase64Text(data: string): string | undefined {
  try {
    const binary = atob(data.replace(/\s+/g, ""));
    const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
    return new TextDecoder().decode(bytes);
  } catch {
    return undefined;
  }
}

interface Material {
  fail: (detail: string) => never;
  readFile: ReadTextFile;
}

async function pem(
  m: Material,
  owner: string,
  field: string,
  data: string | null | undefined,
  path: string | null | undefined,
): Promise<string | undefined> {
  if (data) {
    const text = decodeBase64Text(data);
    if (text === undefined) m.fail(`${owner} has invalid ${field}-data: it is not base64`);
    return text;
  }
  if (!path) return undefined;
  try {
    return await m.readFile(path);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    return m.fail(`cannot read ${field} "${path}" of ${owner}: ${detail}`);
  }
}

function serverUrl(m: Material, name: string, cluster: KubeConfigCluster): string {
  let url: URL;
  try {
    url = new URL(cluster.server);
  } catch {
    return m.fail(`cluster "${name}" has an invalid server "${cluster.server}"`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    m.fail(`cluster "${name}" has server "${cluster.server}" which is not an http(s) URL`);
  }
  if (cluster["insecure-skip-tls-verify"]) {
    m.fail(`cluster "${name}" sets insecure-skip-tls-verify, which this client does not support`);
  }
  if (cluster["tls-server-name"]) {
    m.fail(`cluster "${name}" sets tls-server-name, which this client does not support`);
  }
  return url.href.replace(/\/+$/, "");
}

function execSpec(exec: NonNullable<KubeConfigUser["exec"]>): ExecSpec {
  const spec: ExecSpec = {
    apiVersion: exec.apiVersion,
    command: exec.command,
    args: exec.args ?? [],
    env: exec.env ?? [],
    provideClusterInfo: exec.provideClusterInfo ?? false,
    interactiveMode: exec.interactiveMode ?? "IfAvailable",
  };
  if (exec.installHint) spec.installHint = exec.installHint;
  return spec;
}

function authSpec(m: Material, name: string, user: KubeConfigUser): AuthSpec {
  const owner = `user "${name}"`;
  if (user["auth-provider"]) {
    m.fail(`${owner} uses auth-provider "${user["auth-provider"].name}", which is not supported`);
  }
  const hasToken = Boolean(user.token || user.tokenFile);
  const hasBasic = Boolean(user.username || user.password);
  const kinds = [hasToken && "token", hasBasic && "username/password", user.exec && "exec"];
  const set = kinds.filter(Boolean);
  if (set.length > 1) m.fail(`${owner} sets more than one of ${set.join(", ")}`);
  if (user.token) return { type: "token", token: user.token };
  if (user.tokenFile) return { type: "tokenFile", path: user.tokenFile };
  if (user.exec) {
    if (user.exec.interactiveMode === "Always") {
      m.fail(`${owner} has an exec plugin with interactiveMode Always, which needs a terminal`);
    }
    return { type: "exec", exec: execSpec(user.exec) };
  }
  if (hasBasic) {
    if (!user.username || !user.password) m.fail(`${owner} needs both username and password`);
    return { type: "basic", username: user.username!, password: user.password! };
  }
  return { type: "none" };
}

async function clientCertificate(
  m: Material,
  name: string,
  user: KubeConfigUser,
): Promise<ClientCertificate | undefined> {
  const owner = `user "${name}"`;
  const certPem = await pem(
    m,
    owner,
    "client-certificate",
    user["client-certificate-data"],
    user["client-certificate"],
  );
  const keyPem = await pem(m, owner, "client-key", user["client-key-data"], user["client-key"]);
  if (certPem === undefined && keyPem === undefined) return undefined;
  if (certPem === undefined) m.fail(`${owner} has a client key but no client certificate`);
  if (keyPem === undefined) m.fail(`${owner} has a client certificate but no client key`);
  return { certPem: certPem!, keyPem: keyPem! };
}

interface Selected {
  contextName: string;
  context: KubeConfigContext;
  cluster: KubeConfigCluster;
  userName: string;
  user: KubeConfigUser;
}

function select(m: Material, merged: MergedKubeConfig, requested: string | undefined): Selected {
  const contextName = requested || merged.currentContext;
  if (!contextName) m.fail("no context is selected: current-context is not set");
  const context = merged.contexts.get(contextName)?.value;
  if (!context) m.fail(`context "${contextName}" is not defined`);
  const cluster = merged.clusters.get(context.cluster)?.value;
  if (!cluster) {
    m.fail(`context "${contextName}" names cluster "${context.cluster}" which is not defined`);
  }
  const userName = context.user || "";
  const user = userName === "" ? {} : merged.users.get(userName)?.value;
  if (!user) m.fail(`context "${contextName}" names user "${userName}" which is not defined`);
  return { contextName, context, cluster, userName, user };
}

/**
 * Resolves the selected context of a merged kubeconfig.
 *
 * @throws {KubeConfigError} naming what is missing or wrong, for example
 *   `Cannot load kubeconfig "/x": context "dev" names cluster "c" which is not defined`
 */
export async function resolveKubeConfig(
  merged: MergedKubeConfig,
  options: ResolveKubeConfigOptions,
): Promise<ClusterConfig> {
  const m: Material = {
    fail(detail: string): never {
      throw new KubeConfigError(merged.source, detail);
    },
    readFile: options.readFile,
  };
  const { contextName, context, cluster, userName, user } = select(m, merged, options.context);
  const config: ClusterConfig = {
    server: serverUrl(m, context.cluster, cluster),
    auth: authSpec(m, userName, user),
    namespace: context.namespace || "default",
    source: `kubeconfig "${merged.source}" context "${contextName}"`,
  };
  const ca = await pem(
    m,
    `cluster "${context.cluster}"`,
    "certificate-authority",
    cluster["certificate-authority-data"],
    cluster["certificate-authority"],
  );
  if (ca !== undefined) config.caPem = ca;
  const cert = await clientCertificate(m, userName, user);
  if (cert) config.clientCertificate = cert;
  if (cluster["proxy-url"]) config.proxyUrl = cluster["proxy-url"];
  return config;
}

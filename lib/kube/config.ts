/**
 * Cluster configuration, chosen the way controller-runtime does: `--kubeconfig`, then
 * `KUBECONFIG` (colon-separated files, merged the kubectl way: the first file that sets a name
 * wins, relative paths resolve against the file's folder), then the in-cluster service account,
 * then `~/.kube/config`. The result is a `ClusterConfig`: the server, TLS material and one
 * authentication method. `loadClusterConfig` is the only function here that touches `Deno.env`
 * and the file system; the rest take their inputs as parameters.
 *
 * @module
 */
import * as z from "zod";
import { dirname, isAbsolute, join } from "node:path";
import { parse as parseYaml } from "yaml";

/** An exec credential plugin, with its command resolved against the kubeconfig's folder. */
export interface ExecSpec {
  /** `client.authentication.k8s.io/v1` or `v1beta1`. */
  apiVersion: "client.authentication.k8s.io/v1" | "client.authentication.k8s.io/v1beta1";
  command: string;
  args: string[];
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
  keyPem: string;
}

/** Everything needed to talk to one API server as one user. */
export interface ClusterConfig {
  /** The server URL without a trailing slash, for example `https://127.0.0.1:6443`. */
  server: string;
  /** PEM CA bundle trusted in addition to the system roots. */
  caPem?: string;
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

/** `clusters[].cluster` */
export const KubeConfigCluster = z.looseObject({
  server: z.string().min(1),
  "certificate-authority": z.string().nullish(),
  "certificate-authority-data": z.string().nullish(),
  "insecure-skip-tls-verify": z.boolean().nullish(),
  "tls-server-name": z.string().nullish(),
  "proxy-url": z.string().nullish(),
});
/** A cluster entry's connection settings. */
export type KubeConfigCluster = z.infer<typeof KubeConfigCluster>;

/** `users[].user.exec` */
export const KubeConfigExec = z.looseObject({
  apiVersion: z.enum([
    "client.authentication.k8s.io/v1",
    "client.authentication.k8s.io/v1beta1",
  ]),
  command: z.string().min(1),
  args: z.array(z.string()).nullish(),
  env: z.array(z.object({ name: z.string(), value: z.string() })).nullish(),
  installHint: z.string().nullish(),
  provideClusterInfo: z.boolean().nullish(),
  interactiveMode: z.enum(["Never", "IfAvailable", "Always"]).nullish(),
});
/** An exec credential plugin's settings. */
export type KubeConfigExec = z.infer<typeof KubeConfigExec>;

/** `users[].user` */
export const KubeConfigUser = z.looseObject({
  "client-certificate": z.string().nullish(),
  "client-certificate-data": z.string().nullish(),
  "client-key": z.string().nullish(),
  "client-key-data": z.string().nullish(),
  token: z.string().nullish(),
  tokenFile: z.string().nullish(),
  username: z.string().nullish(),
  password: z.string().nullish(),
  exec: KubeConfigExec.nullish(),
  "auth-provider": z.looseObject({ name: z.string() }).nullish(),
});
/** A user entry's credentials. */
export type KubeConfigUser = z.infer<typeof KubeConfigUser>;

/** `contexts[].context` */
export const KubeConfigContext = z.looseObject({
  cluster: z.string().min(1),
  user: z.string().nullish(),
  namespace: z.string().nullish(),
});
/** A context entry. */
export type KubeConfigContext = z.infer<typeof KubeConfigContext>;

/** One kubeconfig file. */
export const KubeConfigFile = z.looseObject({
  apiVersion: z.string().nullish(),
  kind: z.string().nullish(),
  "current-context": z.string().nullish(),
  clusters: z.array(z.looseObject({ name: z.string().min(1), cluster: KubeConfigCluster }))
    .nullish(),
  users: z.array(z.looseObject({ name: z.string().min(1), user: KubeConfigUser.nullish() }))
    .nullish(),
  contexts: z.array(z.looseObject({ name: z.string().min(1), context: KubeConfigContext }))
    .nullish(),
});
/** One parsed kubeconfig file. */
export type KubeConfigFile = z.infer<typeof KubeConfigFile>;

/** A kubeconfig that cannot be read, parsed or resolved. */
export class KubeConfigError extends Error {
  /** Builds `Cannot load kubeconfig "<source>": <detail>`. */
  constructor(source: string, detail: string, options?: ErrorOptions) {
    super(`Cannot load kubeconfig "${source}": ${detail}`, options);
    this.name = "KubeConfigError";
  }
}

/** One kubeconfig file after parsing, with the path it came from. */
export interface LoadedKubeConfig {
  path: string;
  config: KubeConfigFile;
}

/** An entry plus the file that defined it. */
export interface Sourced<T> {
  value: T;
  path: string;
}

/** Several kubeconfig files merged into one view. */
export interface MergedKubeConfig {
  /** The files in precedence order, joined with `:` (for messages). */
  source: string;
  /** The first `current-context` set by any file. */
  currentContext: string | undefined;
  clusters: Map<string, Sourced<KubeConfigCluster>>;
  users: Map<string, Sourced<KubeConfigUser>>;
  contexts: Map<string, Sourced<KubeConfigContext>>;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const path = issue.path.map((p) => typeof p === "number" ? `[${p}]` : `.${String(p)}`).join("");
  return `${path.replace(/^\./, "") || "document"}: ${issue.message}`;
}

/**
 * Parses one kubeconfig file's text.
 *
 * @throws {KubeConfigError} for invalid YAML or a document that does not match the format
 */
export function parseKubeConfig(text: string, path: string): KubeConfigFile {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (error) {
    const detail = error instanceof Error ? error.message.split("\n")[0] : String(error);
    throw new KubeConfigError(path, `invalid YAML: ${detail}`, { cause: error });
  }
  const result = KubeConfigFile.safeParse(doc ?? {});
  if (!result.success) {
    const issues = result.error.issues.slice(0, 3).map(describeIssue).join("; ");
    throw new KubeConfigError(path, `invalid kubeconfig: ${issues}`);
  }
  return result.data;
}

function resolvePath(path: string | null | undefined, base: string): string | undefined {
  if (path === undefined || path === null || path === "") return undefined;
  return isAbsolute(path) ? path : join(base, path);
}

function localizeUser(user: KubeConfigUser, base: string): KubeConfigUser {
  const out: KubeConfigUser = {
    ...user,
    "client-certificate": resolvePath(user["client-certificate"], base),
    "client-key": resolvePath(user["client-key"], base),
    tokenFile: resolvePath(user.tokenFile, base),
  };
  // kubectl resolves an exec command only when it names a path, not a program on PATH.
  if (user.exec && user.exec.command.includes("/")) {
    out.exec = { ...user.exec, command: resolvePath(user.exec.command, base)! };
  }
  return out;
}

function addFirst<T>(map: Map<string, Sourced<T>>, name: string, value: T, path: string): void {
  if (!map.has(name)) map.set(name, { value, path });
}

/**
 * Merges parsed files in precedence order (the first file that sets a name wins), resolving
 * relative paths against each file's folder.
 */
export function mergeKubeConfigs(files: readonly LoadedKubeConfig[]): MergedKubeConfig {
  const merged: MergedKubeConfig = {
    source: files.map((f) => f.path).join(":"),
    currentContext: undefined,
    clusters: new Map(),
    users: new Map(),
    contexts: new Map(),
  };
  for (const { path, config } of files) {
    const base = dirname(path);
    merged.currentContext ??= config["current-context"] || undefined;
    for (const entry of config.clusters ?? []) {
      const cluster = entry.cluster;
      const ca = resolvePath(cluster["certificate-authority"], base);
      addFirst(merged.clusters, entry.name, { ...cluster, "certificate-authority": ca }, path);
    }
    for (const entry of config.users ?? []) {
      const user: KubeConfigUser = entry.user ?? {};
      addFirst(merged.users, entry.name, localizeUser(user, base), path);
    }
    for (const entry of config.contexts ?? []) {
      addFirst(merged.contexts, entry.name, entry.context, path);
    }
  }
  return merged;
}

/** Reads a file's text (injected so resolution is testable). */
export type ReadTextFile = (path: string) => Promise<string>;

/** Options of `resolveKubeConfig`. */
export interface ResolveKubeConfigOptions {
  /** Use this context instead of `current-context` (`--context`). */
  context?: string | undefined;
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
  env: (name: string) => string | undefined;
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

/** Where the configuration comes from. */
export type ConfigSource =
  | { type: "files"; paths: string[]; explicit: boolean }
  | { type: "in-cluster" };

/** Inputs of `selectConfigSource`. */
export interface ConfigSourceInputs {
  /** The `--kubeconfig` flag. */
  kubeconfigFlag?: string | undefined;
  /** The `KUBECONFIG` variable. */
  kubeconfigEnv?: string | undefined;
  /** The home folder (`HOME`). */
  home?: string | undefined;
  inCluster: boolean;
}

/** Picks the configuration source by controller-runtime's precedence. */
export function selectConfigSource(inputs: ConfigSourceInputs): ConfigSource {
  if (inputs.kubeconfigFlag) {
    return { type: "files", paths: [inputs.kubeconfigFlag], explicit: true };
  }
  const fromEnv = (inputs.kubeconfigEnv ?? "").split(":").filter((p) => p !== "");
  if (fromEnv.length > 0) return { type: "files", paths: fromEnv, explicit: false };
  if (inputs.inCluster) return { type: "in-cluster" };
  const home = inputs.home ?? "";
  return { type: "files", paths: [`${home}/.kube/config`], explicit: false };
}

function isNotFound(error: unknown): boolean {
  return error instanceof Error && error.name === "NotFound";
}

/**
 * Reads and parses kubeconfig files. Missing files in a `KUBECONFIG` list are skipped (as
 * kubectl does); an explicit `--kubeconfig` file must exist, and so must at least one file.
 *
 * @throws {KubeConfigError} for unreadable or invalid files, or when none exists
 */
export async function readKubeConfigFiles(
  paths: readonly string[],
  options: { explicit: boolean; readFile: ReadTextFile },
): Promise<LoadedKubeConfig[]> {
  const loaded: LoadedKubeConfig[] = [];
  for (const path of paths) {
    let text: string;
    try {
      text = await options.readFile(path);
    } catch (error) {
      if (isNotFound(error) && !options.explicit) continue;
      const detail = error instanceof Error ? error.message : String(error);
      throw new KubeConfigError(path, `cannot read the file: ${detail}`, { cause: error });
    }
    loaded.push({ path, config: parseKubeConfig(text, path) });
  }
  if (loaded.length === 0) {
    throw new KubeConfigError(paths.join(":"), "no such file, and no in-cluster service account");
  }
  return loaded;
}

/** Options of `loadClusterConfig`. */
export interface LoadClusterConfigOptions {
  /** `--kubeconfig`: use only this file. */
  kubeconfig?: string | undefined;
  /** `--context`: use this context instead of `current-context`. */
  context?: string | undefined;
}

function absolute(path: string): string {
  return path.startsWith("/") ? path : `${Deno.cwd()}/${path}`;
}

/**
 * Loads the configuration from the environment and the file system.
 *
 * @throws {KubeConfigError} or `InClusterConfigError` naming what is missing or wrong
 */
export async function loadClusterConfig(
  options: LoadClusterConfigOptions = {},
): Promise<ClusterConfig> {
  const env = (name: string) => Deno.env.get(name);
  const source = selectConfigSource({
    kubeconfigFlag: options.kubeconfig,
    kubeconfigEnv: env("KUBECONFIG"),
    home: env("HOME"),
    inCluster: isInCluster(env),
  });
  if (source.type === "in-cluster") {
    return await resolveInClusterConfig({ env, readFile: Deno.readTextFile });
  }
  const files = await readKubeConfigFiles(source.paths.map(absolute), {
    explicit: source.explicit,
    readFile: Deno.readTextFile,
  });
  return await resolveKubeConfig(mergeKubeConfigs(files), {
    context: options.context,
    readFile: Deno.readTextFile,
  });
}

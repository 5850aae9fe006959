/**
 * Cluster configuration, chosen as controller-runtime does (`--kubeconfig`, `KUBECONFIG` merged
 * the kubectl way, the in-cluster service account, `~/.kube/config`), and the per-request
 * credentials it names. Only `loadClusterConfig` and the credential sources' defaults do I/O.
 *
 * @module
 */
import * as z from "zod";
import { dirname, resolve } from "node:path";
import { errorMessage, formatPath } from "../api/types.ts";
import { parseJson } from "./rest_client.ts";

const EXEC_API_VERSIONS = [
  "client.authentication.k8s.io/v1",
  "client.authentication.k8s.io/v1beta1",
] as const;

/** A PEM client certificate (chain) and its key. */
export interface ClientCertificate {
  certPem: string;
  keyPem: string;
}

/** Everything needed to talk to one API server as one user. */
export interface ClusterConfig {
  /** The server URL without a trailing slash. */
  server: string;
  /** PEM CA bundle trusted besides the system roots. */
  caPem?: string;
  clientCertificate?: ClientCertificate;
  auth:
    | { type: "none" }
    | { type: "token"; token: string }
    | { type: "tokenFile"; path: string }
    | { type: "basic"; username: string; password: string }
    | { type: "exec"; exec: ExecSpec };
  proxyUrl?: string;
}

const User = z.looseObject({
  "client-certificate": z.string().nullish(),
  "client-certificate-data": z.string().nullish(),
  "client-key": z.string().nullish(),
  "client-key-data": z.string().nullish(),
  token: z.string().nullish(),
  tokenFile: z.string().nullish(),
  username: z.string().nullish(),
  password: z.string().nullish(),
  exec: z.looseObject({
    apiVersion: z.enum(EXEC_API_VERSIONS),
    command: z.string().min(1),
    args: z.array(z.string()).nullish().transform((v) => v ?? []),
    env: z.array(z.object({ name: z.string(), value: z.string() })).nullish()
      .transform((v) => v ?? []),
    installHint: z.string().nullish(),
    provideClusterInfo: z.boolean().nullish().transform((v) => v ?? false),
    interactiveMode: z.enum(["Never", "IfAvailable", "Always"]).nullish()
      .transform((v) => v ?? "IfAvailable"),
  }).nullish(),
  "auth-provider": z.looseObject({ name: z.string() }).nullish(),
});
type User = z.infer<typeof User>;

/** An exec credential plugin, with its command resolved against the kubeconfig's folder. */
export type ExecSpec = NonNullable<User["exec"]>;

const KubeConfigFile = z.looseObject({
  apiVersion: z.string().nullish(),
  kind: z.string().nullish(),
  "current-context": z.string().nullish(),
  clusters: z.array(z.looseObject({
    name: z.string().min(1),
    cluster: z.looseObject({
      server: z.string().min(1),
      "certificate-authority": z.string().nullish(),
      "certificate-authority-data": z.string().nullish(),
      "insecure-skip-tls-verify": z.boolean().nullish(),
      "tls-server-name": z.string().nullish(),
      "proxy-url": z.string().nullish(),
    }),
  })).nullish(),
  users: z.array(z.looseObject({ name: z.string().min(1), user: User.nullish() })).nullish(),
  contexts: z.array(z.looseObject({
    name: z.string().min(1),
    context: z.looseObject({
      cluster: z.string().min(1),
      user: z.string().nullish(),
    }),
  })).nullish(),
});
/** One kubeconfig file as `parseKubeConfig` returns it, its relative paths resolved. */
export type KubeConfigFile = z.infer<typeof KubeConfigFile>;

/** A kubeconfig that cannot be read, parsed or resolved. */
export class KubeConfigError extends Error {
  /** Builds `Cannot load kubeconfig "<source>": <detail>`. */
  constructor(source: string, detail: string, options?: ErrorOptions) {
    super(`Cannot load kubeconfig "${source}": ${detail}`, options);
    this.name = "KubeConfigError";
  }
}

/** Reads a file's text. */
export type ReadTextFile = (path: string) => Promise<string>;

/**
 * Parses one kubeconfig file's text, resolving its relative paths against the file's folder.
 *
 * @throws {KubeConfigError} for bad YAML or format
 */
export async function parseKubeConfig(text: string, path: string): Promise<KubeConfigFile> {
  // Loaded here so that an operator in a pod, which reads no kubeconfig, never evaluates it.
  const { parse } = await import("yaml");
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (error) {
    const detail = `invalid YAML: ${errorMessage(error).split("\n")[0]}`;
    throw new KubeConfigError(path, detail, { cause: error });
  }
  const result = KubeConfigFile.safeParse(doc ?? {});
  if (!result.success) {
    const issues = result.error.issues.slice(0, 3)
      .map((issue) => `${formatPath(issue.path) || "document"}: ${issue.message}`);
    throw new KubeConfigError(path, `invalid kubeconfig: ${issues.join("; ")}`);
  }
  const config = result.data;
  const local = (file: string | null | undefined) => file && resolve(dirname(path), file);
  for (const { cluster } of config.clusters ?? []) {
    cluster["certificate-authority"] = local(cluster["certificate-authority"]);
  }
  for (const { user } of config.users ?? []) {
    if (!user) continue;
    user["client-certificate"] = local(user["client-certificate"]);
    user["client-key"] = local(user["client-key"]);
    user.tokenFile = local(user.tokenFile);
    // kubectl resolves an exec command only when it names a path, not a program on PATH.
    if (user.exec?.command.includes("/")) {
      user.exec.command = resolve(dirname(path), user.exec.command);
    }
  }
  return config;
}

/**
 * Resolves the selected context (`context`, else the first `current-context`) of kubeconfig
 * files given in precedence order: as kubectl merges them, the first file that sets a name wins.
 *
 * @throws {KubeConfigError} naming what is missing or wrong
 */
export async function resolveKubeConfig(
  files: readonly { path: string; config: KubeConfigFile }[],
  options: { context?: string | undefined; readFile: ReadTextFile },
): Promise<ClusterConfig> {
  const source = files.map((file) => file.path).join(":");
  const fail = (detail: string): never => {
    throw new KubeConfigError(source, detail);
  };
  // A PEM given inline as `<field>-data` (base64) or as a file named by `<field>`.
  const pem = async (owner: string, field: string, fields: Record<string, unknown>) => {
    const data = fields[`${field}-data`];
    if (typeof data === "string" && data) {
      try {
        return new TextDecoder().decode(Uint8Array.fromBase64(data));
      } catch {
        return fail(`${owner} has invalid ${field}-data: it is not base64`);
      }
    }
    const path = fields[field];
    if (typeof path !== "string" || !path) return undefined;
    return await options.readFile(path)
      .catch((error) => fail(`cannot read ${field} "${path}" of ${owner}: ${errorMessage(error)}`));
  };
  const configs = files.map((file) => file.config);
  const contextName = options.context ||
    configs.map((config) => config["current-context"]).find(Boolean) ||
    fail("no context is selected: current-context is not set");
  const context = configs.flatMap((config) => config.contexts ?? [])
    .find((entry) => entry.name === contextName)?.context ??
    fail(`context "${contextName}" is not defined`);
  const clusterName = context.cluster;
  const cluster = configs.flatMap((config) => config.clusters ?? [])
    .find((entry) => entry.name === clusterName)?.cluster ??
    fail(`context "${contextName}" names cluster "${clusterName}" which is not defined`);
  const userName = context.user || "";
  const userEntry = userName === "" ? { user: {} } : configs.flatMap((config) => config.users ?? [])
    .find((entry) => entry.name === userName) ??
    fail(`context "${contextName}" names user "${userName}" which is not defined`);
  const user = userEntry.user ?? {};

  const url = URL.parse(cluster.server) ??
    fail(`cluster "${clusterName}" has an invalid server "${cluster.server}"`);
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    fail(`cluster "${clusterName}" has server "${cluster.server}" which is not an http(s) URL`);
  }
  for (const setting of ["insecure-skip-tls-verify", "tls-server-name"] as const) {
    if (cluster[setting]) {
      fail(`cluster "${clusterName}" sets ${setting}, which this client does not support`);
    }
  }
  const config: ClusterConfig = {
    server: url.href.replace(/\/+$/, ""),
    auth: authOf(`user "${userName}"`, user, fail),
  };
  const ca = await pem(`cluster "${clusterName}"`, "certificate-authority", cluster);
  if (ca !== undefined) config.caPem = ca;
  const owner = `user "${userName}"`;
  const certPem = await pem(owner, "client-certificate", user);
  const keyPem = await pem(owner, "client-key", user);
  if (certPem !== undefined && keyPem !== undefined) {
    config.clientCertificate = { certPem, keyPem };
  } else if (certPem !== undefined) {
    fail(`${owner} has a client certificate but no client key`);
  } else if (keyPem !== undefined) {
    fail(`${owner} has a client key but no client certificate`);
  }
  if (cluster["proxy-url"]) config.proxyUrl = cluster["proxy-url"];
  return config;
}

function authOf(owner: string, user: User, fail: (detail: string) => never): ClusterConfig["auth"] {
  if (user["auth-provider"]) {
    fail(`${owner} uses auth-provider "${user["auth-provider"].name}", which is not supported`);
  }
  const hasBasic = Boolean(user.username || user.password);
  const set = [
    (user.token || user.tokenFile) && "token",
    hasBasic && "username/password",
    user.exec && "exec",
  ].filter(Boolean);
  if (set.length > 1) fail(`${owner} sets more than one of ${set.join(", ")}`);
  if (user.token) return { type: "token", token: user.token };
  if (user.tokenFile) return { type: "tokenFile", path: user.tokenFile };
  if (user.exec) {
    // The operator never has a terminal.
    if (user.exec.interactiveMode === "Always") {
      fail(`${owner} has an exec plugin with interactiveMode Always, which needs a terminal`);
    }
    return { type: "exec", exec: user.exec };
  }
  if (!hasBasic) return { type: "none" };
  if (!user.username || !user.password) fail(`${owner} needs both username and password`);
  return { type: "basic", username: user.username!, password: user.password! };
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

/** Whether the process looks like it runs in a pod (`KUBERNETES_SERVICE_HOST` and `_PORT` set). */
export function isInCluster(env: (name: string) => string | undefined): boolean {
  return Boolean(env("KUBERNETES_SERVICE_HOST") && env("KUBERNETES_SERVICE_PORT"));
}

/**
 * Builds the in-cluster config. The token is referenced by path so requests see it rotate; it is
 * read once here to fail early.
 *
 * @throws {InClusterConfigError} when the variables are unset or a file cannot be read
 */
export async function resolveInClusterConfig(options: {
  env: (name: string) => string | undefined;
  readFile: ReadTextFile;
  serviceAccountDir?: string;
}): Promise<ClusterConfig> {
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
  const read = (path: string, what: string) =>
    options.readFile(path).catch((error) => {
      const detail = `cannot read the ${what} "${path}": ${errorMessage(error)}`;
      throw new InClusterConfigError(detail, { cause: error });
    });
  const tokenPath = `${dir}/token`;
  const token = (await read(tokenPath, "service account token")).trim();
  if (token === "") throw new InClusterConfigError(`the token file "${tokenPath}" is empty`);
  return {
    server: `https://${host.includes(":") ? `[${host}]` : host}:${port}`,
    caPem: await read(`${dir}/ca.crt`, "service account CA"),
    auth: { type: "tokenFile", path: tokenPath },
  };
}

/** Picks the configuration source by controller-runtime's precedence. */
export function selectConfigSource(inputs: {
  kubeconfigFlag?: string | undefined;
  kubeconfigEnv?: string | undefined;
  home?: string | undefined;
  inCluster: boolean;
}): { type: "files"; paths: string[]; explicit: boolean } | { type: "in-cluster" } {
  if (inputs.kubeconfigFlag) {
    return { type: "files", paths: [inputs.kubeconfigFlag], explicit: true };
  }
  const fromEnv = (inputs.kubeconfigEnv ?? "").split(":").filter((p) => p !== "");
  if (fromEnv.length > 0) return { type: "files", paths: fromEnv, explicit: false };
  if (inputs.inCluster) return { type: "in-cluster" };
  return { type: "files", paths: [`${inputs.home ?? ""}/.kube/config`], explicit: false };
}

/**
 * Reads and parses kubeconfig files, skipping missing ones unless `explicit` (as kubectl does).
 *
 * @throws {KubeConfigError} for unreadable or invalid files, or when none exists
 */
export async function readKubeConfigFiles(
  paths: readonly string[],
  options: { explicit: boolean; readFile: ReadTextFile },
): Promise<{ path: string; config: KubeConfigFile }[]> {
  const loaded: { path: string; config: KubeConfigFile }[] = [];
  for (const path of paths) {
    const text = await options.readFile(path).catch((error) => {
      const skip = error instanceof Error && error.name === "NotFound" && !options.explicit;
      if (skip) return undefined;
      const detail = `cannot read the file: ${errorMessage(error)}`;
      throw new KubeConfigError(path, detail, { cause: error });
    });
    if (text !== undefined) loaded.push({ path, config: await parseKubeConfig(text, path) });
  }
  if (loaded.length === 0) {
    throw new KubeConfigError(paths.join(":"), "no such file, and no in-cluster service account");
  }
  return loaded;
}

/** `--kubeconfig` (use only this file) and `--context` (instead of `current-context`). */
export interface LoadClusterConfigOptions {
  kubeconfig?: string | undefined;
  context?: string | undefined;
}

/** Loads the configuration. @throws {KubeConfigError} or `InClusterConfigError` */
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
  const readFile = Deno.readTextFile;
  if (source.type === "in-cluster") return await resolveInClusterConfig({ env, readFile });
  const paths = source.paths.map((path) => path.startsWith("/") ? path : `${Deno.cwd()}/${path}`);
  const files = await readKubeConfigFiles(paths, { explicit: source.explicit, readFile });
  return await resolveKubeConfig(files, { context: options.context, readFile });
}

const ExecCredential = z.looseObject({
  apiVersion: z.enum(EXEC_API_VERSIONS),
  kind: z.literal("ExecCredential"),
  status: z.looseObject({
    token: z.string().nullish(),
    clientCertificateData: z.string().nullish(),
    clientKeyData: z.string().nullish(),
    expirationTimestamp: z.iso.datetime({ offset: true }).nullish(),
  }),
});

/** Runs a program with extra environment variables (inheriting the rest). */
export type CommandRunner = (
  command: string,
  args: string[],
  env: Record<string, string>,
) => Promise<{ code: number; stdout: string; stderr: string }>;

/** What a plugin returned; `expiresAtMs` absent means "until a 401". */
interface ExecCredentialResult {
  credentials: RequestCredentials;
  expiresAtMs?: number;
}

/** The plugin failed or printed something that is not a valid ExecCredential. */
export class ExecCredentialError extends Error {
  /** Builds `Cannot get credentials from exec plugin "<command>": <detail>`. */
  constructor(command: string, detail: string, options?: ErrorOptions) {
    super(`Cannot get credentials from exec plugin "${command}": ${detail}`, options);
    this.name = "ExecCredentialError";
  }
}

type ExecClusterInfo = Pick<ClusterConfig, "server" | "caPem">;

/** Builds the `KUBERNETES_EXEC_INFO` value for a plugin. */
export function buildExecInfo(spec: ExecSpec, cluster: ExecClusterInfo): string {
  const execSpec: Record<string, unknown> = { interactive: false };
  if (spec.provideClusterInfo) {
    const info: Record<string, string> = { server: cluster.server };
    if (cluster.caPem) info["certificate-authority-data"] = btoa(cluster.caPem);
    execSpec.cluster = info;
  }
  return JSON.stringify({ apiVersion: spec.apiVersion, kind: "ExecCredential", spec: execSpec });
}

/** Validates a plugin's stdout. @throws {ExecCredentialError} */
export function parseExecCredential(stdout: string, spec: ExecSpec): ExecCredentialResult {
  const fail = (detail: string): never => {
    throw new ExecCredentialError(spec.command, detail);
  };
  const json = parseJson(stdout);
  if (json === undefined) return fail("its output is not JSON");
  const parsed = ExecCredential.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return fail(`its output is not an ExecCredential: ${issue?.path.join(".")} ${issue?.message}`);
  }
  if (parsed.data.apiVersion !== spec.apiVersion) {
    fail(`it returned apiVersion "${parsed.data.apiVersion}" but "${spec.apiVersion}" was asked`);
  }
  const { token, clientCertificateData, clientKeyData, expirationTimestamp } = parsed.data.status;
  const result: ExecCredentialResult = { credentials: {} };
  if (token) result.credentials.authorization = `Bearer ${token}`;
  if (clientCertificateData || clientKeyData) {
    if (!clientCertificateData || !clientKeyData) {
      return fail("it returned only one of clientCertificateData and clientKeyData");
    }
    result.credentials.clientCertificate = {
      certPem: clientCertificateData,
      keyPem: clientKeyData,
    };
  }
  if (!token && !clientCertificateData) fail("it returned neither a token nor a certificate");
  if (expirationTimestamp) result.expiresAtMs = Date.parse(expirationTimestamp);
  return result;
}

const denoCommandRunner: CommandRunner = async (command, args, env) => {
  const out = await new Deno.Command(command, { args, env, stdin: "null" }).output();
  const decoder = new TextDecoder();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
};

/** Runs an exec plugin and validates what it prints. @throws {ExecCredentialError} */
async function runExecPlugin(
  spec: ExecSpec,
  cluster: ExecClusterInfo,
  run: CommandRunner = denoCommandRunner,
): Promise<ExecCredentialResult> {
  const env: Record<string, string> = {};
  for (const { name, value } of spec.env) env[name] = value;
  env.KUBERNETES_EXEC_INFO = buildExecInfo(spec, cluster);
  const result = await run(spec.command, spec.args, env).catch((error) => {
    const hint = spec.installHint ? ` (${spec.installHint.trim()})` : "";
    const detail = `cannot start it: ${errorMessage(error)}${hint}`;
    throw new ExecCredentialError(spec.command, detail, { cause: error });
  });
  if (result.code !== 0) {
    const stderr = result.stderr.trim().split("\n").slice(-3).join(" | ");
    throw new ExecCredentialError(spec.command, `it exited with ${result.code}: ${stderr}`);
  }
  return parseExecCredential(result.stdout, spec);
}

/** What one request carries: the `Authorization` header value and a client certificate. */
export interface RequestCredentials {
  authorization?: string;
  clientCertificate?: ClientCertificate;
}

/** Supplies credentials; `invalidate()` after a 401 makes the next `get()` fetch fresh ones. */
export interface CredentialSource {
  /** The credentials for the next request. */
  get(): Promise<RequestCredentials>;
  /** Forgets cached tokens (re-reads the token file, re-runs the exec plugin); absent if fixed. */
  invalidate?(): void;
}

/**
 * Builds the credential source for a config: a token file is re-read every 60 s; an exec
 * credential is kept until 10 s before it expires.
 */
export function createCredentialSource(
  config: ClusterConfig,
  options: { readFile?: ReadTextFile; run?: CommandRunner; now?: () => number } = {},
): CredentialSource {
  const base: RequestCredentials = config.clientCertificate
    ? { clientCertificate: config.clientCertificate }
    : {};
  const fixed = (credentials: RequestCredentials) => ({ get: () => Promise.resolve(credentials) });
  const auth = config.auth;
  const now = options.now ?? Date.now;
  switch (auth.type) {
    case "none":
      return fixed(base);
    case "token":
      return fixed({ ...base, authorization: `Bearer ${auth.token}` });
    case "basic": {
      const userPass = new TextEncoder().encode(`${auth.username}:${auth.password}`);
      return fixed({ ...base, authorization: `Basic ${userPass.toBase64()}` });
    }
    case "tokenFile": {
      const readFile = options.readFile ?? Deno.readTextFile;
      let token: string | undefined;
      let readAt = 0;
      return {
        async get() {
          if (token === undefined || now() - readAt >= 60_000) {
            const text = (await readFile(auth.path)).trim();
            // A rotation may briefly leave the file empty; keep the old token then.
            if (text !== "" || token === undefined) token = text;
            readAt = now();
          }
          return { ...base, authorization: `Bearer ${token}` };
        },
        invalidate: () => token = undefined,
      };
    }
    case "exec": {
      // One plugin run serves concurrent callers.
      const withBase = (result: ExecCredentialResult) => ({ ...base, ...result.credentials });
      let cached: ExecCredentialResult | undefined;
      let pending: Promise<ExecCredentialResult> | undefined;
      return {
        get() {
          if (cached && (cached.expiresAtMs === undefined || cached.expiresAtMs - 10_000 > now())) {
            return Promise.resolve(withBase(cached));
          }
          pending ??= runExecPlugin(auth.exec, config, options.run)
            .then((credential) => cached = credential)
            .finally(() => pending = undefined);
          return pending.then(withBase);
        },
        invalidate: () => cached = undefined,
      };
    }
  }
}

/**
 * Per-request credentials: the `Authorization` header (static token, a token file re-read as it
 * rotates, basic auth, or an exec credential plugin) and the client certificate (from the
 * kubeconfig, or returned by the plugin). Exec plugins (`client.authentication.k8s.io/v1` and
 * `v1beta1`) run with `KUBERNETES_EXEC_INFO`; their `ExecCredential` is validated and cached until
 * `expirationTimestamp` minus a margin.
 *
 * @module
 */
import * as z from "zod";
import type { ClientCertificate, ClusterConfig, ExecSpec, ReadTextFile } from "./config.ts";

/** The `status` an exec plugin prints. */
const ExecCredentialStatus = z.looseObject({
  token: z.string().nullish(),
  clientCertificateData: z.string().nullish(),
  clientKeyData: z.string().nullish(),
  expirationTimestamp: z.iso.datetime({ offset: true }).nullish(),
});

/** What an exec plugin prints on stdout. */
const ExecCredential = z.looseObject({
  apiVersion: z.enum([
    "client.authentication.k8s.io/v1",
    "client.authentication.k8s.io/v1beta1",
  ]),
  kind: z.literal("ExecCredential"),
  status: ExecCredentialStatus,
});

/** What a finished plugin process returned. */
export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program with extra environment variables (inheriting the rest). */
export type CommandRunner = (
  command: string,
  args: string[],
  env: Record<string, string>,
) => Promise<CommandResult>;

/** A credential from a plugin. */
export interface ExecCredentialResult {
  /** The bearer token, if the plugin returned one. */
  token?: string;
  /** The client certificate, if the plugin returned one. */
  clientCertificate?: ClientCertificate;
  /** When the credential expires (ms since the epoch); absent means "until a 401". */
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

/** The cluster a plugin may be told about (`provideClusterInfo`). */
export interface ExecClusterInfo {
  server: string;
  /** The CA bundle, if any. */
  caPem?: string;
}

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

/**
 * Validates a plugin's stdout.
 *
 * @throws {ExecCredentialError} for non-JSON output, a wrong apiVersion, or no credential
 */
export function parseExecCredential(stdout: string, spec: ExecSpec): ExecCredentialResult {
  const fail = (detail: string): never => {
    throw new ExecCredentialError(spec.command, detail);
  };
  let json: unknown;
  try {
    json = JSON.parse(stdout);
  } catch {
    return fail("its output is not JSON");
  }
  const parsed = ExecCredential.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return fail(`its output is not an ExecCredential: ${issue?.path.join(".")} ${issue?.message}`);
  }
  if (parsed.data.apiVersion !== spec.apiVersion) {
    fail(`it returned apiVersion "${parsed.data.apiVersion}" but "${spec.apiVersion}" was asked`);
  }
  const status = parsed.data.status;
  const result: ExecCredentialResult = {};
  if (status.token) result.token = status.token;
  if (status.clientCertificateData || status.clientKeyData) {
    if (!status.clientCertificateData || !status.clientKeyData) {
      fail("it returned only one of clientCertificateData and clientKeyData");
    }
    result.clientCertificate = {
      certPem: status.clientCertificateData!,
      keyPem: status.clientKeyData!,
    };
  }
  if (!result.token && !result.clientCertificate) {
    fail("it returned neither a token nor a certificate");
  }
  if (status.expirationTimestamp) result.expiresAtMs = Date.parse(status.expirationTimestamp);
  return result;
}

/** Runs a program with `Deno.Command` (stdin closed, output captured). */
export async function denoCommandRunner(
  command: string,
  args: string[],
  env: Record<string, string>,
): Promise<CommandResult> {
  const out = await new Deno.Command(command, { args, env, stdin: "null" }).output();
  const decoder = new TextDecoder();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

/** Options of `ExecCredentialProvider`. */
export interface ExecCredentialProviderOptions {
  /** The cluster, for `provideClusterInfo`. */
  cluster: ExecClusterInfo;
  /** Runs the plugin; defaults to `denoCommandRunner`. */
  run?: CommandRunner;
  /** The current time in ms; defaults to `Date.now`. */
  now?: () => number;
  /** Refresh this long before `expirationTimestamp`; defaults to 10 s. */
  refreshMarginMs?: number;
}

/** Caches one plugin's credential; concurrent callers share a single plugin run. */
export class ExecCredentialProvider {
  #spec: ExecSpec;
  #options: ExecCredentialProviderOptions;
  #cached: ExecCredentialResult | undefined;
  #pending: Promise<ExecCredentialResult> | undefined;

  /** Creates a provider for one kubeconfig user's exec settings. */
  constructor(spec: ExecSpec, options: ExecCredentialProviderOptions) {
    this.#spec = spec;
    this.#options = options;
  }

  /** Returns the cached credential, running the plugin when there is none or it expires soon. */
  get(): Promise<ExecCredentialResult> {
    const now = (this.#options.now ?? Date.now)();
    const margin = this.#options.refreshMarginMs ?? 10_000;
    const cached = this.#cached;
    if (cached && (cached.expiresAtMs === undefined || cached.expiresAtMs - margin > now)) {
      return Promise.resolve(cached);
    }
    this.#pending ??= this.#run().finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
  }

  /** Drops the cached credential (after a 401) so the next `get()` runs the plugin. */
  invalidate(): void {
    this.#cached = undefined;
  }

  async #run(): Promise<ExecCredentialResult> {
    const spec = this.#spec;
    const env: Record<string, string> = {};
    for (const { name, value } of spec.env) env[name] = value;
    env.KUBERNETES_EXEC_INFO = buildExecInfo(spec, this.#options.cluster);
    let result: CommandResult;
    try {
      result = await (this.#options.run ?? denoCommandRunner)(spec.command, spec.args, env);
    } catch (error) {
      const hint = spec.installHint ? ` (${spec.installHint.trim()})` : "";
      const detail = error instanceof Error ? error.message : String(error);
      throw new ExecCredentialError(spec.command, `cannot start it: ${detail}${hint}`, {
        cause: error,
      });
    }
    if (result.code !== 0) {
      const stderr = result.stderr.trim().split("\n").slice(-3).join(" | ");
      throw new ExecCredentialError(spec.command, `it exited with ${result.code}: ${stderr}`);
    }
    const credential = parseExecCredential(result.stdout, spec);
    this.#cached = credential;
    return credential;
  }
}

/** What one request carries. */
export interface RequestCredentials {
  /** The `Authorization` header value. */
  authorization?: string;
  clientCertificate?: ClientCertificate;
}

/** Supplies credentials; `invalidate()` after a 401 makes the next `get()` fetch fresh ones. */
export interface CredentialSource {
  /** The credentials for the next request. */
  get(): Promise<RequestCredentials>;
  /** Forgets cached tokens (re-reads the token file, re-runs the exec plugin). */
  invalidate(): void;
}

/** Options of `createCredentialSource`. */
export interface CredentialSourceOptions {
  /** Reads the token file; defaults to `Deno.readTextFile`. */
  readFile?: ReadTextFile;
  run?: CommandRunner;
  /** The current time in ms; defaults to `Date.now`. */
  now?: () => number;
  /** How long a token file's content is reused before re-reading; defaults to 60 s. */
  tokenFileRefreshMs?: number;
  /** Refresh exec credentials this long before they expire; defaults to 10 s. */
  execRefreshMarginMs?: number;
}

function tokenFileSource(
  path: string,
  base: RequestCredentials,
  options: CredentialSourceOptions,
): CredentialSource {
  const readFile = options.readFile ?? Deno.readTextFile;
  const now = options.now ?? Date.now;
  const refreshMs = options.tokenFileRefreshMs ?? 60_000;
  let token: string | undefined;
  let readAt = 0;
  return {
    async get() {
      if (token === undefined || now() - readAt >= refreshMs) {
        const text = (await readFile(path)).trim();
        // A rotation may briefly leave the file empty; keep the old token then.
        if (text !== "" || token === undefined) token = text;
        readAt = now();
      }
      return { ...base, authorization: `Bearer ${token}` };
    },
    invalidate() {
      token = undefined;
    },
  };
}

function execSource(
  config: ClusterConfig & { auth: { type: "exec" } },
  base: RequestCredentials,
  options: CredentialSourceOptions,
): CredentialSource {
  const cluster = config.caPem === undefined
    ? { server: config.server }
    : { server: config.server, caPem: config.caPem };
  const provider = new ExecCredentialProvider(config.auth.exec, {
    cluster,
    ...(options.run ? { run: options.run } : {}),
    ...(options.now ? { now: options.now } : {}),
    ...(options.execRefreshMarginMs === undefined
      ? {}
      : { refreshMarginMs: options.execRefreshMarginMs }),
  });
  return {
    async get() {
      const credential = await provider.get();
      const out: RequestCredentials = { ...base };
      if (credential.token) out.authorization = `Bearer ${credential.token}`;
      if (credential.clientCertificate) out.clientCertificate = credential.clientCertificate;
      return out;
    },
    invalidate() {
      provider.invalidate();
    },
  };
}

function fixedSource(credentials: RequestCredentials): CredentialSource {
  return { get: () => Promise.resolve(credentials), invalidate() {} };
}

/** Builds the credential source for a resolved config. */
export function createCredentialSource(
  config: ClusterConfig,
  options: CredentialSourceOptions = {},
): CredentialSource {
  const base: RequestCredentials = config.clientCertificate
    ? { clientCertificate: config.clientCertificate }
    : {};
  const auth = config.auth;
  switch (auth.type) {
    case "none":
      return fixedSource(base);
    case "token":
      return fixedSource({ ...base, authorization: `Bearer ${auth.token}` });
    case "basic": {
      const bytes = new TextEncoder().encode(`${auth.username}:${auth.password}`);
      const encoded = btoa(String.fromCharCode(...bytes));
      return fixedSource({ ...base, authorization: `Basic ${encoded}` });
    }
    case "tokenFile":
      return tokenFileSource(auth.path, base, options);
    case "exec":
      return execSource({ ...config, auth }, base, options);
  }
}

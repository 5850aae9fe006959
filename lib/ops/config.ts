/**
 * `OperatorConfig`: the typed, validated configuration of one operator process, built from the
 * flags and `HOSTPORT_*` environment variables by the pure `parseOperatorConfig`; and the
 * command-line edge around it: what the process learns from its surroundings (in a pod? its
 * namespace, a unique identity), the `--help` text (one aligned row per flag; the README copies
 * it), and turning the parse into a config, help (exit 0) or a one-line error (exit 2, never a
 * stack trace). Startup steps whose failure ends the process do so with a clear message.
 *
 * @module
 */
import type { ListenAddress } from "./flags.ts";
import {
  defaultText,
  envVarName,
  FLAGS,
  type FlagSpec,
  FlagValueError,
  type ParsedFlags,
  readFlags,
} from "./flags.ts";
import { isInCluster, SERVICE_ACCOUNT_DIR } from "../kube/config.ts";
import type { Logger } from "./contracts.ts";
import type { LogFormat, LogLevel } from "./logger.ts";

/** Leader election settings (off: the controllers always run); the Lease and timings in ms. */
export interface LeaderElectionConfig {
  enabled: boolean;
  id: string;
  namespace: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

/** Where the admission server's certificate comes from. */
export type WebhookTlsConfig =
  | { type: "directory"; certDir: string }
  | {
    type: "self-signed";
    serviceName: string;
    serviceNamespace: string;
    /** The webhook configurations whose `caBundle` is kept current. */
    mutatingWebhookConfigurations: string[];
    validatingWebhookConfigurations: string[];
    /** IP addresses and DNS names the certificate covers besides the Service names. */
    ipAddresses: string[];
    dnsNames?: string[];
  };

/**
 * `--register-webhooks`: the `https://host:port` the API server dials, and the configurations
 * (`<service>-crd`, `<service>-pod`) this process writes at start and deletes on exit.
 */
export interface WebhookRegistration {
  baseUrl: string;
  crdConfiguration: string;
  podConfiguration: string;
}

/**
 * Everything one operator process is configured with (durations in ms). `undefined` keeps the
 * default of its user: `metricsAddr` disabled, the controllers' `workers` and 65 s deletion
 * window, the webhook's 6 s wait for a per-pod claim's port.
 */
export interface OperatorConfig {
  kubeconfig: string | undefined;
  context: string | undefined;
  namespace: string;
  leaderElection: LeaderElectionConfig;
  healthAddr: ListenAddress;
  metricsAddr: ListenAddress | undefined;
  /** The HTTPS admission server; `register` is set by `--register-webhooks`. */
  webhook: { addr: ListenAddress; tls: WebhookTlsConfig; register?: WebhookRegistration };
  workers: number | undefined;
  /**
   * The deletion window: a claim's finalizer (and the port of a HostPort whose claim vanished
   * without us) waits this long after the deletion was seen. It must exceed the API server's
   * `--request-timeout` (60 s by default), which bounds every pod creation in flight.
   */
  claimDeletionGraceMs: number | undefined;
  claimTemplateWaitMs: number | undefined;
  shutdownTimeoutMs: number;
  log: { level: LogLevel; format: LogFormat };
}

/** Whether the process runs in a pod, and the pod's namespace (from the service account). */
export interface ConfigContext {
  inCluster: boolean;
  podNamespace?: string | undefined;
}

/** The default operator namespace out of cluster. */
export const DEFAULT_NAMESPACE = "hostport-allocator";

function checkTimings(le: LeaderElectionConfig): void {
  // client-go's rules: the lease outlives the renew deadline, which outlives a jittered retry.
  if (le.renewDeadlineMs >= le.leaseDurationMs) {
    throw new FlagValueError("--renew-deadline must be shorter than --lease-duration");
  }
  if (le.renewDeadlineMs <= le.retryPeriodMs * 1.2) {
    throw new FlagValueError("--renew-deadline must be longer than 1.2 times --retry-period");
  }
}

const WILDCARD_HOSTS = new Set(["0.0.0.0", "::"]);

type SelfSignedTls = Extract<WebhookTlsConfig, { type: "self-signed" }>;

function selfSigned(p: ParsedFlags, namespace: string, addr: ListenAddress): SelfSignedTls {
  const serviceName = p["webhook-service-name"];
  // A listener on one IP (out of cluster, called by URL) needs that IP in the certificate.
  const ip = isIp(addr.hostname) && !WILDCARD_HOSTS.has(addr.hostname);
  return {
    type: "self-signed",
    serviceName,
    serviceNamespace: p["webhook-service-namespace"] ?? namespace,
    mutatingWebhookConfigurations: p["mutating-webhook-configurations"] ??
      [`${serviceName}-crd`, `${serviceName}-pod`],
    validatingWebhookConfigurations: p["validating-webhook-configurations"] ??
      [`${serviceName}-crd`],
    ipAddresses: ip ? [addr.hostname] : [],
  };
}

function isIp(host: string): boolean {
  return /^[\d.]+$|:/.test(host);
}

/**
 * `--register-webhooks`: a self-signed certificate that also names the URL's host, and the
 * configurations (named after the Service, like the injection defaults) it registers.
 */
function registration(
  p: ParsedFlags,
  namespace: string,
  addr: ListenAddress,
): { tls: WebhookTlsConfig; register: WebhookRegistration } | undefined {
  const baseUrl = p["register-webhooks"];
  if (baseUrl === undefined) return undefined;
  const excluded = [
    "webhook-cert-dir",
    "mutating-webhook-configurations",
    "validating-webhook-configurations",
  ] as const;
  for (const flag of excluded) {
    if (p[flag] !== undefined) throw new FlagValueError(`--register-webhooks excludes --${flag}`);
  }
  if (p["webhook-self-signed"] === false) {
    throw new FlagValueError("--register-webhooks needs --webhook-self-signed");
  }
  const tls = selfSigned(p, namespace, addr);
  const hostname = new URL(baseUrl).hostname;
  const host = hostname.startsWith("[") ? hostname.slice(1, -1) : hostname; // [::1] is ::1
  const names = isIp(host)
    ? { ipAddresses: [...new Set([...tls.ipAddresses, host])] }
    : { dnsNames: [host] };
  return {
    tls: { ...tls, ...names },
    register: {
      baseUrl,
      crdConfiguration: `${tls.serviceName}-crd`,
      podConfiguration: `${tls.serviceName}-pod`,
    },
  };
}

function build(p: ParsedFlags, context: ConfigContext): OperatorConfig {
  const namespace = p.namespace ?? context.podNamespace ?? DEFAULT_NAMESPACE;
  const leaderElection: LeaderElectionConfig = {
    enabled: p["leader-elect"] ?? context.inCluster,
    id: p["leader-election-id"],
    namespace,
    leaseDurationMs: p["lease-duration"],
    renewDeadlineMs: p["renew-deadline"],
    retryPeriodMs: p["retry-period"],
  };
  checkTimings(leaderElection);
  const metrics = p["metrics-addr"];
  const webhookAddr = p["webhook-addr"];
  const registered = registration(p, namespace, webhookAddr);
  const tls: WebhookTlsConfig = registered?.tls ??
    (p["webhook-self-signed"] ? selfSigned(p, namespace, webhookAddr) : {
      type: "directory",
      certDir: p["webhook-cert-dir"] ?? "/tmp/k8s-webhook-server/serving-certs",
    });
  return {
    kubeconfig: p.kubeconfig,
    context: p.context,
    namespace,
    leaderElection,
    healthAddr: p["health-addr"],
    metricsAddr: metrics === "0" ? undefined : metrics,
    webhook: {
      addr: webhookAddr,
      tls,
      ...registered === undefined ? {} : { register: registered.register },
    },
    workers: p.workers,
    claimDeletionGraceMs: p["claim-deletion-grace"],
    claimTemplateWaitMs: p["claim-template-wait"],
    shutdownTimeoutMs: p["graceful-shutdown-timeout"],
    log: { level: p["log-level"], format: p["log-format"] },
  };
}

/**
 * Builds the configuration from the arguments and environment. Flags beat `HOSTPORT_*`
 * variables, which beat the defaults; every value is validated, and the first bad one is
 * reported as a message naming the flag or variable.
 */
export function parseOperatorConfig(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  context: ConfigContext,
): { kind: "config"; config: OperatorConfig } | { kind: "help" } | {
  kind: "error";
  message: string;
} {
  const read = readFlags(args, env);
  if (read.kind !== "flags") return read;
  try {
    return { kind: "config", config: build(read.flags, context) };
  } catch (error) {
    if (error instanceof FlagValueError) return { kind: "error", message: error.message };
    throw error;
  }
}

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

function row(cells: readonly string[], widths: readonly number[]): string {
  return cells.map((cell, i) => i === cells.length - 1 ? cell : cell.padEnd(widths[i]!)).join("  ")
    .trimEnd();
}

/** Renders the help text (ends with a newline). */
export function renderHelp(): string {
  const header = ["FLAG", "ENVIRONMENT", "DEFAULT", "DESCRIPTION"];
  const rows = (FLAGS as readonly FlagSpec[]).map((spec) => {
    const names = [spec.name, ...spec.aliases ?? []].map((n) => `--${n}`).join(", ");
    const value = spec.kind === "boolean" ? "" : " VALUE";
    return [`${names}${value}`, envVarName(spec.name), defaultText(spec), spec.help];
  });
  const widths = header.map((_, i) => Math.max(...[header, ...rows].map((r) => r[i]!.length)));
  const lines = [
    "hostport-allocator: hands out host ports to HostPortClaims and admits the pods that use them",
    "",
    "Usage: deno run --allow-all mod.ts [FLAGS]",
    "",
    row(header, widths),
    ...rows.map((r) => row(r, widths)),
    "",
    "Booleans accept --flag, --flag=true and --flag=false. Durations look like 500ms, 15s, 1m30s.",
    "A flag beats its environment variable. --help prints this text.",
  ];
  return `${lines.join("\n")}\n`;
}

/** The exit code for bad flags, as Go's `flag` package uses. */
export const EXIT_USAGE = 2;

/** Parses the flags; prints help or an error and exits when there is no config. */
export function configOrExit(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  context: ConfigContext,
): OperatorConfig {
  const result = parseOperatorConfig(args, env, context);
  if (result.kind === "config") return result.config;
  if (result.kind === "help") {
    console.log(renderHelp().trimEnd());
    Deno.exit(0);
  }
  console.error(`hostport-allocator: ${result.message}\nRun with --help to list the flags.`);
  Deno.exit(EXIT_USAGE);
}

/** Runs a startup step; on failure logs `Cannot <what>` with the error and exits with 1. */
export async function orExit<T>(
  logger: Logger,
  what: string,
  step: () => T | Promise<T>,
): Promise<T> {
  try {
    return await step();
  } catch (error) {
    logger.error(`Cannot ${what}`, { error });
    Deno.exit(1);
  }
}

/**
 * `OperatorConfig`: the typed, validated configuration of one operator process, built from
 * the flags and `HOSTPORT_*` environment variables by the pure `parseOperatorConfig`.
 *
 * @module
 */
import type { ListenAddress } from "./flags.ts";
import { FlagValueError, type ParsedFlags, readFlags } from "./flags.ts";
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

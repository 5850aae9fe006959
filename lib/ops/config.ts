/**
 * `OperatorConfig`, built from the flags by the pure `parseOperatorConfig`, and the command-line
 * edge around it: the surroundings (in a pod, its namespace, an identity), `--help`, and exiting
 * with help (0) or a one-line error (2, never a stack trace).
 *
 * @module
 */
import {
  DEFAULT_CERT_DIR,
  envVarName,
  type FlagReadResult,
  FLAGS,
  type FlagSpec,
  type ListenAddress,
  type ParsedFlags,
  readFlags,
} from "./flags.ts";
import { isInCluster, SERVICE_ACCOUNT_DIR } from "../kube/config.ts";
import type { Logger } from "./contracts.ts";
import type { LeaderElectorOptions } from "./leader_election.ts";
import type { LogFormat, LogLevel } from "./logger.ts";
import { type ServiceNames, serviceNames } from "../../webhook/configurations.ts";

/** Leader election settings (off: the controllers always run); the Lease and timings in ms. */
export type LeaderElectionConfig =
  & { enabled: boolean }
  & Pick<
    LeaderElectorOptions,
    "name" | "namespace" | "leaseDurationMs" | "renewDeadlineMs" | "retryPeriodMs"
  >;

/** Where the admission server's certificate comes from. */
export type WebhookTlsConfig =
  | { type: "directory"; certDir: string }
  | {
    type: "self-signed";
    /** The Service's, where the Secret is kept too. */
    serviceName: string;
    namespace: string;
    /** The webhook configurations whose `caBundle` is kept current. */
    mutatingWebhookConfigurations: string[];
    validatingWebhookConfigurations: string[];
    /** What the certificate covers besides the Service names. */
    ipAddresses: string[];
    dnsNames?: string[];
  };

/** One operator process's configuration (durations in ms; `undefined`: its user's default). */
export interface OperatorConfig {
  kubeconfig: string | undefined;
  context: string | undefined;
  namespace: string;
  leaderElection: LeaderElectionConfig;
  healthAddr: ListenAddress;
  metricsAddr: ListenAddress | undefined;
  /** The HTTPS admission server. */
  webhook: {
    addr: ListenAddress;
    tls: WebhookTlsConfig;
    /** `--register-webhooks`: the URL the API server dials and the configurations written. */
    register?: { baseUrl: string; crdName: string; podName: string };
  };
  workers: number | undefined;
  /** The deletion window; above kube-apiserver's `--request-timeout`, which bounds pod creation. */
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

/** The first combination of flags that cannot work, as a message, if any. */
function conflict(p: ParsedFlags): string | undefined {
  // client-go's rules: the lease outlives the renew deadline, which outlives a jittered retry.
  if (p["renew-deadline"] >= p["lease-duration"]) {
    return "--renew-deadline must be shorter than --lease-duration";
  }
  if (p["renew-deadline"] <= p["retry-period"] * 1.2) {
    return "--renew-deadline must be longer than 1.2 times --retry-period";
  }
  if (p["register-webhooks"] === undefined) return undefined;
  const excluded = [
    "webhook-cert-dir",
    "mutating-webhook-configurations",
    "validating-webhook-configurations",
  ] as const;
  const given = excluded.find((flag) => p[flag] !== undefined);
  if (given) return `--register-webhooks excludes --${given}`;
  if (p["webhook-self-signed"] === false) return "--register-webhooks needs --webhook-self-signed";
  return undefined;
}

/** The self-signed certificate; with `--register-webhooks` it also names the URL's host. */
function selfSigned(
  p: ParsedFlags,
  addr: ListenAddress,
  service: WebhookService,
): WebhookTlsConfig {
  const { crdWebhooks, podWebhooks } = service.names;
  // A listener on one IP (out of cluster, called by URL) needs that IP in the certificate.
  const listener = ["0.0.0.0", "::"].includes(addr.hostname) ? [] : [addr.hostname];
  const url = p["register-webhooks"];
  const host = url && new URL(url).hostname.replace(/^\[(.*)\]$/, "$1"); // [::1] is ::1
  const hosts = host ? [...listener, host] : listener;
  return {
    type: "self-signed",
    serviceName: p["webhook-service-name"],
    namespace: service.namespace,
    mutatingWebhookConfigurations: p["mutating-webhook-configurations"] ??
      [crdWebhooks, podWebhooks],
    validatingWebhookConfigurations: p["validating-webhook-configurations"] ?? [crdWebhooks],
    ipAddresses: [...new Set(hosts.filter(isIp))],
    ...host && !isIp(host) ? { dnsNames: [host] } : {},
  };
}

/** The webhook Service's namespace and the names derived from it. */
interface WebhookService {
  namespace: string;
  names: ServiceNames;
}

function isIp(host: string): boolean {
  return /^[\d.]+$|:/.test(host);
}

function build(p: ParsedFlags, context: ConfigContext): OperatorConfig {
  const namespace = p.namespace ?? context.podNamespace ?? DEFAULT_NAMESPACE;
  const leaderElection: LeaderElectionConfig = {
    enabled: p["leader-elect"] ?? context.inCluster,
    name: p["leader-election-id"],
    namespace,
    leaseDurationMs: p["lease-duration"],
    renewDeadlineMs: p["renew-deadline"],
    retryPeriodMs: p["retry-period"],
  };
  const metrics = p["metrics-addr"];
  const addr = p["webhook-addr"];
  const baseUrl = p["register-webhooks"]; // implies --webhook-self-signed
  const serviceNamespace = p["webhook-service-namespace"] ?? namespace;
  const names = serviceNames(p["webhook-service-name"], serviceNamespace);
  const tls: WebhookTlsConfig = p["webhook-self-signed"] || baseUrl !== undefined
    ? selfSigned(p, addr, { namespace: serviceNamespace, names })
    : { type: "directory", certDir: p["webhook-cert-dir"] ?? DEFAULT_CERT_DIR };
  const { crdWebhooks: crdName, podWebhooks: podName } = names;
  return {
    kubeconfig: p.kubeconfig,
    context: p.context,
    namespace,
    leaderElection,
    healthAddr: p["health-addr"],
    metricsAddr: metrics === "0" ? undefined : metrics,
    webhook: {
      addr,
      tls,
      ...baseUrl !== undefined && { register: { baseUrl, crdName, podName } },
    },
    workers: p.workers,
    claimDeletionGraceMs: p["claim-deletion-grace"],
    claimTemplateWaitMs: p["claim-template-wait"],
    shutdownTimeoutMs: p["graceful-shutdown-timeout"],
    log: { level: p["log-level"], format: p["log-format"] },
  };
}

/** Builds the configuration, or the first bad value as a message naming its flag or variable. */
export function parseOperatorConfig(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  context: ConfigContext,
): { kind: "config"; config: OperatorConfig } | Exclude<FlagReadResult, { kind: "flags" }> {
  const read = readFlags(args, env);
  if (read.kind !== "flags") return read;
  const message = conflict(read.flags);
  return message
    ? { kind: "error", message }
    : { kind: "config", config: build(read.flags, context) };
}

/** Detects the in-cluster environment (no namespace file: out of cluster or no service account). */
export async function detectEnvironment(): Promise<ConfigContext> {
  const podNamespace = await Deno.readTextFile(`${SERVICE_ACCOUNT_DIR}/namespace`)
    .then((text) => text.trim() || undefined, () => undefined);
  return { inCluster: isInCluster((name) => Deno.env.get(name)), podNamespace };
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
    const shown = spec.default ?? spec.defaultText ?? "";
    return [`${names}${value}`, envVarName(spec.name), shown, spec.help];
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
  Deno.exit(2); // bad flags, as Go's `flag` package exits
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

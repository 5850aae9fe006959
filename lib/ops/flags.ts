/**
 * The operator's command-line flags: one table (names, aliases, defaults, help) and a reader
 * that collects raw values from the arguments and from `HOSTPORT_<NAME>` environment
 * variables. Typing and validation happen in `config.ts`.
 *
 * @module
 */

/** One flag of the operator. */
export interface FlagSpec {
  /** The name without dashes, for example `log-level`. */
  readonly name: string;
  /** Other accepted names (the Go original's spellings). */
  readonly aliases?: readonly string[];
  /** Booleans may be given bare (`--leader-elect`); others need a value. */
  readonly kind: "string" | "boolean";
  /** The default, as shown by `--help`. */
  readonly defaultText: string;
  /** One line of help. */
  readonly help: string;
}

/** Every flag, in the order `--help` lists them. */
export const FLAGS: readonly FlagSpec[] = [
  {
    name: "kubeconfig",
    kind: "string",
    defaultText: "$KUBECONFIG, in-cluster, ~/.kube/config",
    help: "Path of the kubeconfig file (out of cluster)",
  },
  {
    name: "context",
    kind: "string",
    defaultText: "current-context",
    help: "Kubeconfig context to use",
  },
  {
    name: "namespace",
    kind: "string",
    defaultText: "pod namespace, else hostport-allocator",
    help: "Operator namespace: holds the leader-election Lease and the allocation record",
  },
  {
    name: "leader-elect",
    aliases: ["enable-leader-election"],
    kind: "boolean",
    defaultText: "true in cluster, else false",
    help: "Run the controllers only while holding the Lease",
  },
  {
    name: "leader-election-id",
    kind: "string",
    defaultText: "f10832af.rmb938.com",
    help: "Name of the leader-election Lease",
  },
  {
    name: "lease-duration",
    kind: "string",
    defaultText: "15s",
    help: "How long a Lease stays valid without renewal",
  },
  {
    name: "renew-deadline",
    kind: "string",
    defaultText: "10s",
    help: "How long the leader retries renewing before it gives up",
  },
  {
    name: "retry-period",
    kind: "string",
    defaultText: "2s",
    help: "Interval between acquire and renew attempts",
  },
  {
    name: "health-addr",
    kind: "string",
    defaultText: ":8081",
    help: "Address of /healthz and /readyz",
  },
  {
    name: "metrics-addr",
    kind: "string",
    defaultText: ":8080",
    help: "Address of /metrics; 0 disables it",
  },
  {
    name: "webhook-addr",
    kind: "string",
    defaultText: ":9443",
    help: "Address of the HTTPS admission webhook server",
  },
  {
    name: "webhook-cert-dir",
    kind: "string",
    defaultText: "/tmp/k8s-webhook-server/serving-certs",
    help: "Directory holding tls.crt and tls.key (reloaded on change)",
  },
  {
    name: "webhook-self-signed",
    kind: "boolean",
    defaultText: "false",
    help:
      "Issue our own CA and serving certificate (kept in Secret <service>-tls, CA injected into the webhook configurations) instead of reading --webhook-cert-dir",
  },
  {
    name: "register-webhooks",
    kind: "string",
    defaultText: "off",
    help:
      "Out of cluster: https://host:port the API server dials; at start, registers the three webhook configurations by that URL with the self-signed CA (implies --webhook-self-signed), deleted on exit",
  },
  {
    name: "webhook-service-name",
    kind: "string",
    defaultText: "hostport-allocator",
    help: "Webhook Service name covered by the self-signed certificate",
  },
  {
    name: "webhook-service-namespace",
    kind: "string",
    defaultText: "--namespace",
    help: "Service namespace put in the self-signed certificate",
  },
  {
    name: "mutating-webhook-configurations",
    kind: "string",
    defaultText: "<service>-crd,<service>-pod",
    help: "MutatingWebhookConfigurations that get the self-signed CA (comma-separated)",
  },
  {
    name: "validating-webhook-configurations",
    kind: "string",
    defaultText: "<service>-crd",
    help: "ValidatingWebhookConfigurations that get the self-signed CA (comma-separated)",
  },
  {
    name: "workers",
    kind: "string",
    defaultText: "1 classes, 16 claims, 16 HostPorts",
    help: "Concurrent reconciles per controller (one value for all three)",
  },
  {
    name: "claim-deletion-grace",
    kind: "string",
    defaultText: "65s",
    help:
      "Deletion window: a claim (or the port of a HostPort whose claim vanished) is released no sooner than this after its deletion was seen, so pods admitted before it are stored first; keep it above kube-apiserver's --request-timeout",
  },
  {
    name: "claim-template-wait",
    kind: "string",
    defaultText: "6s",
    help:
      "How long the pod webhook waits for a pod's new claim from a HostPortClaimTemplate to get a port before refusing the pod (the pod's controller retries); keep it well under the pod webhook's 10s timeout",
  },
  {
    name: "graceful-shutdown-timeout",
    kind: "string",
    defaultText: "30s",
    help: "Bound on finishing in-flight work after SIGTERM",
  },
  { name: "log-level", kind: "string", defaultText: "info", help: "debug, info, warn or error" },
  {
    name: "log-format",
    kind: "string",
    defaultText: "json",
    help: "json (one object per line) or text",
  },
];

/** The environment variable of a flag: `HOSTPORT_` and the name in upper snake case. */
export function envVarName(flagName: string): string {
  return `HOSTPORT_${flagName.toUpperCase().replaceAll("-", "_")}`;
}

/** A raw flag value and where it came from (`--log-level` or `HOSTPORT_LOG_LEVEL`). */
export interface RawValue {
  /** The text. */
  value: string;
  /** The flag or variable it was read from, for error messages. */
  source: string;
}

/** The outcome of reading the arguments. */
export type FlagReadResult =
  | { kind: "values"; values: Map<string, RawValue> }
  | { kind: "help" }
  | { kind: "error"; message: string };

function findSpec(name: string): FlagSpec | undefined {
  return FLAGS.find((spec) => spec.name === name || (spec.aliases ?? []).includes(name));
}

function readEnv(env: Readonly<Record<string, string | undefined>>): Map<string, RawValue> {
  const values = new Map<string, RawValue>();
  for (const spec of FLAGS) {
    for (const name of [spec.name, ...spec.aliases ?? []]) {
      const variable = envVarName(name);
      const value = env[variable];
      if (value !== undefined && value !== "" && !values.has(spec.name)) {
        values.set(spec.name, { value, source: variable });
      }
    }
  }
  return values;
}

/**
 * Reads `args` (`--name=value`, `--name value`, bare `--flag` for booleans; one or two
 * dashes, as Go's `flag` package) over the `HOSTPORT_*` variables of `env`. Flags win over
 * variables; a later flag wins over an earlier one. A bare `--` is skipped.
 */
export function readFlags(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): FlagReadResult {
  const values = readEnv(env);
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--") continue; // `deno task start -- --flag` passes the separator through
    const found = /^--?([A-Za-z][-A-Za-z0-9]*)(?:=([\s\S]*))?$/.exec(arg);
    if (!found) return { kind: "error", message: `unexpected argument "${arg}"` };
    const [, name, inline] = found as unknown as [string, string, string | undefined];
    if (name === "help" || name === "h") return { kind: "help" };
    const spec = findSpec(name);
    if (!spec) return { kind: "error", message: `unknown flag --${name}` };
    let value = inline;
    if (value === undefined && spec.kind === "boolean") value = "true";
    if (value === undefined) {
      if (i + 1 >= args.length) return { kind: "error", message: `flag --${name} needs a value` };
      value = args[++i]!;
    }
    values.set(spec.name, { value, source: `--${name}` });
  }
  return { kind: "values", values };
}

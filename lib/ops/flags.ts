/**
 * The operator's flags: one table from which reading (`node:util` `parseArgs`, then the
 * `HOSTPORT_<NAME>` variables), validation, defaults and `--help` all come.
 *
 * @module
 */
import { parseArgs } from "node:util";
import * as z from "zod";
import { LEADER_ELECTION_LEASE_NAME } from "../api/constants.ts";

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/** Parses a Go-style duration (`15s`, `1m30s`, `1.5s`, `250ms`, `0`) into ms; else undefined. */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (!/^(0|(\d+(\.\d+)?(ms|h|m|s))+)$/.test(trimmed)) return undefined;
  const parts = trimmed.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g);
  const total = parts.reduce((sum, [, n, unit]) => sum + Number(n) * DURATION_UNITS_MS[unit!]!, 0);
  return Math.round(total);
}

/** Where a server listens (`0.0.0.0`: all interfaces; port 0 picks a free one). */
export interface ListenAddress {
  hostname: string;
  port: number;
}

/** Parses `host:port`, `:port` (all interfaces) or `[ipv6]:port`; else undefined. */
export function parseListenAddress(text: string): ListenAddress | undefined {
  const found = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s[\]]*)):(\d{1,5})$/.exec(text.trim());
  const port = Number(found?.[3]);
  if (!found || port > 65535) return undefined;
  const hostname = found[1] ?? (found[2] === "" ? "0.0.0.0" : found[2]!);
  return { hostname, port };
}

/** Formats an address as `host:port` (`[::1]:8080` for IPv6). */
export function formatListenAddress(address: ListenAddress): string {
  const host = address.hostname.includes(":") ? `[${address.hostname}]` : address.hostname;
  return `${host}:${address.port}`;
}

/** A flag value that `parse` reads, refused with `error` when it returns undefined. */
function parsed<T>(parse: (text: string) => T | undefined, error: string) {
  return z.string().transform((text, ctx): T => {
    const value = parse(text);
    if (value === undefined) ctx.addIssue({ code: "custom", message: error });
    return value ?? z.NEVER;
  });
}

const name = z.string().trim().regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, {
  error: "expected a lower-case DNS name such as hostport-allocator",
}).max(253);
const nameList = z.string().transform((text) => text.split(",").map((item) => item.trim()))
  .pipe(z.array(name.refine((item) => item !== "")));
// Go's `strconv.ParseBool` words, in any case, plus yes/no/on/off.
const boolean = z.string().trim().pipe(z.stringbool({
  truthy: ["true", "1", "t", "yes", "y", "on"],
  falsy: ["false", "0", "f", "no", "n", "off"],
  error: "expected true or false",
}));
const duration = parsed(parseDuration, "expected a duration such as 15s, 500ms or 1m30s");
const positiveDuration = duration.refine((ms) => ms > 0, { error: "expected a duration above 0" });
const address = parsed(
  parseListenAddress,
  "expected host:port or :port with a port from 0 to 65535",
);
/** `https://host[:port]` with no path, query or credentials; becomes its origin. */
const webhookUrl = parsed((text) => {
  const url = URL.parse(text.trim());
  const bare = url !== null && url.protocol === "https:" && url.username === "" &&
    url.password === "" && (url.pathname === "" || url.pathname === "/") && url.search === "" &&
    url.hash === "";
  return bare ? url.origin : undefined;
}, "expected https://host:port, without a path");

/** Where the admission server reads its certificate unless told otherwise. */
export const DEFAULT_CERT_DIR = "/tmp/k8s-webhook-server/serving-certs";

/** One flag: `aliases` are the Go original's spellings; only a `boolean` may be given bare. */
export interface FlagSpec {
  readonly name: string;
  readonly aliases?: readonly string[];
  readonly kind?: "boolean";
  readonly schema: z.ZodType;
  /** The raw default, parsed by `schema` when neither flag nor variable gives a value. */
  readonly default?: string;
  /** What `--help` shows when the default depends on the surroundings (no `default`). */
  readonly defaultText?: string;
  readonly help: string;
}

/** Every flag, in the order `--help` lists them. */
export const FLAGS = [
  {
    name: "kubeconfig",
    schema: z.string().min(1),
    defaultText: "$KUBECONFIG, in-cluster, ~/.kube/config",
    help: "Path of the kubeconfig file (out of cluster)",
  },
  {
    name: "context",
    schema: z.string().min(1),
    defaultText: "current-context",
    help: "Kubeconfig context to use",
  },
  {
    name: "namespace",
    schema: name,
    defaultText: "pod namespace, else hostport-allocator",
    help: "Operator namespace: holds the leader-election Lease and the allocation record",
  },
  {
    name: "leader-elect",
    aliases: ["enable-leader-election"],
    kind: "boolean",
    schema: boolean,
    defaultText: "true in cluster, else false",
    help: "Run the controllers only while holding the Lease",
  },
  {
    name: "leader-election-id",
    schema: name,
    default: LEADER_ELECTION_LEASE_NAME,
    help: "Name of the leader-election Lease",
  },
  {
    name: "lease-duration",
    schema: positiveDuration,
    default: "15s",
    help: "How long a Lease stays valid without renewal",
  },
  {
    name: "renew-deadline",
    schema: positiveDuration,
    default: "10s",
    help: "How long the leader retries renewing before it gives up",
  },
  {
    name: "retry-period",
    schema: positiveDuration,
    default: "2s",
    help: "Interval between acquire and renew attempts",
  },
  {
    name: "health-addr",
    schema: address,
    default: ":8081",
    help: "Address of /healthz and /readyz",
  },
  {
    name: "metrics-addr",
    schema: z.union([z.literal("0"), address], {
      error: "expected host:port, :port, or 0 to disable metrics",
    }),
    default: ":8080",
    help: "Address of /metrics; 0 disables it",
  },
  {
    name: "webhook-addr",
    schema: address,
    default: ":9443",
    help: "Address of the HTTPS admission webhook server",
  },
  {
    name: "webhook-cert-dir",
    schema: z.string().min(1),
    defaultText: DEFAULT_CERT_DIR,
    help: "Directory holding tls.crt and tls.key (reloaded on change)",
  },
  {
    name: "webhook-self-signed",
    kind: "boolean",
    schema: boolean,
    defaultText: "false",
    help:
      "Issue our own CA and serving certificate (kept in Secret <service>-tls, CA injected into the webhook configurations) instead of reading --webhook-cert-dir",
  },
  {
    name: "register-webhooks",
    schema: webhookUrl,
    defaultText: "off",
    help:
      "Out of cluster: https://host:port the API server dials; at start, registers the three webhook configurations by that URL with the self-signed CA (implies --webhook-self-signed), deleted on exit",
  },
  {
    name: "webhook-service-name",
    schema: name,
    default: "hostport-allocator",
    help: "Webhook Service name covered by the self-signed certificate",
  },
  {
    name: "webhook-service-namespace",
    schema: name,
    defaultText: "--namespace",
    help: "Service namespace put in the self-signed certificate",
  },
  {
    name: "mutating-webhook-configurations",
    schema: nameList,
    defaultText: "<service>-crd,<service>-pod",
    help: "MutatingWebhookConfigurations that get the self-signed CA (comma-separated)",
  },
  {
    name: "validating-webhook-configurations",
    schema: nameList,
    defaultText: "<service>-crd",
    help: "ValidatingWebhookConfigurations that get the self-signed CA (comma-separated)",
  },
  {
    name: "workers",
    schema: z.coerce.number({ error: "expected a whole number from 1 to 64" }).int().min(1).max(64),
    defaultText: "1 classes, 16 claims, 16 HostPorts",
    help: "Concurrent reconciles per controller (one value for all three)",
  },
  {
    name: "claim-deletion-grace",
    schema: positiveDuration,
    defaultText: "65s",
    help:
      "Deletion window: a claim (or the port of a HostPort whose claim vanished) is released no sooner than this after its deletion was seen, so pods admitted before it are stored first; keep it above kube-apiserver's --request-timeout",
  },
  {
    name: "claim-template-wait",
    schema: positiveDuration,
    defaultText: "6s",
    help:
      "How long the pod webhook waits for a pod's new claim from a HostPortClaimTemplate to get a port before refusing the pod (the pod's controller retries); keep it well under the pod webhook's 10s timeout",
  },
  {
    name: "graceful-shutdown-timeout",
    schema: positiveDuration,
    default: "30s",
    help: "Bound on finishing in-flight work after SIGTERM",
  },
  {
    name: "log-level",
    schema: z.enum(["debug", "info", "warn", "error"], {
      error: "expected one of debug, info, warn, error",
    }),
    default: "info",
    help: "debug, info, warn or error",
  },
  {
    name: "log-format",
    schema: z.enum(["json", "text"], { error: "expected json or text" }),
    default: "json",
    help: "json (one object per line) or text",
  },
] as const satisfies readonly FlagSpec[];

type Flag = typeof FLAGS[number];
type Value<F extends Flag> = z.output<F["schema"]>;

/** The typed value of every flag: always there when the table has a default, else if given. */
export type ParsedFlags =
  & { [F in Flag as F extends { default: string } ? F["name"] : never]: Value<F> }
  & { [F in Flag as F extends { default: string } ? never : F["name"]]?: Value<F> };

/** The environment variable of a flag: `HOSTPORT_` and the name in upper snake case. */
export function envVarName(flagName: string): string {
  return `HOSTPORT_${flagName.toUpperCase().replaceAll("-", "_")}`;
}

/** The outcome of reading the arguments. */
export type FlagReadResult =
  | { kind: "flags"; flags: ParsedFlags }
  | { kind: "help" }
  | { kind: "error"; message: string };

const BY_NAME = new Map<string, FlagSpec>(
  FLAGS.flatMap((spec: FlagSpec) => [spec.name, ...spec.aliases ?? []].map((n) => [n, spec])),
);

const PARSE_OPTIONS = Object.fromEntries([
  ...[...BY_NAME].map(([n, spec]) => [n, { type: spec.kind ?? "string" }] as const),
  ["help", { type: "boolean", short: "h" }] as const,
]);

/**
 * Bridges what `parseArgs` lacks from Go's `flag` package: single-dash long flags
 * (`-namespace x`), and a bare `--` anywhere is skipped (`deno task start -- --flag`).
 */
function goStyle(args: readonly string[]): string[] {
  return args.filter((arg) => arg !== "--").map((arg) =>
    /^-[A-Za-z][-A-Za-z0-9]+(=|$)/.test(arg) ? `-${arg}` : arg
  );
}

/**
 * Reads `args` (one or two dashes, as Go's `flag` package) over the `HOSTPORT_*` variables of
 * `env` over the defaults, and validates each value; a later flag wins over an earlier one.
 */
export function readFlags(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): FlagReadResult {
  // Not strict: booleans keep `--flag=false`, and we word the errors ourselves.
  const { tokens } = parseArgs({
    args: goStyle(args),
    options: PARSE_OPTIONS,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  // The raw text of each flag and where it came from (`--log-level` or `HOSTPORT_LOG_LEVEL`).
  const raw = new Map<FlagSpec, { value: string; source: string }>();
  for (const [flagName, spec] of BY_NAME) {
    const variable = envVarName(flagName);
    const value = env[variable];
    if (value && !raw.has(spec)) raw.set(spec, { value, source: variable });
  }
  for (const token of tokens) {
    if (token.kind === "positional") {
      return { kind: "error", message: `unexpected argument "${token.value}"` };
    }
    if (token.kind !== "option") continue;
    if (token.name === "help") return { kind: "help" };
    const spec = BY_NAME.get(token.name);
    if (!spec) return { kind: "error", message: `unknown flag --${token.name}` };
    const value = token.value ?? (spec.kind === "boolean" ? "true" : undefined);
    if (value === undefined) {
      return { kind: "error", message: `flag --${token.name} needs a value` };
    }
    raw.set(spec, { value, source: `--${token.name}` });
  }
  const flags: Record<string, unknown> = {};
  for (const spec of FLAGS as readonly FlagSpec[]) {
    const given = raw.get(spec) ??
      (spec.default === undefined ? undefined : { value: spec.default, source: "default" });
    if (given === undefined) continue;
    const result = spec.schema.safeParse(given.value);
    if (!result.success) {
      const reason = result.error.issues[0]?.message ?? "invalid value";
      const message = `invalid value "${given.value}" for ${given.source}: ${reason}`;
      return { kind: "error", message };
    }
    flags[spec.name] = result.data;
  }
  return { kind: "flags", flags: flags as ParsedFlags };
}

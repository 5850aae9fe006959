import assert from "node:assert/strict";
import {
  type ConfigContext,
  type OperatorConfig,
  parseOperatorConfig,
  renderHelp,
} from "./config.ts";
import { envVarName, FLAGS, type FlagSpec } from "./flags.ts";

const OUT_OF_CLUSTER: ConfigContext = { inCluster: false };
const IN_CLUSTER: ConfigContext = { inCluster: true, podNamespace: "ops" };

function configOf(
  args: string[],
  env: Record<string, string> = {},
  context = OUT_OF_CLUSTER,
): OperatorConfig {
  const result = parseOperatorConfig(args, env, context);
  assert.equal(result.kind, "config", JSON.stringify(result));
  return (result as { config: OperatorConfig }).config;
}

Deno.test("parseOperatorConfig() applies the documented defaults out of cluster", () => {
  assert.deepEqual(configOf([]), {
    kubeconfig: undefined,
    context: undefined,
    namespace: "hostport-allocator",
    leaderElection: {
      enabled: false,
      name: "f10832af.rmb938.com",
      namespace: "hostport-allocator",
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
    },
    healthAddr: { hostname: "0.0.0.0", port: 8081 },
    metricsAddr: { hostname: "0.0.0.0", port: 8080 },
    webhook: {
      addr: { hostname: "0.0.0.0", port: 9443 },
      tls: { type: "directory", certDir: "/tmp/k8s-webhook-server/serving-certs" },
    },
    workers: undefined,
    claimDeletionGraceMs: undefined,
    claimTemplateWaitMs: undefined,
    shutdownTimeoutMs: 30_000,
    log: { level: "info", format: "json" },
  });
});

Deno.test("parseOperatorConfig() reads flags, variables and the cluster context", async (t) => {
  const cases: {
    name: string;
    args?: string[];
    env?: Record<string, string>;
    context?: ConfigContext;
    pick: (config: OperatorConfig) => unknown;
    expected: unknown;
  }[] = [
    {
      name: "in cluster: leader election on, pod namespace",
      context: IN_CLUSTER,
      pick: (c) => [c.leaderElection.enabled, c.namespace, c.leaderElection.namespace],
      expected: [true, "ops", "ops"],
    },
    {
      name: "--leader-elect=false wins in cluster",
      args: ["--leader-elect=false"],
      context: IN_CLUSTER,
      pick: (c) => c.leaderElection.enabled,
      expected: false,
    },
    {
      name: "bare --enable-leader-election (the original's alias)",
      args: ["--enable-leader-election"],
      pick: (c) => c.leaderElection.enabled,
      expected: true,
    },
    {
      name: "single-dash flags, as Go accepts",
      args: ["-namespace", "x"],
      pick: (c) => c.namespace,
      expected: "x",
    },
    {
      name: "--flag value and --flag=value",
      args: ["--kubeconfig", "/k", "--context=dev"],
      pick: (c) => [c.kubeconfig, c.context],
      expected: ["/k", "dev"],
    },
    {
      name: "--namespace beats the pod namespace",
      args: ["--namespace=mine"],
      context: IN_CLUSTER,
      pick: (c) => c.namespace,
      expected: "mine",
    },
    {
      name: "HOSTPORT_ variables",
      env: { HOSTPORT_LOG_LEVEL: "debug", HOSTPORT_WORKERS: "4" },
      pick: (c) => [c.log.level, c.workers],
      expected: ["debug", 4],
    },
    {
      name: "alias variable HOSTPORT_ENABLE_LEADER_ELECTION",
      env: { HOSTPORT_ENABLE_LEADER_ELECTION: "true" },
      pick: (c) => c.leaderElection.enabled,
      expected: true,
    },
    {
      name: "a flag beats its variable",
      args: ["--log-format=text"],
      env: { HOSTPORT_LOG_FORMAT: "json" },
      pick: (c) => c.log.format,
      expected: "text",
    },
    {
      name: "--claim-deletion-grace sets the deletion window",
      args: ["--claim-deletion-grace=2m"],
      pick: (c) => c.claimDeletionGraceMs,
      expected: 120_000,
    },
    {
      name: "--claim-template-wait sets the per-pod claim wait",
      args: ["--claim-template-wait=3s"],
      pick: (c) => c.claimTemplateWaitMs,
      expected: 3_000,
    },
    {
      name: "HOSTPORT_CLAIM_DELETION_GRACE sets the deletion window",
      env: { HOSTPORT_CLAIM_DELETION_GRACE: "1500ms" },
      pick: (c) => c.claimDeletionGraceMs,
      expected: 1_500,
    },
    {
      name: "the later flag wins",
      args: ["--workers=2", "--workers=3"],
      pick: (c) => c.workers,
      expected: 3,
    },
    {
      name: "empty variables are ignored",
      env: { HOSTPORT_NAMESPACE: "" },
      pick: (c) => c.namespace,
      expected: "hostport-allocator",
    },
    {
      name: "lease timings",
      args: ["--lease-duration=30s", "--renew-deadline=20s", "--retry-period=500ms"],
      pick: (
        c,
      ) => [
        c.leaderElection.leaseDurationMs,
        c.leaderElection.renewDeadlineMs,
        c.leaderElection.retryPeriodMs,
      ],
      expected: [30_000, 20_000, 500],
    },
    {
      name: "--metrics-addr=0 disables metrics",
      args: ["--metrics-addr=0"],
      pick: (c) => c.metricsAddr,
      expected: undefined,
    },
    {
      name: "addresses",
      args: ["--health-addr=127.0.0.1:1", "--webhook-addr", "[::1]:2"],
      pick: (c) => [c.healthAddr, c.webhook.addr],
      expected: [{ hostname: "127.0.0.1", port: 1 }, { hostname: "::1", port: 2 }],
    },
    {
      name: "self-signed certificate defaults its service namespace",
      args: ["--webhook-self-signed", "--namespace=ops2"],
      pick: (c) => c.webhook.tls,
      expected: {
        type: "self-signed",
        serviceName: "hostport-allocator",
        namespace: "ops2",
        mutatingWebhookConfigurations: ["hostport-allocator-crd", "hostport-allocator-pod"],
        validatingWebhookConfigurations: ["hostport-allocator-crd"],
        ipAddresses: [],
      },
    },
    {
      name: "self-signed certificate on a loopback listener, explicit configurations",
      args: [
        "--webhook-self-signed=true",
        "--webhook-service-name=hp",
        "--webhook-addr=127.0.0.1:9443",
        "--mutating-webhook-configurations=a, b",
        "--validating-webhook-configurations=c",
      ],
      pick: (c) => c.webhook.tls,
      expected: {
        type: "self-signed",
        serviceName: "hp",
        namespace: "hostport-allocator",
        mutatingWebhookConfigurations: ["a", "b"],
        validatingWebhookConfigurations: ["c"],
        ipAddresses: ["127.0.0.1"],
      },
    },
    {
      name: "--register-webhooks by IP: self-signed for that IP, configurations after the Service",
      args: ["--register-webhooks=https://10.0.0.5:9443/", "--webhook-service-name=hp"],
      pick: (c) => [c.webhook.register, c.webhook.tls],
      expected: [
        {
          baseUrl: "https://10.0.0.5:9443",
          crdName: "hp-crd",
          podName: "hp-pod",
        },
        {
          type: "self-signed",
          serviceName: "hp",
          namespace: "hostport-allocator",
          mutatingWebhookConfigurations: ["hp-crd", "hp-pod"],
          validatingWebhookConfigurations: ["hp-crd"],
          ipAddresses: ["10.0.0.5"],
        },
      ],
    },
    {
      name: "--register-webhooks by name and by IPv6 address",
      args: ["--register-webhooks=https://laptop.example:8443"],
      env: { HOSTPORT_WEBHOOK_ADDR: "127.0.0.1:8443" },
      pick: (c) =>
        c.webhook.tls.type === "self-signed" &&
        [c.webhook.tls.ipAddresses, c.webhook.tls.dnsNames, c.webhook.register?.baseUrl],
      expected: [["127.0.0.1"], ["laptop.example"], "https://laptop.example:8443"],
    },
    {
      name: "--register-webhooks on an IPv6 address",
      args: ["--register-webhooks", "https://[fd00::1]:9443"],
      pick: (c) => c.webhook.tls.type === "self-signed" && c.webhook.tls.ipAddresses,
      expected: ["fd00::1"],
    },
    {
      name: "no --register-webhooks: nothing registered",
      args: ["--webhook-self-signed"],
      pick: (c) => c.webhook.register,
      expected: undefined,
    },
    {
      name: "certificate directory",
      args: ["--webhook-cert-dir=/certs"],
      pick: (c) => c.webhook.tls,
      expected: { type: "directory", certDir: "/certs" },
    },
    {
      name: "a bare -- is skipped, as deno task passes it through",
      args: ["--", "--workers=5"],
      pick: (c) => c.workers,
      expected: 5,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      assert.deepEqual(
        c.pick(configOf(c.args ?? [], c.env ?? {}, c.context ?? OUT_OF_CLUSTER)),
        c.expected,
      );
    });
  }
});

Deno.test("parseOperatorConfig() reports bad values naming the flag or variable", async (t) => {
  const cases: { args?: string[]; env?: Record<string, string>; message: string }[] = [
    {
      args: ["--log-level=loud"],
      message: 'invalid value "loud" for --log-level: expected one of debug, info, warn, error',
    },
    {
      args: ["--log-format", "xml"],
      message: 'invalid value "xml" for --log-format: expected json or text',
    },
    { env: { HOSTPORT_WORKERS: "zero" }, message: 'invalid value "zero" for HOSTPORT_WORKERS: ' },
    { args: ["--workers=0"], message: 'invalid value "0" for --workers: ' },
    {
      args: ["--claim-deletion-grace=0s"],
      message: 'invalid value "0s" for --claim-deletion-grace: expected a duration above 0',
    },
    {
      args: ["--lease-duration=15"],
      message: 'invalid value "15" for --lease-duration: expected a duration',
    },
    {
      args: ["--retry-period=0"],
      message: 'invalid value "0" for --retry-period: expected a duration above 0',
    },
    {
      args: ["--metrics-addr=x"],
      message: 'invalid value "x" for --metrics-addr: expected host:port, :port, or 0',
    },
    {
      args: ["--health-addr=8081"],
      message: 'invalid value "8081" for --health-addr: expected host:port',
    },
    {
      args: ["--leader-elect=maybe"],
      message: 'invalid value "maybe" for --leader-elect: expected true or false',
    },
    {
      args: ["--namespace=Bad_NS"],
      message: 'invalid value "Bad_NS" for --namespace: expected a lower-case DNS name',
    },
    {
      args: ["--renew-deadline=20s"],
      message: "--renew-deadline must be shorter than --lease-duration",
    },
    {
      args: ["--retry-period=9s"],
      message: "--renew-deadline must be longer than 1.2 times --retry-period",
    },
    {
      args: ["--mutating-webhook-configurations=a,,b"],
      message: 'invalid value "a,,b" for --mutating-webhook-configurations: ',
    },
    {
      args: ["--register-webhooks=http://10.0.0.5:9443"],
      message: 'invalid value "http://10.0.0.5:9443" for --register-webhooks: expected https://',
    },
    {
      args: ["--register-webhooks=https://10.0.0.5:9443/mutate"],
      message: 'invalid value "https://10.0.0.5:9443/mutate" for --register-webhooks: expected',
    },
    {
      args: ["--register-webhooks=https://h:1", "--webhook-cert-dir=/certs"],
      message: "--register-webhooks excludes --webhook-cert-dir",
    },
    {
      args: ["--register-webhooks=https://h:1", "--validating-webhook-configurations=v"],
      message: "--register-webhooks excludes --validating-webhook-configurations",
    },
    {
      args: ["--register-webhooks=https://h:1", "--webhook-self-signed=false"],
      message: "--register-webhooks needs --webhook-self-signed",
    },
    { args: ["--no-such-flag"], message: "unknown flag --no-such-flag" },
    { args: ["--namespace"], message: "flag --namespace needs a value" },
    { args: ["stray"], message: 'unexpected argument "stray"' },
  ];
  for (const c of cases) {
    await t.step(c.message, () => {
      const result = parseOperatorConfig(c.args ?? [], c.env ?? {}, OUT_OF_CLUSTER);
      assert.equal(result.kind, "error", JSON.stringify(result));
      if (result.kind === "error") assert.ok(result.message.startsWith(c.message), result.message);
    });
  }
});

Deno.test("parseOperatorConfig() answers help for --help and -h", () => {
  assert.deepEqual(parseOperatorConfig(["--workers=2", "--help"], {}, OUT_OF_CLUSTER), {
    kind: "help",
  });
  assert.deepEqual(parseOperatorConfig(["-h"], {}, OUT_OF_CLUSTER), { kind: "help" });
});

Deno.test("renderHelp() lists every flag with its variable and default in aligned columns", () => {
  const lines = renderHelp().split("\n");
  const header = lines.findIndex((line) => line.startsWith("FLAG"));
  assert.ok(header > 0);
  const column = lines[header]!.indexOf("ENVIRONMENT");
  for (const spec of FLAGS as readonly FlagSpec[]) {
    const line = lines.find((l) =>
      l.startsWith(`--${spec.name} `) || l.startsWith(`--${spec.name},`)
    );
    assert.ok(line, `--${spec.name} is listed`);
    assert.equal(line.indexOf(envVarName(spec.name)), column, `${spec.name} is aligned`);
    const shown = spec.default ?? spec.defaultText ?? "";
    assert.ok(line.includes(shown) && line.includes(spec.help));
  }
  assert.ok(renderHelp().includes("--leader-elect, --enable-leader-election"));
});

Deno.test("envVarName() prefixes HOSTPORT_ and upper-cases the flag", () => {
  assert.equal(envVarName("log-level"), "HOSTPORT_LOG_LEVEL");
  assert.equal(envVarName("webhook-cert-dir"), "HOSTPORT_WEBHOOK_CERT_DIR");
});

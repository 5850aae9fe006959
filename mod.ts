/**
 * hostport-allocator: a Kubernetes operator that hands out host ports the way Kubernetes hands
 * out volumes. This is the composition root: it reads the flags, builds the client, the logger,
 * metrics and Events, starts the health and metrics endpoints, the admission webhook server (on
 * every replica) and the leader-only controllers, and shuts everything down on SIGTERM. It holds
 * no logic of its own (see `lib/ops`).
 *
 * ```sh
 * ./deno task start -- --kubeconfig ~/.kube/config --context kind-dev
 * ```
 *
 * @module
 */
import {
  AllocationRepair,
  ClusterPortAllocator,
  liveHostPortClassLister,
  liveHostPortLister,
  openAllocationRecord,
} from "./lib/allocation/mod.ts";
import { type RunningControllers, startControllers } from "./lib/controller/mod.ts";
import { createKubeClients, type KubeClients, KubeRestClient } from "./lib/kube/mod.ts";
import {
  configOrExit,
  type ControllerRun,
  createLogger,
  detectEnvironment,
  type EventRecorder,
  HealthChecks,
  KubeEventRecorder,
  kubeEventSink,
  LeaderElector,
  LeaderSupervisor,
  leveledLogger,
  type Logger,
  notReady,
  operationalEndpoints,
  type OperatorConfig,
  orExit,
  processIdentity,
  PrometheusRegistry,
  registerProcessMetrics,
  runOperator,
  serveEndpoints,
  terminationSignal,
  webhookFamilies,
  webhookReadiness,
} from "./lib/ops/mod.ts";
import { startWebhookServer } from "./webhook/server.ts";
import { startAdmissionLookups } from "./webhook/server_lookups.ts";
import { LATENCY_BUCKETS_SECONDS } from "./webhook/server_stats.ts";
import { FileCertificateSource } from "./webhook/tls_file_source.ts";
import { SelfManagedCertificateSource } from "./webhook/tls_self_managed.ts";
import type { CertificateSource } from "./webhook/tls_source.ts";

/** What the leader-only work needs. */
interface LeaderWorkDeps {
  config: OperatorConfig;
  rest: KubeRestClient;
  recorder: EventRecorder;
  metrics: PrometheusRegistry;
  logger: Logger;
  health: HealthChecks;
}

/** Builds the allocation record, allocator and repair, then starts the controllers. */
async function startLeaderWork(deps: LeaderWorkDeps): Promise<ControllerRun> {
  const { config, rest } = deps;
  const record = openAllocationRecord(rest, { namespace: config.namespace });
  const allocator = new ClusterPortAllocator({ record });
  const repair = new AllocationRepair({
    record,
    allocator,
    listHostPorts: liveHostPortLister(rest),
    listHostPortClasses: liveHostPortClassLister(rest),
  });
  const workers = config.workers;
  const running: RunningControllers = await startControllers({
    ...deps,
    allocator,
    repair,
    options: workers
      ? { workers: { hostPortClass: workers, hostPortClaim: workers, hostPort: workers } }
      : {},
  });
  deps.health.addReadiness("allocation", () => running.allocationReadiness());
  return {
    synced: running.synced,
    stop: async () => {
      deps.health.addReadiness("allocation", () => true); // only the leader allocates
      await running.stop();
      allocator.close();
    },
  };
}

/** The serving certificate's source: a mounted directory, or our own CA kept in a Secret. */
function certificateSource(
  config: OperatorConfig,
  kube: KubeClients,
  log: Logger,
): CertificateSource {
  const onError = (message: string) => log.warn("Serving certificate problem", { reason: message });
  const tls = config.webhook.tls;
  if (tls.type === "directory") return new FileCertificateSource({ dir: tls.certDir, onError });
  return new SelfManagedCertificateSource({
    kube,
    namespace: tls.serviceNamespace,
    serviceName: tls.serviceName,
    ipAddresses: tls.ipAddresses,
    mutatingWebhookConfigurations: tls.mutatingWebhookConfigurations,
    validatingWebhookConfigurations: tls.validatingWebhookConfigurations,
    onError,
    onIssue: (message) => log.info("Issued a serving certificate", { reason: message }),
  });
}

/** Starts the admission server (every replica) once its certificate is loaded. */
async function startAdmission(
  config: OperatorConfig,
  kube: KubeClients,
  logger: Logger,
  health: HealthChecks,
  stop: AbortSignal,
) {
  const log = logger.child({ component: "webhook" });
  const stopCertificates = new AbortController();
  const certificates = certificateSource(config, kube, log);
  const lookups = startAdmissionLookups(kube);
  await certificates.start(AbortSignal.any([stopCertificates.signal, stop]));
  const server = await startWebhookServer({
    certificates,
    lookups: lookups.lookups,
    hostname: config.webhook.addr.hostname,
    port: config.webhook.addr.port,
    logger: leveledLogger(log, config.log.level),
  });
  health.addReadiness(
    "webhook",
    webhookReadiness({
      certificateHealthy: () => certificates.healthy(),
      cachesSynced: lookups.synced,
    }),
  );
  return {
    server,
    name: "webhook",
    stop: async () => {
      await server.shutdown();
      stopCertificates.abort();
      await lookups.stop();
    },
  };
}

async function main(): Promise<number> {
  const config = configOrExit(Deno.args, Deno.env.toObject(), await detectEnvironment());
  const logger = createLogger(config.log);
  const stop = terminationSignal(logger);
  const identity = processIdentity();
  const metrics = new PrometheusRegistry();
  const stopProcessMetrics = registerProcessMetrics(metrics);
  const health = new HealthChecks();
  health.addReadiness("webhook", notReady("the webhook server is starting"));
  const endpoints = await orExit(
    logger,
    "serve the health and metrics endpoints",
    () => serveEndpoints(operationalEndpoints(config, health, () => metrics.expose()), logger),
  );
  const rest = await orExit(
    logger,
    "load the cluster configuration",
    () =>
      KubeRestClient.fromEnvironment({ kubeconfig: config.kubeconfig, context: config.context }),
  );
  const kube = createKubeClients(rest);
  logger.info("starting", {
    identity,
    server: rest.config.server,
    namespace: config.namespace,
    leaderElection: config.leaderElection.enabled,
  });
  const recorder = new KubeEventRecorder(kubeEventSink(kube.events), {
    instance: identity,
    logger: logger.child({ component: "events" }),
    metrics,
  });
  const admission = await orExit(
    logger,
    "start the admission webhook server",
    () => startAdmission(config, kube, logger, health, stop),
  );
  metrics.addCollector(() => webhookFamilies(admission.server.stats(), LATENCY_BUCKETS_SECONDS));
  const elector = config.leaderElection.enabled
    ? new LeaderElector({
      ...config.leaderElection,
      leases: kube.leases,
      name: config.leaderElection.id,
      identity,
      logger,
      metrics,
    })
    : undefined;
  const supervisor = new LeaderSupervisor({
    elector,
    start: () => startLeaderWork({ config, rest, recorder, metrics, logger, health }),
    stopTimeoutMs: config.shutdownTimeoutMs,
    logger,
  });
  health.addReadiness("controllers", () => supervisor.readiness());
  return await runOperator({
    supervisor,
    health,
    logger,
    shutdownTimeoutMs: config.shutdownTimeoutMs,
    afterControllers: [
      admission,
      { name: "events", stop: () => recorder.close(5_000) },
      { name: "endpoints", stop: () => endpoints.shutdown() },
      { name: "client", stop: () => Promise.resolve(rest.close()) },
      { name: "process metrics", stop: () => Promise.resolve(stopProcessMetrics()) },
    ],
  }, stop);
}

if (import.meta.main) Deno.exit(await main());

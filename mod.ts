/**
 * hostport-allocator, a Kubernetes operator that hands out host ports. The composition root: it
 * wires the flags, client, logs, metrics, Events, endpoints, the webhook server (every replica)
 * and the leader-only controllers, and shuts them down on SIGTERM; its logic lives in `lib/`.
 *
 * ```sh
 * ./deno task start -- --kubeconfig ~/.kube/config --context kind-dev
 * ```
 *
 * @module
 */
import {
  AllocationRecord,
  anchoredLeaderWork,
  ConfigMapRecordStore,
  DEFAULT_RECORD_NAME,
  RecordAnchor,
} from "./lib/allocation/mod.ts";
import { startControllers } from "./lib/controller/start_controllers.ts";
import { type RunningSharedCaches, startSharedCaches } from "./lib/controller/context.ts";
import {
  createKubeClients,
  type KubeClients,
  KubeRestClient,
  learnSelfUsername,
  loadClusterConfig,
  selfUsername,
} from "./lib/kube/mod.ts";
import {
  configOrExit,
  type ControllerRun,
  createLogger,
  detectEnvironment,
  type EventRecorder,
  HealthChecks,
  KubeEventRecorder,
  LeaderElector,
  type Logger,
  type OperatorConfig,
  orExit,
  processIdentity,
  PrometheusRegistry,
  registerProcessMetrics,
  runOperator,
  serveEndpoints,
  terminationSignal,
  webhookReadiness,
} from "./lib/ops/mod.ts";
import {
  admissionOptionsWithTemplateWait,
  DEFAULT_SHUTDOWN_GRACE_MS,
  startWebhookServer,
} from "./webhook/server.ts";
import { admissionLookups } from "./webhook/server_lookups.ts";
import { type CertificateSource, FileCertificateSource } from "./webhook/tls_source.ts";
import { SelfManagedCertificateSource, WebhookRegistrar } from "./webhook/tls_self_managed.ts";

/** The process-wide parts the webhook and the controllers use. */
interface Parts {
  logger: Logger;
  recorder: EventRecorder;
  health: HealthChecks;
  metrics: PrometheusRegistry;
  caches: RunningSharedCaches;
}

/** Starts the controllers over this install's allocation record. */
function startAllocating(
  config: OperatorConfig,
  rest: KubeRestClient,
  parts: Parts,
): ControllerRun {
  const running = startControllers({
    ...parts,
    rest,
    record: new AllocationRecord(new ConfigMapRecordStore(rest, { namespace: config.namespace })),
    options: { claimDeletionGraceMs: config.claimDeletionGraceMs, workers: config.workers },
  });
  parts.health.addReadiness("allocation", () => running.allocationReadiness());
  return {
    synced: running.synced,
    stop: async () => {
      parts.health.addReadiness("allocation", () => true); // only the leader allocates
      await running.stop();
    },
  };
}

/** The serving certificate's source: a mounted directory, or our own CA kept in a Secret. */
function certificateSource(
  config: OperatorConfig,
  kube: KubeClients,
  log: Logger,
  registrar: WebhookRegistrar | undefined,
): CertificateSource {
  const onError = (message: string) => log.warn("Serving certificate problem", { reason: message });
  const tls = config.webhook.tls;
  if (tls.type === "directory") return new FileCertificateSource({ dir: tls.certDir, onError });
  return new SelfManagedCertificateSource({
    ...tls, // the Service, the names it covers and the configurations it is injected into
    kube,
    ...registrar === undefined ? {} : { beforeInjection: (ca) => registrar.register(ca) },
    onError,
    onIssue: (message) => log.info("Issued a serving certificate", { reason: message }),
  });
}

/** Starts the admission server (every replica) once its certificate is loaded. */
async function startAdmission(
  config: OperatorConfig,
  kube: KubeClients,
  { logger, recorder, health, metrics, caches }: Parts,
  stop: AbortSignal,
) {
  const log = logger.child({ component: "webhook" });
  const stopCertificates = new AbortController();
  // `--register-webhooks`: our webhook configurations are written at start and deleted on exit.
  const register = config.webhook.register;
  // Registering needs it first (its own writes skip the CR webhooks), failing fast; asked once.
  const username = register && await selfUsername(kube.rest);
  const registrar = register && new WebhookRegistrar({
    kube,
    ...register,
    operatorNamespace: config.namespace,
    operatorUsername: username,
    onChange: (message) => log.info(message, { url: register.baseUrl }),
  });
  await registrar?.checkNames();
  const certificates = certificateSource(config, kube, log, registrar);
  const lookups = admissionLookups(kube, caches, { metrics, recorder });
  // Only this identity may write a port into a HostPort (refused for everyone until known).
  const operator = username
    ? { username: () => username, known: Promise.resolve(username) }
    : learnSelfUsername(kube.rest, {
      signal: AbortSignal.any([stopCertificates.signal, stop]),
      onError: (error) =>
        log.warn("Cannot learn the operator's username", { error: String(error) }),
    });
  await certificates.start(AbortSignal.any([stopCertificates.signal, stop]));
  const server = await startWebhookServer({
    certificates,
    lookups,
    admission: {
      ...admissionOptionsWithTemplateWait(config.claimTemplateWaitMs),
      operatorUsername: operator.username,
      onTemplateRefusal: (template, message) =>
        recorder.record(template, "Warning", "PodRefused", message),
    },
    ...config.webhook.addr,
    logger: log,
    metrics,
    // In-flight admissions get at most half the shutdown bound, so the server always stops in it.
    shutdownGraceMs: Math.min(DEFAULT_SHUTDOWN_GRACE_MS, config.shutdownTimeoutMs / 2),
  }).catch(async (error) => {
    await registrar?.unregister(); // nothing may point the API server at a server that never ran
    throw error;
  });
  // Not ready until it knows the operator's username: it would refuse the operator's port writes.
  const synced = Promise.all([caches.synced, operator.known]).then(([synced, username]) =>
    synced && username !== undefined
  );
  health.addReadiness("webhook", webhookReadiness(certificates, synced));
  return {
    name: "webhook",
    stop: async () => {
      stopCertificates.abort();
      await registrar?.unregister(); // the API server stops calling us before the server stops
      await server.shutdown();
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
  health.addReadiness("webhook", () => "the webhook server is starting");
  const endpoints = await orExit(
    logger,
    "serve the health and metrics endpoints",
    () => serveEndpoints({ ...config, health, expose: () => metrics.expose() }, logger),
  );
  const rest = await orExit(
    logger,
    "load the cluster configuration",
    async () => new KubeRestClient(await loadClusterConfig(config)),
  );
  const kube = createKubeClients(rest);
  const { namespace, leaderElection: { enabled: leaderElection } } = config;
  logger.info("starting", { identity, server: rest.config.server, namespace, leaderElection });
  const recorder = new KubeEventRecorder(kube.events, {
    instance: identity,
    logger: logger.child({ component: "events" }),
    metrics,
  });
  const caches = startSharedCaches(rest, { logger, recorder, metrics });
  const parts = { logger, recorder, health, metrics, caches };
  const admission = await orExit(
    logger,
    "start the admission webhook server",
    () => startAdmission(config, kube, parts, stop),
  );
  const election = { ...config.leaderElection, leases: kube.leases, identity, logger, metrics };
  const elector = election.enabled ? new LeaderElector(election) : undefined;
  const anchor = new RecordAnchor(rest, { namespace: config.namespace, name: DEFAULT_RECORD_NAME });
  health.addReadiness("allocation-record", () => anchor.readiness());
  return await runOperator({
    elector,
    // Allocates only while the HostPort CRD's anchor names this install's record.
    start: () =>
      anchoredLeaderWork({
        anchor,
        start: () => Promise.resolve(startAllocating(config, rest, parts)),
        logger: logger.child({ component: "allocation-record" }),
      }),
    health,
    logger,
    shutdownTimeoutMs: config.shutdownTimeoutMs,
    afterControllers: [
      admission,
      { name: "caches", stop: () => caches.stop() },
      { name: "events", stop: () => recorder.close(5_000) },
      { name: "endpoints", stop: () => endpoints.shutdown() },
      { name: "client", stop: () => rest.close() },
      { name: "process metrics", stop: stopProcessMetrics },
    ],
  }, stop);
}

if (import.meta.main) Deno.exit(await main());

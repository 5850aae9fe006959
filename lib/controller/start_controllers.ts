/**
 * Builds the controllers for the composition root, wires watch events to queues, and starts the
 * workers once the caches are synced and a first repair pass has run.
 *
 * @module
 */
import type { AllocationRecord } from "../allocation/allocation_record.ts";
import {
  AllocationRepair,
  liveHostPortClassLister,
  liveHostPortLister,
} from "../allocation/allocation_repair.ts";
import { ClusterPortAllocator } from "../allocation/cluster_port_allocator.ts";
import { type HostPort, salvageHostPort } from "../api/mod.ts";
import { type RestClient, SYSTEM_CLOCK } from "../kube/mod.ts";
import type { EventRecorder, Logger, MetricsRegistry } from "../ops/contracts.ts";
import {
  cachesSynced,
  type ControllerContext,
  createControllerCaches,
  createControllerClients,
  INDEX,
  type SharedCaches,
} from "./context.ts";
import {
  Controller,
  type ControllerOptions,
  createControllerMetrics,
  type ReconcileFunction,
} from "./controller.ts";
import { createClassReconciler } from "./hostport_class_controller.ts";
import { type ClaimReconciler, createClaimReconciler } from "./hostport_claim_controller.ts";
import { createHostPortReconciler } from "./hostport_controller.ts";
import { createQuotaReconciler } from "./quota_controller.ts";
import { RepairLoop } from "./repair_loop.ts";
import { createTemplateClaimReconciler, wireTemplateClaims } from "./template_claim_controller.ts";
import { type ControllerSet, requeuePendingFor, wireEvents } from "./wiring.ts";

/** Tuning of the controllers; every field is optional. */
export interface ControllersOptions {
  /** Concurrent reconciles of each controller (`--workers`); defaults per controller. */
  workers?: number | undefined;
  /**
   * The deletion window: a claim's finalizer, and the port of a HostPort whose claim vanished
   * unfinalized by us, wait this long after first seen, so pods admitted before are stored or
   * failed. Default 65000 ms: kube-apiserver's `--request-timeout` (60 s) plus a margin.
   */
  claimDeletionGraceMs?: number | undefined;
  /** An unbound claim without a phase is written `Pending` after this long; 2000 ms. */
  pendingStatusDelayMs?: number | undefined;
  /** Repair's leak holdoff, also the pause after a rebuilt record (repair's default 90 s). */
  holdoffMs?: number | undefined;
}

/** What `startControllers` needs. */
export interface ControllerDeps {
  rest: RestClient;
  /** The cluster-wide allocation record; the allocator and repair are built over it. */
  record: AllocationRecord;
  recorder: EventRecorder;
  metrics: MetricsRegistry;
  logger: Logger;
  /** The informers every replica keeps for its webhook; the caller starts and stops them. */
  shared: SharedCaches;
  options?: ControllersOptions;
}

/** Running controllers. */
export interface RunningControllers {
  /** Resolves once the caches are synced, the first repair passed and every worker runs. */
  synced: Promise<void>;
  /** The "allocation" readiness check: true, or why allocation cannot proceed. */
  allocationReadiness(): true | string;
  /** Stops workers, timers and informers; idempotent. */
  stop(): Promise<void>;
}

/** Defaults of {@linkcode ControllersOptions}. */
export const CONTROLLER_DEFAULTS = {
  classWorkers: 1,
  claimWorkers: 16,
  hostPortWorkers: 16,
  claimDeletionGraceMs: 65_000,
  pendingStatusDelayMs: 2_000,
  classStatusIntervalMs: 1_000,
  resyncIntervalMs: 600_000,
  repairIntervalMs: 180_000,
} as const;

/** Starts the controllers and the Pod cache; returns at once, `synced` tells when they work. */
export function startControllers(deps: ControllerDeps): RunningControllers {
  const { record, rest, options = {} } = deps;
  const allocator = new ClusterPortAllocator({ record });
  const allocationRepair = new AllocationRepair({
    record,
    allocator,
    listHostPorts: liveHostPortLister(rest),
    listHostPortClasses: liveHostPortClassLister(rest),
    ...(options.holdoffMs === undefined ? {} : { holdoffMs: options.holdoffMs }),
  });
  const ctx = buildContext(deps, allocator);
  const { caches, logger } = ctx;
  const claimReconciler = createClaimReconciler(ctx);
  const { templateClaims, ...controllers } = buildControllers(ctx, deps, claimReconciler);
  const requeue = (port: number) => requeuePendingFor(caches, controllers, port);
  const unwireEvents = wireEvents(caches, controllers, (uid) => claimReconciler.forget(uid));
  const unwireTemplateClaims = wireTemplateClaims(ctx, templateClaims);
  const repair = new RepairLoop(ctx, allocationRepair, {
    intervalMs: CONTROLLER_DEFAULTS.repairIntervalMs,
    onPortsFreed: (ports) => ports.forEach(requeue),
    enqueueHostPort: (name) => controllers.hostPorts.enqueue(name),
  });
  const unwireAllocator = wireAllocator(ctx, allocationRepair, repair, requeue);
  caches.pods.start(); // the shared caches are the caller's
  let stopping: Promise<void> | undefined;
  const stop = () =>
    stopping ??= (async () => {
      unwireEvents();
      unwireTemplateClaims();
      unwireAllocator();
      repair.stop();
      await Promise.all(
        [...Object.values(controllers), templateClaims].map((controller) => controller.stop()),
      );
      await caches.pods.stop();
      logger.info("Controllers stopped");
    })();
  const synced = startWorkers(ctx, controllers, repair).then(() => templateClaims.start());
  synced.catch(() => {}); // the caller awaits it; never an unhandled rejection
  return { synced, stop, allocationReadiness: () => allocator.readiness() };
}

/**
 * Connects the allocator and repair to the HostPort cache: its port index is the allocator's held
 * source, a port seen held restarts its leak sightings, a deleted record runs repair now, restored
 * ports are reported, and freed ports requeue the Pending HostPorts that may use them.
 */
function wireAllocator(
  ctx: ControllerContext,
  allocationRepair: AllocationRepair,
  repair: RepairLoop,
  requeue: (port: number) => void,
): () => void {
  const { allocator } = ctx;
  const hostPorts = ctx.caches.hostPorts;
  allocator.useHeldSource((port) => {
    const holders = hostPorts.store.byIndex(INDEX.byPort, String(port));
    if (holders.some((holder) => !holder.metadata.deletionTimestamp)) return "held";
    // A HostPort we cannot decode is left out of the cache, but still holds what port it shows.
    for (const { raw } of hostPorts.quarantined.values()) {
      if (salvageHostPort(raw).status?.port === port) return "held";
    }
    return holders.length > 0 ? "releasing" : undefined;
  });
  const noteHeld = (hostPort: HostPort) => {
    const port = hostPort.status?.port ?? 0;
    if (port > 0) allocationRepair.noteHeld(port);
  };
  const removers = [
    allocator.onReleased(requeue),
    allocator.onRestored((ports) => repair.reportRestored(ports)),
    allocator.onRecordMissing(() => repair.runSoon()),
    hostPorts.addEventHandler({
      onAdd: noteHeld,
      onUpdate: (_previous, next) => noteHeld(next),
      onDelete: () => {},
    }),
  ];
  return () => removers.forEach((remove) => remove());
}

/** Waits for the caches, starts the class and claim workers, then a first repair, then HostPorts. */
async function startWorkers(
  ctx: ControllerContext,
  controllers: ControllerSet,
  repair: RepairLoop,
): Promise<void> {
  if (!await cachesSynced(ctx.caches)) {
    throw new Error("Cannot start the controllers as they were stopped");
  }
  controllers.classes.start();
  controllers.claims.start();
  controllers.quotas.start();
  // Allocation waits for a first repair: the record must know every port HostPorts hold.
  if (!await repair.runUntilFirstSuccess()) {
    throw new Error("Cannot start the controllers as they were stopped");
  }
  controllers.hostPorts.start();
  repair.schedule();
  ctx.logger.info("Controllers synced", { hostPorts: ctx.caches.hostPorts.store.size });
}

function buildContext(deps: ControllerDeps, allocator: ClusterPortAllocator): ControllerContext {
  const options = deps.options ?? {};
  const logger = deps.logger.child({ component: "controllers" });
  const clients = createControllerClients(deps.rest);
  const metrics = createControllerMetrics(deps.metrics);
  const reporting = { logger, recorder: deps.recorder, metrics };
  return {
    clients,
    caches: createControllerCaches(clients, deps.shared, reporting),
    allocator,
    recorder: deps.recorder,
    metrics,
    logger,
    clock: SYSTEM_CLOCK,
    settings: {
      claimDeletionGraceMs: options.claimDeletionGraceMs ??
        CONTROLLER_DEFAULTS.claimDeletionGraceMs,
      pendingStatusDelayMs: options.pendingStatusDelayMs ??
        CONTROLLER_DEFAULTS.pendingStatusDelayMs,
      classStatusIntervalMs: CONTROLLER_DEFAULTS.classStatusIntervalMs,
    },
  };
}

/** The four controllers, and the template-claim one (owners and deletion of per-pod claims). */
function buildControllers(
  ctx: ControllerContext,
  deps: ControllerDeps,
  claimReconciler: ClaimReconciler,
): ControllerSet & { templateClaims: Controller } {
  const { caches } = ctx;
  const workers = deps.options?.workers;
  const controller = (
    name: string,
    reconcile: ReconcileFunction,
    options: Pick<ControllerOptions, "workers" | "listKeys">,
  ) =>
    new Controller({
      name,
      reconcile,
      ...options,
      metrics: ctx.metrics,
      logger: ctx.logger,
      clock: ctx.clock,
      resyncIntervalMs: CONTROLLER_DEFAULTS.resyncIntervalMs,
    });
  return {
    classes: controller("hostportclass", createClassReconciler(ctx), {
      workers: workers ?? CONTROLLER_DEFAULTS.classWorkers,
      listKeys: () => caches.classes.store.keys(),
    }),
    claims: controller("hostportclaim", claimReconciler.reconcile, {
      workers: workers ?? CONTROLLER_DEFAULTS.claimWorkers,
      listKeys: () => caches.claims.store.keys(),
    }),
    hostPorts: controller("hostport", createHostPortReconciler(ctx, claimReconciler), {
      workers: workers ?? CONTROLLER_DEFAULTS.hostPortWorkers,
      listKeys: () => caches.hostPorts.store.keys(),
    }),
    quotas: controller("resourcequota", createQuotaReconciler(ctx), {
      workers: 1,
      listKeys: () => caches.quotas.store.keys(),
    }),
    templateClaims: controller("templateclaim", createTemplateClaimReconciler(ctx, deps.rest), {
      workers: workers ?? 4,
      listKeys: () => caches.claims.store.keys(),
    }),
  };
}

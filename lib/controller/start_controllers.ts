/**
 * Builds the controllers for the composition root, queues keys on watch events, and starts the
 * workers once the caches are synced and a first repair pass has run.
 *
 * Which keys each watch event queues (level-based: an event only says "look at this key"):
 *
 * - Class -> the class, its HostPorts and its claims.
 * - Claim -> the claim; on add, delete, or a uid or deletion change also the HostPorts naming it
 *   (their plan reads the claim only as gone or not; requeueing them on the claim's own writes
 *   made them reconcile from a stale cache, a 409 per claim). A template claim also goes to the
 *   template-claim controller on add and when its owners change (all its plan reads of it).
 * - HostPort -> it, its claims (urgent once it holds a port, so a ready claim does not wait behind
 *   a burst of new ones), its class (batched, {@linkcode CLASS_BATCH_MS}), and the other holders
 *   of its port with their claims (a `PortConflict` may change).
 * - Pod -> the claims it names, before and after, and their deleting HostPorts; its template
 *   claims.
 * - Quotas: a claim created or deleted -> the namespace's quotas; a claim gone or a quota's
 *   `spec.hard` changed -> the namespace's claims a quota holds back.
 *
 * @module
 */
import type { ResourceQuota } from "kubernetes-types/core/v1.d.ts";
import type { AllocationRecord } from "../allocation/allocation_record.ts";
import {
  AllocationRepair,
  liveHostPortClassLister,
  liveHostPortLister,
} from "../allocation/allocation_repair.ts";
import { ClusterPortAllocator } from "../allocation/cluster_port_allocator.ts";
import { inRanges } from "../allocator/port_bitmap.ts";
import {
  CONDITION_REASON,
  CONDITION_TYPE,
  type HostPort,
  type HostPortClaim,
  type HostPortClass,
  jsonEqual,
  salvageHostPort,
} from "../api/mod.ts";
import {
  type KubeObject,
  NAMESPACE_INDEX,
  objectKey,
  type RestClient,
  SYSTEM_CLOCK,
} from "../kube/mod.ts";
import type { EventRecorder, Logger, MetricsRegistry } from "../ops/contracts.ts";
import { claimNamesOfPod, type PodSummary } from "../reconcile/pods.ts";
import {
  cachesSynced,
  claimRefKey,
  type ControllerContext,
  createControllerCaches,
  createControllerClients,
  INDEX,
  type SharedCaches,
} from "./context.ts";
import { Controller, createControllerMetrics, type ReconcileFunction } from "./controller.ts";
import { createClassReconciler } from "./hostport_class_controller.ts";
import { type ClaimReconciler, createClaimReconciler } from "./hostport_claim_controller.ts";
import { createHostPortReconciler } from "./hostport_controller.ts";
import { createQuotaReconciler } from "./quota_controller.ts";
import { RepairLoop } from "./repair_loop.ts";
import { createTemplateClaimReconciler, isTemplateClaim } from "./template_claim_controller.ts";

/** Tuning of the controllers; every field is optional. */
export interface ControllersOptions {
  /** Concurrent reconciles of each controller (`--workers`); defaults per controller. */
  workers?: number | undefined;
  /** The deletion window (docs/architecture.md); 65000 ms: kube-apiserver's request timeout + 5 s. */
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
  caches: SharedCaches;
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
  resyncIntervalMs: 600_000,
} as const;

/** How long a class waits after a change of one of its HostPorts, so a burst joins one reconcile. */
export const CLASS_BATCH_MS = 250;

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
  const controllers = buildControllers(ctx, deps, claimReconciler);
  const requeue = (port: number) => requeuePendingFor(ctx, controllers, port);
  const unwireEvents = wireEvents(ctx, controllers, (uid) => claimReconciler.forget(uid));
  const repair = new RepairLoop(ctx, allocationRepair, {
    onPortsFreed: (ports) => ports.forEach(requeue),
    enqueueHostPort: (name) => controllers.hostPorts.enqueue(name),
  });
  const unwireAllocator = wireAllocator(ctx, allocationRepair, repair, requeue);
  caches.pods.start(); // the shared caches are the caller's
  let stopping: Promise<void> | undefined;
  const stop = () =>
    stopping ??= (async () => {
      unwireEvents();
      unwireAllocator();
      repair.stop();
      await Promise.all(Object.values(controllers).map((controller) => controller.stop()));
      await caches.pods.stop();
      logger.info("Controllers stopped");
    })();
  const synced = startWorkers(ctx, controllers, repair);
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
  // Port 0 (none yet) is never a leak candidate: noting it changes nothing.
  const noteHeld = (hostPort: HostPort) => allocationRepair.noteHeld(hostPort.status?.port ?? 0);
  const removers = [
    allocator.onReleased(requeue),
    allocator.onRestored((ports) => repair.reportRestored(ports)),
    allocator.onRecordMissing(() => repair.runSoon()),
    hostPorts.addEventHandler({ onAdd: noteHeld, onUpdate: (_previous, next) => noteHeld(next) }),
  ];
  return () => removers.forEach((remove) => remove());
}

/**
 * Waits for the caches, starts the class, claim and quota workers, then a first repair, then the
 * HostPort and template-claim workers.
 */
async function startWorkers(
  ctx: ControllerContext,
  controllers: ControllerSet,
  repair: RepairLoop,
): Promise<void> {
  const stopped = new Error("Cannot start the controllers as they were stopped");
  if (!await cachesSynced(ctx.caches)) throw stopped;
  controllers.classes.start();
  controllers.claims.start();
  controllers.quotas.start();
  // Allocation waits for a first repair: the record must know every port HostPorts hold.
  if (!await repair.runUntilFirstSuccess()) throw stopped;
  controllers.hostPorts.start();
  repair.schedule();
  ctx.logger.info("Controllers synced", { hostPorts: ctx.caches.hostPorts.store.size });
  controllers.templateClaims.start();
}

function buildContext(deps: ControllerDeps, allocator: ClusterPortAllocator): ControllerContext {
  const {
    claimDeletionGraceMs = CONTROLLER_DEFAULTS.claimDeletionGraceMs,
    pendingStatusDelayMs = CONTROLLER_DEFAULTS.pendingStatusDelayMs,
  } = deps.options ?? {};
  const logger = deps.logger.child({ component: "controllers" });
  const clients = createControllerClients(deps.rest);
  const metrics = createControllerMetrics(deps.metrics);
  const reporting = { logger, recorder: deps.recorder, metrics };
  return {
    clients,
    caches: createControllerCaches(clients, deps.caches, reporting),
    allocator,
    recorder: deps.recorder,
    metrics,
    logger,
    clock: SYSTEM_CLOCK,
    claimDeletionGraceMs,
    pendingStatusDelayMs,
  };
}

/** The controllers, for queueing keys (`name` or `namespace/name`). */
type ControllerSet = ReturnType<typeof buildControllers>;

/** The four controllers, and the template-claim one (owners and deletion of per-pod claims). */
function buildControllers(ctx: ControllerContext, deps: ControllerDeps, claims: ClaimReconciler) {
  const { caches } = ctx;
  const workers = deps.options?.workers;
  const controller = (
    name: string,
    reconcile: ReconcileFunction,
    options: { workers: number; listKeys: () => readonly string[] },
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
    claims: controller("hostportclaim", claims.reconcile, {
      workers: workers ?? CONTROLLER_DEFAULTS.claimWorkers,
      listKeys: () => caches.claims.store.keys(),
    }),
    hostPorts: controller("hostport", createHostPortReconciler(ctx, claims.finalized), {
      workers: workers ?? CONTROLLER_DEFAULTS.hostPortWorkers,
      listKeys: () => caches.hostPorts.store.keys(),
    }),
    quotas: controller("resourcequota", createQuotaReconciler(ctx), {
      workers: 1,
      listKeys: () => caches.quotas.store.keys(),
    }),
    templateClaims: controller("templateclaim", createTemplateClaimReconciler(ctx), {
      workers: workers ?? 4,
      listKeys: () => caches.claims.store.keys(),
    }),
  };
}

/** Connects the caches' events to the controllers' queues; returns a function that undoes it. */
function wireEvents(
  ctx: ControllerContext,
  controllers: ControllerSet,
  onClaimGone: (uid: string) => void,
): () => void {
  const { caches } = ctx;
  const { classes, claims, hostPorts, quotas, templateClaims } = controllers;
  const enqueueEach = (controller: Controller, objects: readonly KubeObject[]) => {
    for (const object of objects) controller.enqueue(objectKey(object));
  };

  const onClass = (hostPortClass: HostPortClass) => {
    const name = hostPortClass.metadata.name ?? "";
    classes.enqueue(name);
    enqueueEach(hostPorts, caches.hostPorts.store.byIndex(INDEX.byClass, name));
    enqueueEach(claims, caches.claims.store.byIndex(INDEX.byClass, name));
  };

  const onClaim = (claim: HostPortClaim, hostPortsToo = true) => {
    const key = objectKey(claim);
    claims.enqueue(key);
    if (!hostPortsToo) return;
    if (claim.spec.hostPortName) hostPorts.enqueue(claim.spec.hostPortName);
    enqueueEach(hostPorts, caches.hostPorts.store.byIndex(INDEX.byClaim, key));
  };

  const onTemplateClaim = (claim: HostPortClaim) => {
    if (isTemplateClaim(claim)) templateClaims.enqueue(objectKey(claim));
  };

  const onHostPort = (hostPort: HostPort) => {
    const name = objectKey(hostPort);
    hostPorts.enqueue(name);
    classes.enqueueAfter(hostPort.spec.hostPortClassName, CLASS_BATCH_MS);
    const port = hostPort.status?.port ?? 0;
    const urgent = port > 0;
    const ref = claimRefKey(hostPort.spec.claimRef);
    if (ref !== undefined) claims.enqueue(ref, { urgent });
    for (const claim of caches.claims.store.byIndex(INDEX.byHostPort, name)) {
      claims.enqueue(objectKey(claim), { urgent });
    }
    if (port === 0) return;
    for (const other of caches.hostPorts.store.byIndex(INDEX.byPort, String(port))) {
      if (objectKey(other) === name) continue;
      hostPorts.enqueue(objectKey(other));
      const otherRef = claimRefKey(other.spec.claimRef);
      if (otherRef !== undefined) claims.enqueue(otherRef);
    }
  };

  const onPod = (pod: PodSummary, templateClaimsToo = true) => {
    const namespace = pod.metadata.namespace ?? "";
    for (const name of claimNamesOfPod(pod)) {
      const key = `${namespace}/${name}`;
      claims.enqueue(key);
      for (const hostPort of caches.hostPorts.store.byIndex(INDEX.byClaim, key)) {
        if (hostPort.metadata.deletionTimestamp) hostPorts.enqueue(objectKey(hostPort));
      }
      const claim = templateClaimsToo ? caches.claims.store.get(key) : undefined;
      if (claim !== undefined) onTemplateClaim(claim);
    }
  };

  const quotasOfNamespace = (namespace: string) =>
    enqueueEach(quotas, caches.quotas.store.byIndex(NAMESPACE_INDEX, namespace));

  /** Queues the namespace's claims that a quota holds back: usage or a limit changed. */
  const claimsHeldBack = (namespace: string) => {
    for (const claim of caches.claims.store.byIndex(NAMESPACE_INDEX, namespace)) {
      const bound = claim.status?.conditions?.find((c) => c.type === CONDITION_TYPE.Bound);
      if (bound?.reason === CONDITION_REASON.QuotaExceeded) claims.enqueue(objectKey(claim));
    }
  };

  const onQuota = (quota: ResourceQuota, specChanged: boolean) => {
    quotas.enqueue(objectKey(quota));
    if (specChanged) claimsHeldBack(quota.metadata?.namespace ?? "");
  };

  const owners = (claim: HostPortClaim) => JSON.stringify(claim.metadata.ownerReferences);
  const removers = [
    caches.classes.addEventHandler({
      onAdd: onClass,
      onUpdate: (previous, next) => {
        if (previous.metadata.generation !== next.metadata.generation) onClass(next);
        else classes.enqueue(objectKey(next));
      },
      onDelete: onClass,
    }),
    caches.claims.addEventHandler({
      onAdd: (claim) => {
        onClaim(claim);
        quotasOfNamespace(claim.metadata.namespace ?? "");
        onTemplateClaim(claim);
      },
      onUpdate: (previous, next) => {
        onClaim(
          next,
          previous.metadata.uid !== next.metadata.uid ||
            previous.metadata.deletionTimestamp !== next.metadata.deletionTimestamp,
        );
        if (owners(previous) !== owners(next)) onTemplateClaim(next);
      },
      onDelete: (claim) => {
        onClaim(claim);
        if (claim.metadata.uid) onClaimGone(claim.metadata.uid);
        const namespace = claim.metadata.namespace ?? "";
        quotasOfNamespace(namespace);
        claimsHeldBack(namespace);
      },
    }),
    caches.quotas.addEventHandler({
      onAdd: (quota) => onQuota(quota, true),
      onUpdate: (previous, next) => onQuota(next, !jsonEqual(previous.spec, next.spec)),
      onDelete: (quota) => onQuota(quota, true),
    }),
    caches.hostPorts.addEventHandler({
      onAdd: onHostPort,
      onUpdate: (_previous, next) => onHostPort(next),
      onDelete: onHostPort,
    }),
    caches.pods.addEventHandler({
      onAdd: onPod,
      onUpdate: (previous, next) => {
        onPod(previous, false);
        onPod(next);
      },
      onDelete: onPod,
    }),
  ];
  return () => removers.forEach((remove) => remove());
}

/** Queues every HostPort without a port whose class's pools contain `port`: it may get it now. */
function requeuePendingFor(ctx: ControllerContext, controllers: ControllerSet, port: number): void {
  for (const hostPortClass of ctx.caches.classes.store.list()) {
    if (!inRanges(hostPortClass.spec.pools, port)) continue;
    const name = hostPortClass.metadata.name ?? "";
    for (const hostPort of ctx.caches.hostPorts.store.byIndex(INDEX.byClass, name)) {
      if ((hostPort.status?.port ?? 0) === 0) controllers.hostPorts.enqueue(objectKey(hostPort));
    }
  }
}

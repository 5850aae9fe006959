/**
 * The HostPortClaim controller: gather from the caches, plan with `planHostPortClaim`, act. The
 * finalizer goes only once a live pod list shows no pod that can still run naming the claim. A
 * claim whose cached copy predates this process's write waits for that write's event (else 409).
 *
 * @module
 */
import { CLAIM_PHASE } from "../api/constants.ts";
import type { HostPortClaim } from "../api/types.ts";
import { AlreadyExistsError } from "../kube/rest_client.ts";
import { NAMESPACE_INDEX, objectKey } from "../kube/informer.ts";
import { type ClaimPlan, planHostPortClaim } from "../reconcile/hostport_claim.ts";
import {
  awaitChange,
  done,
  EVENT_REASON,
  type Outcome,
  requeueAfter,
  withoutFinalizer,
} from "../reconcile/outcome.ts";
import { podsBlockingClaim } from "../reconcile/pods.ts";
import { classLimits, gateClaim, type QuotaExceeded } from "../quota/claim_quota.ts";
import {
  type ControllerContext,
  FirstSeen,
  INDEX,
  OwnWrites,
  portHolders,
  subjectOf,
} from "./context.ts";

/** A backstop in case the event of this process's own write is late (it normally comes first). */
const STALE_CACHE_RETRY_MS = 1_000;

/** The claim reconciler and the memory it keeps per claim. */
export interface ClaimReconciler {
  /** Reconciles the claim `namespace/name`. */
  reconcile(key: string, signal: AbortSignal): Promise<Outcome>;
  /** Drops what is remembered about a claim uid (its object is gone). */
  forget(uid: string): void;
  /**
   * The uids of claims this process finalized itself, whose HostPorts need not wait the window;
   * each is deleted once its HostPort released the port.
   */
  readonly finalized: Set<string>;
}

/** Builds the claim reconciler. */
export function createClaimReconciler(ctx: ControllerContext): ClaimReconciler {
  const firstSeen = new FirstSeen();
  const deletionSeen = new FirstSeen();
  const finalized = new Set<string>();
  const ownWrites = new OwnWrites();
  // Claims this process let start getting a port, counted against their quota before the cache
  // shows their HostPort (gather, decide and this note happen with no await in between).
  const granted = new Set<string>();
  return {
    async reconcile(key, signal) {
      const claim = ctx.caches.claims.store.get(key);
      if (claim === undefined) {
        ownWrites.delete(key);
        return done();
      }
      const version = claim.metadata.resourceVersion;
      if (ownWrites.isBehind(key, version)) return requeueAfter(STALE_CACHE_RETRY_MS);
      const uid = claim.metadata.uid ?? key;
      const namespace = claim.metadata.namespace ?? "";
      const nowMs = ctx.clock.now();
      const hostPort = ctx.caches.hostPorts.store.get(claim.spec.hostPortName ?? "");
      const pods = ctx.caches.pods.store.byIndex(INDEX.byPodClaim, key);
      const plan = planHostPortClaim({
        claim,
        hostPort,
        portHolders: portHolders(ctx.caches, hostPort?.status?.port ?? 0),
        classExists: ctx.caches.classes.store.get(claim.spec.hostPortClassName) !== undefined,
        blockingPods: podsBlockingClaim(pods, namespace, claim.metadata.name ?? "").length,
        nowMs,
        firstSeenMs: firstSeen.mark(uid, nowMs),
        deletionSeenMs: claim.metadata.deletionTimestamp
          ? deletionSeen.mark(uid, nowMs)
          : undefined,
        deletionGraceMs: ctx.claimDeletionGraceMs,
        pendingStatusDelayMs: ctx.pendingStatusDelayMs,
        quotaExceeded: quotaGate(ctx, claim, granted),
      });
      for (const step of plan.steps) {
        if (step.type === "createHostPort" || step.type === "bindHostPort") granted.add(uid);
        if (step.type === "event" && step.reason === EVENT_REASON.QuotaExceeded) {
          ctx.metrics.quotaExceeded.inc({ namespace, class: claim.spec.hostPortClassName });
        }
      }
      return await actOnClaim(ctx, claim, plan, signal, {
        onClaimWritten: () => ownWrites.note(key, version),
        onFinalized: () => finalized.add(uid),
      });
    },
    forget(uid) {
      granted.delete(uid);
      firstSeen.delete(uid);
      deletionSeen.delete(uid);
    },
    finalized,
  };
}

/**
 * The quota holding the claim back, if any. A claim counts against its quota once it holds or is
 * getting a port: `Bound`, its HostPort's `claimRef` names it, or this process `granted` it one.
 */
function quotaGate(
  ctx: ControllerContext,
  claim: HostPortClaim,
  granted: ReadonlySet<string>,
): QuotaExceeded | undefined {
  if (claim.metadata.deletionTimestamp) return undefined;
  const namespace = claim.metadata.namespace ?? "";
  const quotas = ctx.caches.quotas.store.byIndex(NAMESPACE_INDEX, namespace);
  if (classLimits(quotas, claim.spec.hostPortClassName).length === 0) return undefined;
  const counting = (other: HostPortClaim) => {
    const uid = other.metadata.uid ?? "";
    if (granted.has(uid) || other.status?.phase === CLAIM_PHASE.Bound) return true;
    return ctx.caches.hostPorts.store.byIndex(INDEX.byClaim, objectKey(other))
      .some((hostPort) => hostPort.spec.claimRef?.uid === uid);
  };
  if (counting(claim)) return undefined;
  const claims = ctx.caches.claims.store.byIndex(NAMESPACE_INDEX, namespace);
  return gateClaim(claim, quotas, { claims, counting });
}

async function actOnClaim(
  ctx: ControllerContext,
  claim: HostPortClaim,
  plan: ClaimPlan,
  abortSignal: AbortSignal,
  { onClaimWritten, onFinalized }: { onClaimWritten: () => void; onFinalized: () => void },
): Promise<Outcome> {
  const { hostPortClaims: claims, hostPorts } = ctx.clients;
  let current = claim;
  for (const step of plan.steps) {
    switch (step.type) {
      case "createHostPort":
        try {
          await hostPorts.create(step.hostPort, { abortSignal });
        } catch (error) {
          if (!(error instanceof AlreadyExistsError)) throw error; // made by an earlier try
        }
        break;
      case "updateClaim":
        current = await claims.update(step.claim, { abortSignal });
        onClaimWritten();
        break;
      case "bindHostPort":
        await hostPorts.update(step.hostPort, { abortSignal }); // CAS: the first claim wins
        break;
      case "setStatus":
        current = await claims.updateStatus({ ...current, status: step.status }, { abortSignal });
        onClaimWritten();
        break;
      case "removeFinalizer": {
        const namespace = current.metadata.namespace ?? "";
        const pods = await ctx.clients.podSummaries.listAll({ namespace, abortSignal });
        const blocking = podsBlockingClaim(pods.items, namespace, current.metadata.name ?? "");
        if (blocking.length > 0) {
          return awaitChange(`${blocking.length} pod(s) still use the claim`);
        }
        onFinalized(); // before the write: its DELETED event may reach the HostPort first
        current = await claims.update(withoutFinalizer(current), { abortSignal });
        onClaimWritten();
        ctx.logger.info("Claim finalized", { claim: objectKey(current) });
        break;
      }
      case "event":
        ctx.recorder.record(subjectOf(current), step.eventType, step.reason, step.message);
        break;
    }
  }
  return plan.outcome;
}

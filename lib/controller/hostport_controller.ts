/**
 * The HostPort controller: gather from the caches, reserving a port when `needsPort` says so
 * (rule 1), plan once with `planHostPort`, act. A refused status write releases the unused
 * reservation (rule 3); a won finalizer removal releases the port.
 *
 * @module
 */
import { AllocationUnavailableError } from "../allocation/cluster_port_allocator.ts";
import {
  errorMessage,
  type HostPort,
  type HostPortStatus,
  type ObjectReference,
} from "../api/types.ts";
import { ConflictError, NotFoundError, orUndefined } from "../kube/rest_client.ts";
import {
  type AllocationResult,
  type HostPortPlan,
  isClaimGone,
  needsPort,
  planHostPort,
} from "../reconcile/hostport.ts";
import {
  awaitChange,
  done,
  EVENT_REASON,
  isDeleting,
  type Outcome,
  withFinalizer,
  withoutFinalizer,
} from "../reconcile/outcome.ts";
import { podsHoldingPort } from "../reconcile/pods.ts";
import { type ControllerContext, FirstSeen, INDEX, portHolders, subjectOf } from "./context.ts";
import { describe, type ReconcileFunction } from "./controller.ts";

/**
 * The reservation made while gathering: the plan's input, when it committed (allocator clock, for
 * rule 2 right before the write), and a record failure, rethrown once the Pending status is
 * written (retry with backoff).
 */
type Reserved = AllocationResult & { readonly reservedAt?: number; readonly error?: unknown };

/**
 * Builds the HostPort reconciler; `finalized` holds the uids of claims this process finalized
 * (`ClaimReconciler.finalized`).
 */
export function createHostPortReconciler(
  ctx: ControllerContext,
  finalized: Set<string>,
): ReconcileFunction {
  const claimGoneSeen = new FirstSeen();
  return async (key, signal) => {
    const hostPort = ctx.caches.hostPorts.store.get(key);
    if (hostPort === undefined) {
      claimGoneSeen.delete(key);
      return done();
    }
    const port = hostPort.status?.port ?? 0;
    // The cache shows the port written: the reservation is the HostPort's now. Until then the
    // allocator keeps it, so a reconcile from a stale cache gets the same port back.
    if (port > 0) ctx.allocator.forget(key);
    const ref = hostPort.spec.claimRef ?? {};
    const hostPortClass = ctx.caches.classes.store.get(hostPort.spec.hostPortClassName);
    const claim = ref.name ? ctx.caches.claims.store.getByName(ref.name, ref.namespace) : undefined;
    const reserved = needsPort(hostPort, hostPortClass, claim)
      ? await reserve(ctx, key, hostPortClass.spec.pools)
      : undefined;
    const nowMs = ctx.clock.now();
    const gone = isDeleting(hostPort) && isClaimGone(hostPort, claim);
    const pods = gone
      ? ctx.caches.pods.store.byIndex(INDEX.byPodClaim, `${ref.namespace}/${ref.name}`)
      : [];
    const plan = planHostPort({
      hostPort,
      hostPortClass,
      portHolders: portHolders(ctx.caches, port),
      claim,
      nowMs,
      release: {
        holdingPods: podsHoldingPort(pods, ref, port),
        claimFinalizedHere: finalized.has(ref.uid ?? ""),
        claimGoneSeenMs: gone ? claimGoneSeen.mark(key, nowMs) : nowMs,
        deletionWindowMs: ctx.claimDeletionGraceMs,
      },
      ...(reserved === undefined ? {} : { allocation: reserved }),
    });
    return await actOnHostPort(ctx, hostPort, plan, signal, { finalized, reserved });
  };
}

/**
 * Reserves the first free port of `pools` for HostPort `name` (rule 1), as a value: a refusal
 * (record missing, or paused after a rebuild) or a record failure becomes `unavailable`.
 */
async function reserve(
  ctx: ControllerContext,
  name: string,
  pools: readonly { start: number; end: number }[],
): Promise<Reserved> {
  try {
    return await ctx.allocator.allocate(name, pools);
  } catch (error) {
    const unavailable = errorMessage(error);
    if (error instanceof AllocationUnavailableError) {
      return { ok: false, unavailable, retryInMs: error.retryInMs };
    }
    return { ok: false, unavailable, error };
  }
}

/** Executes one HostPort plan, carrying the latest version of the object between writes. */
async function actOnHostPort(
  ctx: ControllerContext,
  hostPort: HostPort,
  plan: HostPortPlan,
  abortSignal: AbortSignal,
  { finalized, reserved }: { finalized: Set<string>; reserved: Reserved | undefined },
): Promise<Outcome> {
  const { hostPorts } = ctx.clients;
  const className = hostPort.spec.hostPortClassName;
  const name = hostPort.metadata.name ?? "";
  let current = hostPort;
  if (reserved?.ok === false) {
    const reason = reserved.unavailable === undefined ? "exhausted" : "error";
    ctx.metrics.allocationFailures.inc({ class: className, reason });
  }
  /** Whether another cached HostPort holds `port` (a duplicate from before the record). */
  const heldElsewhere = (port: number) =>
    portHolders(ctx.caches, port).some((other) => other !== name);

  /** Removes the finalizer, then releases the port (the step's rules, `HostPortStep`). */
  const removeFinalizer = async (port?: number, podsOf?: ObjectReference): Promise<Outcome> => {
    if (port !== undefined && podsOf !== undefined) {
      const namespace = podsOf.namespace ?? "";
      const pods = await ctx.clients.podSummaries.listAll({ namespace, abortSignal });
      const holding = podsHoldingPort(pods.items, podsOf, port);
      if (holding.length > 0) return awaitChange(`${holding.length} pod(s) still hold the port`);
    }
    await hostPorts.update(withoutFinalizer(current), { abortSignal });
    if (podsOf?.uid) finalized.delete(podsOf.uid);
    if (port === undefined) return done();
    const outcome = await ctx.allocator.releaseAfterFinalizerRemoved(port, {
      heldElsewhere: heldElsewhere(port),
    }).catch((error) => ({ ok: false as const, reason: describe(error) }));
    if (outcome.ok) {
      ctx.metrics.releases.inc();
      const released = `Released port ${port}`;
      ctx.recorder.record(subjectOf(current), "Normal", EVENT_REASON.PortReleased, released);
    } else {
      // Leaking beats double-allocating: repair frees the port if nobody holds it.
      ctx.logger.warn("Port not released", { hostPort: name, port, reason: outcome.reason });
    }
    return done();
  };

  /** Deletes a dynamic HostPort whose claim is gone, once a live read of the claim agrees. */
  const deleteOrphan = async (): Promise<Outcome> => {
    const ref = current.spec.claimRef;
    const namespace = ref?.namespace;
    const claim = await orUndefined(
      ctx.clients.hostPortClaims.get(ref?.name ?? "", { namespace, abortSignal }),
    );
    if (!isClaimGone(current, claim)) return awaitChange("the claim cache to catch up");
    try {
      await hostPorts.delete(name, { preconditions: { uid: current.metadata.uid }, abortSignal });
      ctx.logger.info("Orphan HostPort deleted", { hostPort: name });
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
    }
    return done();
  };

  /**
   * Writes the reserved port only while its reservation is fresh (rule 2); a refused write
   * releases it unless a fresh read shows it written (rule 3); other failures keep it (rule 4).
   */
  const writeAllocation = async (status: HostPortStatus, port: number): Promise<void> => {
    const reservedAt = reserved?.reservedAt;
    if (reservedAt === undefined || !ctx.allocator.isReservationFresh(reservedAt)) {
      // Too late to write it; repair frees the reservation.
      throw new Error(`Cannot write port ${port} as its reservation is no longer fresh`);
    }
    try {
      current = await hostPorts.updateStatus({ ...current, status }, { abortSignal });
    } catch (error) {
      if (error instanceof ConflictError) await releaseIfUnwritten(port);
      throw error;
    }
    ctx.metrics.allocations.inc({ class: className });
  };

  /** After a refused status write: release the port unless a fresh read shows it written. */
  const releaseIfUnwritten = async (port: number): Promise<void> => {
    try {
      const fresh = await hostPorts.get(name, { abortSignal });
      if (fresh.status?.port === port) return;
    } catch (error) {
      if (!(error instanceof NotFoundError)) return; // unknown: keep it, repair decides
    }
    const outcome = await ctx.allocator.releaseUnused(name, port, {
      heldElsewhere: heldElsewhere(port),
    });
    if (!outcome.ok) ctx.logger.debug("Unused port kept", { hostPort: name, port, ...outcome });
  };

  for (const step of plan.steps) {
    switch (step.type) {
      case "addFinalizer":
        current = await hostPorts.update(withFinalizer(current), { abortSignal });
        break;
      case "removeFinalizer":
        return await removeFinalizer(step.releasePort, step.podsOf);
      case "deleteOrphan":
        return await deleteOrphan();
      case "setStatus":
        if (step.allocates !== undefined) {
          await writeAllocation(step.status, step.allocates);
        } else {
          const { status } = step;
          current = await hostPorts.updateStatus({ ...current, status }, { abortSignal });
        }
        break;
      case "event":
        ctx.recorder.record(subjectOf(current), step.eventType, step.reason, step.message);
        break;
    }
  }
  if (reserved?.error !== undefined) throw reserved.error;
  return plan.outcome;
}

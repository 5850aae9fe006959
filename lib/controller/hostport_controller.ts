/**
 * The HostPort controller: gather from the caches, reserving a port through the allocator when
 * `needsPort` says so (rule 1: reserve, then write), plan once with `planHostPort`, act. A
 * refused status write releases the unused reservation (rule 3); a won finalizer removal releases
 * the port (the allocator's `onReleased` then requeues the Pending HostPorts that could use it).
 *
 * @module
 */
import { AllocationUnavailableError } from "../allocation/cluster_port_allocator.ts";
import {
  claimRefMatches,
  hasClaimRef,
  type HostPort,
  type HostPortStatus,
} from "../api/hostport.ts";
import type { HostPortClaim } from "../api/hostport_claim.ts";
import type { ObjectReference } from "../api/meta.ts";
import { ConflictError, NotFoundError } from "../kube/errors.ts";
import {
  type AllocationResult,
  type HostPortPlan,
  type HostPortStep,
  isClaimGone,
  needsPort,
  planHostPort,
  type ReleaseFacts,
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
import {
  type ControllerContext,
  FirstSeen,
  INDEX,
  portHolders,
  rfc3339,
  subjectOf,
} from "./context.ts";
import { describe } from "./controller.ts";

/** What the HostPort reconciler asks the claim reconciler (see `ClaimReconciler`). */
export interface ClaimFinalizations {
  /** Whether this process finalized the claim with this uid after its deletion window. */
  finalizedHere(uid: string): boolean;
  /** Drops that memory. */
  forgetFinalized(uid: string): void;
}

/** The reservation made while gathering, as the actor needs it. */
interface Reserved {
  /** What the plan reads. */
  readonly result: AllocationResult;
  /** When the reservation committed (allocator clock), for rule 2 right before the write. */
  readonly reservedAt?: number;
  /** A record failure: the Pending status is written, then it is rethrown (retry with backoff). */
  readonly error?: unknown;
}

/** Builds the HostPort reconciler. */
export function createHostPortReconciler(
  ctx: ControllerContext,
  claims: ClaimFinalizations,
): (key: string, signal: AbortSignal) => Promise<Outcome> {
  const claimGoneSeen = new FirstSeen();
  return async (key, signal) => {
    const hostPort = ctx.caches.hostPorts.store.get(key);
    if (hostPort === undefined) {
      claimGoneSeen.forget(key);
      return done();
    }
    // The cache shows the port written: the reservation is the HostPort's now. Until then the
    // allocator keeps it, so a reconcile from a stale cache gets the same port back.
    if ((hostPort.status?.port ?? 0) > 0) ctx.allocator.forget(key);
    const ref = hostPort.spec.claimRef;
    const hostPortClass = ctx.caches.classes.store.get(hostPort.spec.hostPortClassName);
    const claim = ref?.name
      ? ctx.caches.claims.store.getByName(ref.name, ref.namespace)
      : undefined;
    const port = hostPort.status?.port ?? 0;
    const reserved = needsPort(hostPort, hostPortClass, claim)
      ? await reserve(ctx, key, hostPortClass.spec.pools)
      : undefined;
    const nowMs = ctx.clock.now();
    const plan = planHostPort({
      hostPort,
      hostPortClass,
      portHolders: portHolders(ctx.caches, port),
      claim,
      timestamp: rfc3339(nowMs),
      release: releaseFacts(ctx, hostPort, claim, nowMs, { claims, claimGoneSeen }),
      ...(reserved === undefined ? {} : { allocation: reserved.result }),
    });
    return await new HostPortActor(ctx, hostPort, signal, { claims, reserved }).run(plan);
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
    const outcome = await ctx.allocator.allocate(name, pools);
    if (!outcome.ok) return { result: { ok: false } };
    return { result: { ok: true, port: outcome.port }, reservedAt: outcome.reservedAt };
  } catch (error) {
    const unavailable = error instanceof Error ? error.message : String(error);
    if (error instanceof AllocationUnavailableError) {
      return { result: { ok: false, unavailable, retryInMs: error.retryInMs } };
    }
    return { result: { ok: false, unavailable }, error };
  }
}

/** Gathers what decides the release of a deleted HostPort whose claim is gone. */
function releaseFacts(
  ctx: ControllerContext,
  hostPort: HostPort,
  claim: HostPortClaim | undefined,
  nowMs: number,
  memory: { claims: ClaimFinalizations; claimGoneSeen: FirstSeen },
): ReleaseFacts {
  const ref = hostPort.spec.claimRef ?? {};
  const gone = isDeleting(hostPort) && hasClaimRef(ref) && isClaimGone(hostPort, claim);
  const name = hostPort.metadata.name ?? "";
  return {
    holdingPods: gone
      ? podsHoldingPort(
        ctx.caches.pods.store.byIndex(INDEX.byPodClaim, `${ref.namespace}/${ref.name}`),
        ref,
        hostPort.status?.port ?? 0,
      )
      : [],
    claimFinalizedHere: memory.claims.finalizedHere(ref.uid ?? ""),
    claimGoneSeenMs: gone ? memory.claimGoneSeen.mark(name, nowMs) : nowMs,
    nowMs,
    deletionWindowMs: ctx.settings.claimDeletionGraceMs,
  };
}

/** Executes one HostPort plan, carrying the latest version of the object between writes. */
class HostPortActor {
  #ctx: ControllerContext;
  #current: HostPort;
  #signal: AbortSignal;
  #claims: ClaimFinalizations;
  #reserved: Reserved | undefined;

  constructor(
    ctx: ControllerContext,
    hostPort: HostPort,
    signal: AbortSignal,
    options: { claims: ClaimFinalizations; reserved: Reserved | undefined },
  ) {
    this.#ctx = ctx;
    this.#current = hostPort;
    this.#signal = signal;
    this.#claims = options.claims;
    this.#reserved = options.reserved;
  }

  async run(plan: HostPortPlan): Promise<Outcome> {
    const reserved = this.#reserved;
    if (reserved?.result.ok === false) {
      const reason = reserved.result.unavailable === undefined ? "exhausted" : "error";
      this.#ctx.metrics.allocationFailures.inc({ class: this.#className(), reason });
    }
    for (const step of plan.steps) {
      const early = await this.#step(step);
      if (early !== undefined) return early;
    }
    if (reserved?.error !== undefined) throw reserved.error;
    return plan.outcome;
  }

  #className(): string {
    return this.#current.spec.hostPortClassName;
  }

  async #step(step: HostPortStep): Promise<Outcome | undefined> {
    const { hostPorts } = this.#ctx.clients;
    const options = { abortSignal: this.#signal };
    switch (step.type) {
      case "addFinalizer":
        this.#current = await hostPorts.update(withFinalizer(this.#current), options);
        return undefined;
      case "removeFinalizer":
        return await this.#removeFinalizer(step.releasePort, step.podsOf);
      case "deleteOrphan":
        return await this.#deleteOrphan();
      case "setStatus":
        if (step.allocates !== undefined) {
          await this.#writeAllocation(step.status, step.allocates);
          return undefined;
        }
        this.#current = await hostPorts.updateStatus(
          { ...this.#current, status: step.status },
          options,
        );
        return undefined;
      case "event":
        this.#ctx.recorder.record(
          subjectOf(this.#current),
          step.eventType,
          step.reason,
          step.message,
        );
        return undefined;
    }
  }

  /**
   * Removes the finalizer, then releases the port (rule 3). With `podsOf` (the gone claim), a
   * live pod list of its namespace must first show no pod that can still run holding the port.
   */
  async #removeFinalizer(
    port: number | undefined,
    podsOf: ObjectReference | undefined,
  ): Promise<Outcome> {
    if (port !== undefined && podsOf !== undefined) {
      const pods = await this.#ctx.clients.pods.listAll({
        namespace: podsOf.namespace ?? "",
        abortSignal: this.#signal,
      });
      const holding = podsHoldingPort(pods.items, podsOf, port);
      if (holding.length > 0) return awaitChange(`${holding.length} pod(s) still hold the port`);
    }
    await this.#ctx.clients.hostPorts.update(withoutFinalizer(this.#current), {
      abortSignal: this.#signal,
    });
    if (podsOf?.uid) this.#claims.forgetFinalized(podsOf.uid);
    if (port !== undefined) await this.#release(port);
    return done();
  }

  /** Releases the port of a HostPort whose finalizer this process removed (rule 3). */
  async #release(port: number): Promise<void> {
    const name = this.#current.metadata.name ?? "";
    const outcome = await this.#ctx.allocator.releaseAfterFinalizerRemoved(port, {
      heldElsewhere: this.#heldElsewhere(port),
    }).catch((error) => ({ ok: false as const, reason: describe(error) }));
    if (!outcome.ok) {
      // Leaking beats double-allocating: repair frees the port if nobody holds it.
      this.#ctx.logger.warn("Port not released", { hostPort: name, port, reason: outcome.reason });
      return;
    }
    this.#ctx.metrics.releases.inc();
    this.#ctx.recorder.record(
      subjectOf(this.#current),
      "Normal",
      EVENT_REASON.PortReleased,
      `Released port ${port}`,
    );
  }

  /** Whether a cached HostPort other than this one holds `port` (a duplicate from before the record). */
  #heldElsewhere(port: number): boolean {
    const name = this.#current.metadata.name;
    return this.#ctx.caches.hostPorts.store.byIndex(INDEX.byPort, String(port))
      .some((other) => other.metadata.name !== name);
  }

  /** Deletes a dynamic HostPort whose claim is gone, once a live read of the claim agrees. */
  async #deleteOrphan(): Promise<Outcome> {
    const ref = this.#current.spec.claimRef;
    const { claims, hostPorts } = this.#ctx.clients;
    try {
      const claim = await claims.get(ref?.name ?? "", {
        namespace: ref?.namespace,
        abortSignal: this.#signal,
      });
      if (claimRefMatches(ref, claim)) return awaitChange("the claim cache to catch up");
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
    }
    try {
      await hostPorts.delete(this.#current.metadata.name ?? "", {
        preconditions: { uid: this.#current.metadata.uid },
        abortSignal: this.#signal,
      });
      this.#ctx.logger.info("Orphan HostPort deleted", { hostPort: this.#current.metadata.name });
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
    }
    return done();
  }

  /**
   * Writes the port reserved while gathering (rule 1), only while its reservation is fresh
   * (rule 2); a refused write releases the reservation unless the port shows written (rule 3),
   * and any other failure keeps it (rule 4: unknown outcome).
   */
  async #writeAllocation(status: HostPortStatus, port: number): Promise<void> {
    const reservedAt = this.#reserved?.reservedAt;
    if (reservedAt === undefined || !this.#ctx.allocator.isReservationFresh(reservedAt)) {
      // Too late to write it; repair frees the reservation.
      throw new Error(`Cannot write port ${port} as its reservation is no longer fresh`);
    }
    try {
      this.#current = await this.#ctx.clients.hostPorts.updateStatus(
        { ...this.#current, status },
        { abortSignal: this.#signal },
      );
    } catch (error) {
      if (error instanceof ConflictError) await this.#releaseIfUnwritten(port);
      throw error;
    }
    this.#ctx.metrics.allocations.inc({ class: this.#className() });
  }

  /** After a refused status write: release the port unless a fresh read shows it written. */
  async #releaseIfUnwritten(port: number): Promise<void> {
    const name = this.#current.metadata.name ?? "";
    try {
      const fresh = await this.#ctx.clients.hostPorts.get(name, { abortSignal: this.#signal });
      if (fresh.status?.port === port) return;
    } catch (error) {
      if (!(error instanceof NotFoundError)) return; // unknown: keep it, repair decides
    }
    const outcome = await this.#ctx.allocator.releaseUnused(name, port, {
      heldElsewhere: this.#heldElsewhere(port),
    });
    if (!outcome.ok) {
      this.#ctx.logger.debug("Unused port kept", { hostPort: name, port, ...outcome });
    }
  }
}

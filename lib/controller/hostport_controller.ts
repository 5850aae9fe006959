/**
 * The HostPort controller: gather from the caches, plan with `planHostPort`, act. Allocation
 * reserves through the allocator before the status write (rule 1); a refused status write
 * releases the unused reservation (rule 3); a won finalizer removal releases the port (the
 * allocator's `onReleased` then requeues the Pending HostPorts that could use it).
 *
 * @module
 */
import { AllocationUnavailableError } from "../allocation/mod.ts";
import {
  claimRefMatches,
  hasClaimRef,
  type HostPort,
  type HostPortClaim,
  type HostPortClass,
  type ObjectReference,
} from "../api/mod.ts";
import { ConflictError, NotFoundError } from "../kube/mod.ts";
import {
  awaitChange,
  done,
  EVENT_REASON,
  type HostPortPlan,
  type HostPortStep,
  isClaimGone,
  isDeleting,
  type Outcome,
  planHostPort,
  podsHoldingPort,
  type ReleaseFacts,
  requeueAfter,
  statusAfterAllocation,
  withFinalizer,
  withoutFinalizer,
} from "../reconcile/mod.ts";
import { INDEX } from "./caches.ts";
import { type ControllerContext, subjectOf } from "./context.ts";
import { describe } from "./controller.ts";
import { FirstSeen, rfc3339 } from "./first_seen.ts";

/** What the HostPort reconciler asks the claim reconciler (see `ClaimReconciler`). */
export interface ClaimFinalizations {
  /** Whether this process finalized the claim with this uid after its deletion window. */
  finalizedHere(uid: string): boolean;
  /** Drops that memory. */
  forgetFinalized(uid: string): void;
}

/** How often a HostPort looks again while the allocation record is being rebuilt. */
const UNAVAILABLE_POLL_MS = 1_000;

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
    const nowMs = ctx.clock.now();
    const plan = planHostPort({
      hostPort,
      hostPortClass,
      portHolders: port > 0
        ? ctx.caches.hostPorts.store.byIndex(INDEX.byPort, String(port))
          .map((holder) => holder.metadata.name ?? "")
        : [],
      claim,
      timestamp: rfc3339(nowMs),
      release: releaseFacts(ctx, hostPort, claim, nowMs, { claims, claimGoneSeen }),
    });
    const act = new HostPortActor(ctx, hostPort, hostPortClass, signal, claims);
    return await act.run(plan);
  };
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
  #class: HostPortClass | undefined;
  #signal: AbortSignal;
  #claims: ClaimFinalizations;

  constructor(
    ctx: ControllerContext,
    hostPort: HostPort,
    hostPortClass: HostPortClass | undefined,
    signal: AbortSignal,
    claims: ClaimFinalizations,
  ) {
    this.#ctx = ctx;
    this.#current = hostPort;
    this.#class = hostPortClass;
    this.#signal = signal;
    this.#claims = claims;
  }

  async run(plan: HostPortPlan): Promise<Outcome> {
    for (const step of plan.steps) {
      const early = await this.#step(step);
      if (early !== undefined) return early;
    }
    return plan.outcome;
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
      case "allocate":
        return await this.#allocate(step.className, step.pools);
      case "setStatus":
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
   * Reserves a port, then writes it (rule 1); exhaustion is written as Pending, and so is an
   * allocation that cannot proceed (`AllocationUnavailable`, with the cause and a Warning Event):
   * no HostPort waits without a status saying why.
   */
  async #allocate(className: string, pools: readonly { start: number; end: number }[]) {
    const { allocator, metrics } = this.#ctx;
    const name = this.#current.metadata.name ?? "";
    let result;
    try {
      result = await allocator.allocate(name, pools);
    } catch (error) {
      metrics.allocationFailures.inc({ class: className, reason: "error" });
      return await this.#unavailable(error);
    }
    const timestamp = rfc3339(this.#ctx.clock.now());
    if (!result.ok) {
      metrics.allocationFailures.inc({ class: className, reason: "exhausted" });
      await this.#runSteps(statusAfterAllocation(this.#current, this.#class!, result, timestamp));
      return awaitChange("a port of the class to be released");
    }
    if (!allocator.isReservationFresh(result.reservedAt)) {
      // Rule 2: too late to write it; repair frees the reservation.
      throw new Error(`Cannot write port ${result.port} as its reservation is no longer fresh`);
    }
    try {
      await this.#runSteps(statusAfterAllocation(this.#current, this.#class!, result, timestamp));
    } catch (error) {
      if (error instanceof ConflictError) await this.#releaseIfUnwritten(result.port);
      throw error; // other failures: outcome unknown, keep the reservation (rule 4)
    }
    metrics.allocations.inc({ class: className });
    return done();
  }

  /**
   * Writes `Allocated=False` / `AllocationUnavailable` naming the cause. When the allocator
   * refused (record missing or paused after a rebuild), look again when it says, or in a second
   * while repair rebuilds (no write happens while nothing changed); a record failure is rethrown
   * so the controller retries with backoff.
   */
  async #unavailable(error: unknown): Promise<Outcome> {
    const message = error instanceof Error ? error.message : String(error);
    const timestamp = rfc3339(this.#ctx.clock.now());
    const steps = statusAfterAllocation(this.#current, this.#class!, {
      ok: false,
      unavailable: message,
    }, timestamp);
    await this.#runSteps(steps);
    if (error instanceof AllocationUnavailableError) {
      return requeueAfter(error.retryInMs > 0 ? error.retryInMs : UNAVAILABLE_POLL_MS);
    }
    throw error;
  }

  async #runSteps(steps: readonly HostPortStep[]): Promise<void> {
    for (const step of steps) await this.#step(step);
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

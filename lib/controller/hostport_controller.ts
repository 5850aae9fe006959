/**
 * The HostPort controller: gather from the caches, plan with `planHostPort`, act. Allocation
 * reserves through the allocator before the status write (rule 1); a refused status write
 * releases the unused reservation (rule 3); a won finalizer removal releases the port (the
 * allocator's `onReleased` then requeues the Pending HostPorts that could use it).
 *
 * @module
 */
import { AllocationUnavailableError } from "../allocation/mod.ts";
import type { HostPort, HostPortClass } from "../api/mod.ts";
import { ConflictError, NotFoundError } from "../kube/mod.ts";
import {
  awaitChange,
  claimRefMatches,
  done,
  EVENT_REASON,
  type HostPortPlan,
  type HostPortStep,
  type Outcome,
  planHostPort,
  requeueAfter,
  statusAfterAllocation,
  withFinalizer,
  withoutFinalizer,
} from "../reconcile/mod.ts";
import { INDEX } from "./caches.ts";
import { type ControllerContext, subjectOf } from "./context.ts";
import { describe } from "./controller.ts";
import { rfc3339 } from "./first_seen.ts";

/** How often a HostPort looks again while the allocation record is being rebuilt. */
const UNAVAILABLE_POLL_MS = 1_000;

/** Builds the HostPort reconciler. */
export function createHostPortReconciler(
  ctx: ControllerContext,
): (key: string, signal: AbortSignal) => Promise<Outcome> {
  return async (key, signal) => {
    const hostPort = ctx.caches.hostPorts.store.get(key);
    if (hostPort === undefined) return done();
    // The cache shows the port written: the reservation is the HostPort's now. Until then the
    // allocator keeps it, so a reconcile from a stale cache gets the same port back.
    if ((hostPort.status?.port ?? 0) > 0) ctx.allocator.forget(key);
    const ref = hostPort.spec.claimRef;
    const hostPortClass = ctx.caches.classes.store.get(hostPort.spec.hostPortClassName);
    const port = hostPort.status?.port ?? 0;
    const plan = planHostPort({
      hostPort,
      hostPortClass,
      portHolders: port > 0
        ? ctx.caches.hostPorts.store.byIndex(INDEX.byPort, String(port))
          .map((holder) => holder.metadata.name ?? "")
        : [],
      claim: ref?.name ? ctx.caches.claims.store.getByName(ref.name, ref.namespace) : undefined,
      timestamp: rfc3339(ctx.clock.now()),
    });
    const act = new HostPortActor(ctx, hostPort, hostPortClass, signal);
    return await act.run(plan);
  };
}

/** Executes one HostPort plan, carrying the latest version of the object between writes. */
class HostPortActor {
  #ctx: ControllerContext;
  #current: HostPort;
  #class: HostPortClass | undefined;
  #signal: AbortSignal;

  constructor(
    ctx: ControllerContext,
    hostPort: HostPort,
    hostPortClass: HostPortClass | undefined,
    signal: AbortSignal,
  ) {
    this.#ctx = ctx;
    this.#current = hostPort;
    this.#class = hostPortClass;
    this.#signal = signal;
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
        await hostPorts.update(withoutFinalizer(this.#current), options);
        if (step.releasePort !== undefined) await this.#release(step.releasePort);
        return done();
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

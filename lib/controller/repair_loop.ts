/**
 * Runs the allocator's repair pass (docs/architecture.md rule 6) at start, every 3 minutes, when
 * the earliest leak candidate's holdoff ends, and at once when the record is found deleted; after
 * a failure with backoff. Its findings become Events, metrics, logs and requeues.
 *
 * @module
 */
import { backoffDelay, sleep, type TimerHandle } from "../kube/mod.ts";
import { EVENT_REASON } from "../reconcile/outcome.ts";
import type { AllocationRepair, RepairFindings } from "../allocation/allocation_repair.ts";
import { type ControllerContext, portHolders, subjectOf } from "./context.ts";
import { describe } from "./controller.ts";

/** Time between passes after the first. */
const REPAIR_INTERVAL_MS = 180_000;

/** Options of {@linkcode RepairLoop}. */
export interface RepairLoopOptions {
  /** Called with ports a pass freed, to requeue HostPorts waiting for one. */
  readonly onPortsFreed: (ports: readonly number[]) => void;
  /** Queues a HostPort by name (its conditions are recomputed). */
  readonly enqueueHostPort: (name: string) => void;
}

/** Periodic repair passes. */
export class RepairLoop {
  #ctx: ControllerContext;
  #pass: AllocationRepair;
  #options: RepairLoopOptions;
  #abort = new AbortController();
  #timer: TimerHandle | undefined;
  #scheduled = false;
  #again = false;
  #failures = 0;
  #nextFreeInMs: number | undefined;

  /** Creates a stopped loop. */
  constructor(ctx: ControllerContext, pass: AllocationRepair, options: RepairLoopOptions) {
    this.#ctx = ctx;
    this.#pass = pass;
    this.#options = options;
  }

  /** Runs passes, backing off after failures, until one succeeds; false if stopped first. */
  async runUntilFirstSuccess(): Promise<boolean> {
    while (!this.#abort.signal.aborted) {
      if (await this.#runOnce()) return true;
      await sleep(this.#ctx.clock, this.#nextDelay(), this.#abort.signal);
    }
    return false;
  }

  /** Runs one pass; returns whether it succeeded (failures are logged and counted). */
  async #runOnce(): Promise<boolean> {
    try {
      const report = await this.#pass.runOnce();
      this.#ctx.metrics.repairRuns.inc({ result: "success" });
      this.#failures = 0;
      this.#nextFreeInMs = report.nextFreeInMs;
      this.#handle(report);
      return true;
    } catch (error) {
      if (this.#abort.signal.aborted) return false;
      this.#failures++;
      this.#ctx.metrics.repairRuns.inc({ result: "error" });
      this.#ctx.logger.error("Repair pass failed", { error: describe(error) });
      return false;
    }
  }

  /** Schedules the next pass (see the module documentation), and every one after it. */
  schedule(): void {
    if (this.#abort.signal.aborted) return;
    this.#scheduled = true;
    this.#ctx.clock.clearTimeout(this.#timer);
    this.#timer = this.#ctx.clock.setTimeout(async () => {
      this.#timer = undefined;
      await this.#runOnce();
      this.schedule();
    }, this.#nextDelay());
  }

  /** Runs a pass as soon as possible (after the running one, if any). */
  runSoon(): void {
    if (!this.#scheduled || this.#abort.signal.aborted) return;
    this.#again = true;
    // A running pass (no timer) schedules the next one when it ends (at once, as `#again` is set).
    if (this.#timer !== undefined) this.schedule();
  }

  /** Reports held ports the allocator found released in the record and reserved again. */
  reportRestored(ports: readonly number[]): void {
    this.#ctx.metrics.repairFindings.inc({ finding: "reservation_restored" }, ports.length);
    this.#ctx.logger.warn(
      "The allocation record showed held ports released (restored or edited); reserved them again",
      { ports },
    );
    this.#restoredEvents(ports);
  }

  #nextDelay(): number {
    if (this.#again) {
      this.#again = false;
      return 0;
    }
    if (this.#failures > 0) {
      return backoffDelay(this.#failures - 1, { initialMs: 500, maxMs: 30_000 });
    }
    return Math.min(REPAIR_INTERVAL_MS, this.#nextFreeInMs ?? Infinity);
  }

  /** Stops the loop and aborts a running pass. */
  stop(): void {
    this.#abort.abort();
    this.#ctx.clock.clearTimeout(this.#timer);
  }

  #handle(findings: RepairFindings): void {
    const { metrics, logger } = this.#ctx;
    const count = (finding: string, n: number) => {
      if (n > 0) metrics.repairFindings.inc({ finding }, n);
    };
    count("reservation_restored", findings.reserved.length);
    count("reserve_raced", findings.reserveRaced.length);
    count("duplicate", findings.duplicates.length);
    count("out_of_pool", findings.outsidePools.length);
    count("invalid_port", findings.invalid.length);
    count("leak_freed", findings.freed.length);
    count("unknown_outcome", findings.unknown.length);
    metrics.repairLeakCandidates.set({}, findings.leakCandidates.length);
    if (findings.rebuilt !== undefined) {
      count("record_rebuilt", 1);
      logger.error(
        "The allocation record was deleted; re-created it from every port anyone may hold, " +
          "and paused allocation for the leak holdoff",
        { ports: findings.rebuilt.length },
      );
    }
    this.#restoredEvents(findings.reserved);
    if (findings.reserveRaced.length > 0) {
      const ports = findings.reserveRaced;
      logger.error("Held ports were reserved by another process during repair", { ports });
    }
    for (const { port, holders } of findings.duplicates) {
      logger.error("Port held by several HostPorts", { port, hostPorts: holders });
      for (const name of holders) {
        const others = holders.filter((other) => other !== name).join(", ");
        const message = `Port ${port} is also held by HostPort ${others}`;
        this.#event(name, "Warning", EVENT_REASON.PortDuplicated, message);
      }
    }
    for (const { holder } of findings.outsidePools) this.#options.enqueueHostPort(holder);
    for (const { holder: hostPort, port } of findings.invalid) {
      logger.warn("HostPort holds an invalid port", { hostPort, port });
    }
    if (findings.freed.length > 0) {
      logger.warn("Freed leaked port reservations", { ports: findings.freed });
      this.#options.onPortsFreed(findings.freed);
    }
  }

  #restoredEvents(ports: readonly number[]): void {
    for (const port of ports) {
      const message = `Reserved port ${port} in the allocation record, which was missing it`;
      for (const hostPort of portHolders(this.#ctx.caches, port)) {
        this.#event(hostPort, "Normal", EVENT_REASON.PortReservationRestored, message);
      }
    }
  }

  #event(name: string, type: "Normal" | "Warning", reason: string, message: string): void {
    const hostPort = this.#ctx.caches.hostPorts.store.get(name);
    if (hostPort) this.#ctx.recorder.record(subjectOf(hostPort), type, reason, message);
  }
}

/**
 * Runs the allocator's repair pass (docs/architecture.md rule 6) at start and periodically, and
 * turns its findings into Events, metrics, logs and requeues. The HostPort controller starts only
 * after a first pass succeeded, so the record knows every port a HostPort holds before anything
 * is allocated.
 *
 * @module
 */
import { backoffDelay, sleep, type TimerHandle } from "../kube/mod.ts";
import { EVENT_REASON } from "../reconcile/mod.ts";
import type { RepairFindings, RepairPass } from "./allocator_seam.ts";
import { INDEX } from "./caches.ts";
import { type ControllerContext, subjectOf } from "./context.ts";
import { describe } from "./controller.ts";

/** Options of {@linkcode RepairLoop}. */
export interface RepairLoopOptions {
  /** Time between passes after the first; 0 turns periodic passes off. */
  readonly intervalMs: number;
  /** Called with ports a pass freed, to requeue HostPorts waiting for one. */
  readonly onPortsFreed: (ports: readonly number[]) => void;
  /** Queues a HostPort by name (its conditions are recomputed). */
  readonly enqueueHostPort: (name: string) => void;
}

/** Periodic repair passes. */
export class RepairLoop {
  #ctx: ControllerContext;
  #pass: RepairPass;
  #options: RepairLoopOptions;
  #abort = new AbortController();
  #timer: TimerHandle | undefined;

  /** Creates a stopped loop. */
  constructor(ctx: ControllerContext, pass: RepairPass, options: RepairLoopOptions) {
    this.#ctx = ctx;
    this.#pass = pass;
    this.#options = options;
  }

  /** Runs passes, backing off after failures, until one succeeds; false if stopped first. */
  async runUntilFirstSuccess(): Promise<boolean> {
    for (let attempt = 0; !this.#abort.signal.aborted; attempt++) {
      if (await this.runOnce()) return true;
      const delay = backoffDelay(attempt, { initialMs: 500, maxMs: 30_000 });
      await sleep(this.#ctx.clock, delay, this.#abort.signal);
    }
    return false;
  }

  /** Runs one pass; returns whether it succeeded (failures are logged and counted). */
  async runOnce(): Promise<boolean> {
    try {
      const report = await this.#pass.runOnce();
      this.#ctx.metrics.repairRuns.inc({ result: "success" });
      this.#handle(report);
      return true;
    } catch (error) {
      if (this.#abort.signal.aborted) return false;
      this.#ctx.metrics.repairRuns.inc({ result: "error" });
      this.#ctx.logger.error("Repair pass failed", { error: describe(error) });
      return false;
    }
  }

  /** Schedules the periodic passes. */
  schedule(): void {
    if (!(this.#options.intervalMs > 0) || this.#abort.signal.aborted) return;
    this.#timer = this.#ctx.clock.setTimeout(async () => {
      await this.runOnce();
      this.schedule();
    }, this.#options.intervalMs);
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
    count("out_of_pool", findings.outOfPool.length);
    count("invalid_port", findings.invalid.length);
    count("leak_freed", findings.freed.length);
    count("unknown_outcome", findings.unknown.length);
    metrics.repairLeakCandidates.set({}, findings.leakCandidates.length);
    for (const port of findings.reserved) {
      for (const hostPort of this.#holders(port)) {
        this.#event(
          hostPort,
          "Normal",
          EVENT_REASON.PortReservationRestored,
          `Reserved port ${port} in the allocation record, which was missing it`,
        );
      }
    }
    if (findings.reserveRaced.length > 0) {
      logger.error("Held ports were reserved by another process during repair", {
        ports: findings.reserveRaced,
      });
    }
    for (const { port, holders } of findings.duplicates) {
      logger.error("Port held by several HostPorts", { port, hostPorts: holders });
      for (const name of holders) {
        const others = holders.filter((other) => other !== name).join(", ");
        this.#event(
          name,
          "Warning",
          EVENT_REASON.PortDuplicated,
          `Port ${port} is also held by HostPort ${others}`,
        );
      }
    }
    for (const { hostPort } of findings.outOfPool) this.#options.enqueueHostPort(hostPort);
    for (const { hostPort, port } of findings.invalid) {
      logger.warn("HostPort holds an invalid port", { hostPort, port });
    }
    if (findings.freed.length > 0) {
      logger.warn("Freed leaked port reservations", { ports: findings.freed });
      this.#options.onPortsFreed(findings.freed);
    }
  }

  #holders(port: number): string[] {
    return this.#ctx.caches.hostPorts.store.byIndex(INDEX.byPort, String(port))
      .map((hostPort) => hostPort.metadata.name ?? "");
  }

  #event(name: string, type: "Normal" | "Warning", reason: string, message: string): void {
    const hostPort = this.#ctx.caches.hostPorts.store.get(name);
    if (hostPort !== undefined) {
      this.#ctx.recorder.record(subjectOf(hostPort), type, reason, message);
    }
  }
}

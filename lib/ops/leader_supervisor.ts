/**
 * `LeaderSupervisor`: runs the controllers only while this process leads. It waits for the
 * Lease, starts the controllers, renews, and when the Lease is lost stops them (bounded) and
 * competes again, so the webhook on the same process keeps serving throughout. Without an
 * elector (leader election off) the controllers simply run until shutdown.
 *
 * @module
 */
import type { Logger } from "./contracts.ts";
import type { CheckResult } from "./health.ts";
import type { HoldOutcome, LeaderElector } from "./leader_elector.ts";

/** Running controllers, as `startControllers(deps)` returns them. */
export interface ControllerRun {
  /** Resolves once the informer caches have synced (`false`: stopped first). */
  synced: Promise<unknown>;
  /** Stops the controllers, finishing or aborting in-flight work. */
  stop(): Promise<void>;
}

/** The part of `LeaderElector` the supervisor uses. */
export type Elector = Pick<LeaderElector, "acquire" | "holdUntilLost" | "release">;

/** Options of `LeaderSupervisor`. */
export interface LeaderSupervisorOptions {
  /** The elector; undefined runs the controllers unconditionally. */
  elector: Elector | undefined;
  /** Starts a fresh set of controllers. */
  start: () => ControllerRun | Promise<ControllerRun>;
  /** Bound on stopping the controllers, in ms. */
  stopTimeoutMs: number;
  /** Logger. */
  logger: Logger;
}

/** How `run` ended: asked to stop, or the controllers did not stop within the bound. */
export type SuperviseOutcome = "stopped" | "stuck";

/** Resolves true when `promise` settles within `ms`, false otherwise (never rejects). */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>((resolve) => timer = setTimeout(() => resolve(false), ms));
  try {
    return await Promise.race([promise.then(() => true, () => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function aborted(signal: AbortSignal): Promise<HoldOutcome> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve("stopped");
    signal.addEventListener("abort", () => resolve("stopped"), { once: true });
  });
}

/** Supervises the leader-only work. */
export class LeaderSupervisor {
  #o: LeaderSupervisorOptions;
  #run: ControllerRun | undefined;
  #synced = false;

  /** Creates an idle supervisor; call `run()`. */
  constructor(options: LeaderSupervisorOptions) {
    this.#o = options;
  }

  /** Whether controllers are running now. */
  get running(): boolean {
    return this.#run !== undefined;
  }

  /**
   * Readiness: a standby (not leading) is ready; a running set of controllers is ready once
   * its caches synced.
   */
  readiness(): CheckResult {
    if (!this.#run) {
      return this.#o.elector ? true : "controllers are not running";
    }
    return this.#synced ? true : "informer caches have not synced yet";
  }

  /**
   * Competes, runs and re-competes until `signal` aborts. On abort it stops the controllers
   * (within `stopTimeoutMs`) and then releases the Lease, so a standby takes over at once.
   */
  async run(signal: AbortSignal): Promise<SuperviseOutcome> {
    const { elector, logger } = this.#o;
    while (!signal.aborted) {
      if (elector && !await elector.acquire(signal)) break;
      let outcome: HoldOutcome | "stuck";
      try {
        outcome = await this.#runControllers(signal);
      } catch (error) {
        await elector?.release(); // the controllers could not start: let a standby try
        throw error;
      }
      if (signal.aborted) {
        await elector?.release(); // the process exits next: let a standby take over now
        return outcome === "stuck" ? "stuck" : "stopped";
      }
      if (outcome === "stuck") return "stuck";
      logger.warn("controllers stopped after losing the lease; competing again");
    }
    return "stopped";
  }

  async #runControllers(signal: AbortSignal): Promise<HoldOutcome | "stuck"> {
    const { elector, logger } = this.#o;
    const run = await this.#o.start();
    this.#run = run;
    this.#synced = false;
    run.synced.then((value) => {
      if (this.#run === run && value !== false) this.#synced = true;
    }, () => {});
    const outcome = elector ? await elector.holdUntilLost(signal) : await aborted(signal);
    logger.info("stopping controllers", { reason: outcome });
    const stopped = await settlesWithin(run.stop(), this.#o.stopTimeoutMs);
    this.#run = undefined;
    this.#synced = false;
    if (!stopped) {
      logger.error("controllers did not stop in time", { timeoutMs: this.#o.stopTimeoutMs });
      return "stuck";
    }
    return outcome;
  }
}

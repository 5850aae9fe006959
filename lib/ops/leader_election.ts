/**
 * Lease-based leader election with client-go's semantics and timing. A Lease expires only by the
 * candidate's own clock, `leaseDurationSeconds` after it last saw the record change (never by
 * `renewTime`), so clock skew cannot make two leaders; the leader steps down after
 * `renewDeadline` (< `leaseDuration`) without a renewal, before anyone else can take over.
 * `LeaderSupervisor` runs the controllers only while this process leads.
 *
 * @module
 */
import type { Lease, LeaseSpec } from "kubernetes-types/coordination/v1.d.ts";
import { microTime } from "./event_recorder.ts";
import {
  AlreadyExistsError,
  type Clock,
  ConflictError,
  orUndefined,
  type ResourceClient,
  sleep,
  SYSTEM_CLOCK,
} from "../kube/mod.ts";
import type { Gauge, LogFields, Logger, MetricsRegistry } from "./contracts.ts";
import type { CheckResult } from "./http_endpoints.ts";

/** A Lease's spec and when (local monotonic ms) the candidate first saw it. */
export interface Observation {
  spec: LeaseSpec;
  observedAtMs: number;
}

/** Whether `identity` may take the lease: it is free, its own, or expired by the local clock. */
export function mayAcquire(observation: Observation, identity: string, nowMs: number): boolean {
  const { holderIdentity, leaseDurationSeconds } = observation.spec;
  if (!holderIdentity || holderIdentity === identity) return true;
  return observation.observedAtMs + (leaseDurationSeconds ?? 0) * 1000 <= nowMs;
}

/** The spec to write on create (no `previous`), renewal, or takeover (counts a transition). */
export function claimSpec(
  previous: LeaseSpec | undefined,
  identity: string,
  nowMs: number,
  leaseDurationMs: number,
): LeaseSpec {
  const renewing = previous?.holderIdentity === identity;
  const now = microTime(nowMs);
  return {
    holderIdentity: identity,
    leaseDurationSeconds: Math.max(1, Math.ceil(leaseDurationMs / 1000)),
    acquireTime: renewing && previous?.acquireTime ? previous.acquireTime : now,
    renewTime: now,
    leaseTransitions: previous ? (previous.leaseTransitions ?? 0) + (renewing ? 0 : 1) : 0,
  };
}

/** The spec that gives the lease up: no holder and one second, so a standby takes over at once. */
export function releaseSpec(previous: LeaseSpec, nowMs: number): LeaseSpec {
  return {
    ...claimSpec(previous, "", nowMs, 1000),
    leaseTransitions: previous.leaseTransitions ?? 0,
  };
}

/** A clock on the monotonic timer (immune to wall-clock steps), roughly in epoch ms. */
const MONOTONIC_CLOCK: Clock = {
  ...SYSTEM_CLOCK,
  now: () => performance.timeOrigin + performance.now(),
};

/** Options of `LeaderElector`: the Lease, our unique identity, and client-go's timings in ms. */
export interface LeaderElectorOptions {
  leases: Pick<ResourceClient<Lease>, "get" | "create" | "update">;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  /** Defaults to the monotonic clock. */
  clock?: Clock;
  random?: () => number;
  logger?: Logger;
  metrics?: MetricsRegistry;
}

/** Why `holdUntilLost` returned. */
export type HoldOutcome = "lost" | "stopped";

/** Competes for one Lease. Not reentrant: one `acquire`/`holdUntilLost` at a time. */
export class LeaderElector {
  #o: LeaderElectorOptions;
  #clock: Clock;
  #observed: Observation | undefined;
  #lease: Lease | undefined;
  #leader = false;
  #lastRenewMs = 0;
  #status: Gauge | undefined;

  /** Creates an elector that is not leader yet. */
  constructor(options: LeaderElectorOptions) {
    this.#o = options;
    this.#clock = options.clock ?? MONOTONIC_CLOCK;
    this.#status = options.metrics?.gauge(
      "leader_election_master_status",
      "1 while this process holds the leader-election Lease, else 0",
      ["name"],
    );
    this.#setLeader(false);
  }

  /** Retries until the Lease is ours (true) or `signal` aborts (false). */
  async acquire(signal: AbortSignal): Promise<boolean> {
    let waitingFor: string | undefined;
    while (!signal.aborted) {
      if (await this.#tryAcquireOrRenew(signal, this.#o.renewDeadlineMs)) {
        this.#setLeader(true);
        this.#log("info", "acquired the leader-election lease");
        return true;
      }
      const holder = this.#observed?.spec.holderIdentity;
      if (holder && holder !== waitingFor) {
        waitingFor = holder;
        this.#log("info", "waiting for the leader-election lease", { holder });
      }
      const jitter = 1 + 1.2 * (this.#o.random ?? Math.random)();
      await sleep(this.#clock, this.#o.retryPeriodMs * jitter, signal);
    }
    return false;
  }

  /**
   * Renews every `retryPeriod`; resolves `"lost"` after `renewDeadline` without a renewal, or
   * `"stopped"` when `signal` aborts (still leader: call `release()`).
   */
  async holdUntilLost(signal: AbortSignal): Promise<HoldOutcome> {
    while (!signal.aborted && this.#leader) {
      await sleep(this.#clock, this.#o.retryPeriodMs, signal);
      if (signal.aborted) break;
      const remaining = this.#lastRenewMs + this.#o.renewDeadlineMs - this.#clock.now();
      if (remaining > 0 && await this.#tryAcquireOrRenew(signal, remaining)) continue;
      if (this.#clock.now() - this.#lastRenewMs >= this.#o.renewDeadlineMs) {
        this.#setLeader(false);
        this.#log("error", "lost the leader-election lease");
        return "lost";
      }
    }
    return this.#leader ? "stopped" : "lost";
  }

  /** Releases the Lease so a standby takes over now; true when written (no-op unless leader). */
  async release(): Promise<boolean> {
    if (!this.#leader || !this.#lease || !this.#observed) return false;
    this.#setLeader(false);
    const spec = releaseSpec(this.#observed.spec, this.#clock.now());
    try {
      await this.#o.leases.update({ ...this.#lease, spec }, {
        namespace: this.#o.namespace,
        abortSignal: AbortSignal.timeout(this.#o.renewDeadlineMs),
      });
      this.#log("info", "released the leader-election lease");
      return true;
    } catch (error) {
      this.#log("warn", "cannot release the leader-election lease", { error });
      return false;
    }
  }

  #log(level: "info" | "warn" | "error", message: string, fields?: LogFields): void {
    const { namespace, name, identity } = this.#o;
    this.#o.logger?.[level](message, { lease: `${namespace}/${name}`, identity, ...fields });
  }

  #setLeader(leading: boolean): void {
    this.#leader = leading;
    this.#status?.set({ name: this.#o.name }, leading ? 1 : 0);
  }

  #observe(lease: Lease, nowMs: number): void {
    const version = lease.metadata?.resourceVersion;
    if (!this.#observed || version !== this.#lease?.metadata?.resourceVersion) {
      this.#observed = { spec: lease.spec ?? {}, observedAtMs: nowMs };
    }
    this.#lease = lease;
  }

  /** One attempt; true when the Lease now names us. Errors count as a failed attempt. */
  async #tryAcquireOrRenew(signal: AbortSignal, timeoutMs: number): Promise<boolean> {
    const deadline = new AbortController();
    const timer = this.#clock.setTimeout(() => deadline.abort(), timeoutMs);
    const abortSignal = AbortSignal.any([signal, deadline.signal]);
    const { leases, namespace, name, identity, leaseDurationMs } = this.#o;
    try {
      const current = await orUndefined(leases.get(name, { namespace, abortSignal }));
      if (current === undefined) {
        const spec = claimSpec(undefined, identity, this.#clock.now(), leaseDurationMs);
        const lease = { metadata: { name, namespace }, spec };
        return this.#succeeded(await leases.create(lease, { namespace, abortSignal }));
      }
      const now = this.#clock.now();
      this.#observe(current, now);
      if (!mayAcquire(this.#observed!, identity, now)) return false;
      const spec = claimSpec(this.#observed!.spec, identity, now, leaseDurationMs);
      return this.#succeeded(await leases.update({ ...current, spec }, { namespace, abortSignal }));
    } catch (error) {
      if (!(error instanceof ConflictError || error instanceof AlreadyExistsError)) {
        this.#log("warn", "cannot acquire or renew the leader-election lease", { error });
      }
      return false; // a conflict means another candidate wrote first
    } finally {
      this.#clock.clearTimeout(timer);
    }
  }

  #succeeded(lease: Lease): true {
    const now = this.#clock.now();
    this.#observe(lease, now);
    this.#lastRenewMs = now;
    return true;
  }
}

/** Running controllers: `synced` resolves once their caches synced (`false`: stopped first). */
export interface ControllerRun {
  synced: Promise<unknown>;
  /** Stops the controllers, finishing or aborting in-flight work. */
  stop(): Promise<void>;
}

/** The part of `LeaderElector` the supervisor uses. */
export type Elector = Pick<LeaderElector, "acquire" | "holdUntilLost" | "release">;

/** Options of `LeaderSupervisor`; without an elector the controllers run unconditionally. */
export interface LeaderSupervisorOptions {
  elector: Elector | undefined;
  start: () => ControllerRun | Promise<ControllerRun>;
  /** Bound on stopping the controllers, in ms. */
  stopTimeoutMs: number;
  logger: Logger;
}

/** Resolves true when `promise` settles within `ms`, false otherwise (never rejects). */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  const done = new AbortController();
  const timeout = sleep(SYSTEM_CLOCK, ms, done.signal).then(() => false);
  const settled = await Promise.race([promise.then(() => true, () => true), timeout]);
  done.abort(); // clears the timer
  return settled;
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
  /** The running controllers' state; a stopped run's late `synced` only touches its own. */
  #running: { synced: boolean } | undefined;

  /** Creates an idle supervisor; call `run()`. */
  constructor(options: LeaderSupervisorOptions) {
    this.#o = options;
  }

  /** Readiness: a standby is ready; running controllers are once their caches synced. */
  readiness(): CheckResult {
    if (!this.#running) return this.#o.elector ? true : "controllers are not running";
    return this.#running.synced || "informer caches have not synced yet";
  }

  /** Competes and runs (again) until `signal` aborts, then stops the controllers and releases. */
  async run(signal: AbortSignal): Promise<"stopped" | "stuck"> {
    const { elector, logger } = this.#o;
    while (!signal.aborted) {
      if (elector && !await elector.acquire(signal)) break;
      const outcome = await this.#runControllers(signal).catch(async (error) => {
        await elector?.release(); // the controllers could not start: let a standby try
        throw error;
      });
      if (signal.aborted) await elector?.release(); // the process exits next: a standby takes over
      if (outcome === "stuck") return "stuck";
      if (signal.aborted) break;
      logger.warn("controllers stopped after losing the lease; competing again");
    }
    return "stopped";
  }

  async #runControllers(signal: AbortSignal): Promise<HoldOutcome | "stuck"> {
    const { elector, logger } = this.#o;
    const run = await this.#o.start();
    const running = { synced: false };
    this.#running = running;
    run.synced.then((value) => running.synced = value !== false, () => {});
    const outcome = elector ? await elector.holdUntilLost(signal) : await aborted(signal);
    logger.info("stopping controllers", { reason: outcome });
    const stopped = await settlesWithin(run.stop(), this.#o.stopTimeoutMs);
    this.#running = undefined;
    if (!stopped) {
      logger.error("controllers did not stop in time", { timeoutMs: this.#o.stopTimeoutMs });
      return "stuck";
    }
    return outcome;
  }
}

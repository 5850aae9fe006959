/**
 * `LeaderElector`: Lease-based leader election on `coordination.k8s.io/v1`, with client-go's
 * timing model. A candidate retries every `retryPeriod` (jittered) until it may take the
 * Lease; the leader renews every `retryPeriod` and steps down when no renewal succeeded for
 * `renewDeadline`, which is shorter than `leaseDuration`, so it has stopped before anyone
 * else can take over. Every write carries the Lease's `resourceVersion` (compare-and-swap).
 *
 * @module
 */
import type { Lease } from "kubernetes-types/coordination/v1.d.ts";
import {
  AlreadyExistsError,
  type Clock,
  ConflictError,
  NotFoundError,
  type ResourceClient,
  sleep,
} from "../kube/mod.ts";
import type { Logger, MetricsRegistry } from "./contracts.ts";
import { claimSpec, leaderRecord, mayAcquire, type Observation, releaseSpec } from "./lease.ts";

/** A clock on the monotonic timer (immune to wall-clock steps), roughly in epoch ms. */
export const MONOTONIC_CLOCK: Clock = {
  now: () => performance.timeOrigin + performance.now(),
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** Options of `LeaderElector`. */
export interface LeaderElectorOptions {
  /** The Lease client (get, create and update are used). */
  leases: Pick<ResourceClient<Lease>, "get" | "create" | "update">;
  /** The Lease's namespace. */
  namespace: string;
  /** The Lease's name. */
  name: string;
  /** This candidate's unique identity (hostname plus a random suffix). */
  identity: string;
  /** How long a claim lasts without renewal, in ms. */
  leaseDurationMs: number;
  /** How long the leader keeps retrying renewals before stepping down, in ms. */
  renewDeadlineMs: number;
  /** Interval between attempts, in ms. */
  retryPeriodMs: number;
  /** Time source; defaults to `MONOTONIC_CLOCK`. */
  clock?: Clock;
  /** Jitter source; defaults to `Math.random`. */
  random?: () => number;
  /** Where transitions are logged. */
  logger?: Logger;
  /** Where `leader_election_master_status` goes. */
  metrics?: MetricsRegistry;
}

/** Why `holdUntilLost` returned. */
export type HoldOutcome = "lost" | "stopped";

/** Competes for one Lease. Not reentrant: one `acquire`/`holdUntilLost` at a time. */
export class LeaderElector {
  #o: LeaderElectorOptions;
  #clock: Clock;
  #observed: Observation | undefined;
  #observedVersion: string | undefined;
  #lease: Lease | undefined;
  #leader = false;
  #lastRenewMs = 0;
  #status: ((leading: boolean) => void) | undefined;

  /** Creates an elector that is not leader yet. */
  constructor(options: LeaderElectorOptions) {
    this.#o = options;
    this.#clock = options.clock ?? MONOTONIC_CLOCK;
    const gauge = options.metrics?.gauge(
      "leader_election_master_status",
      "1 while this process holds the leader-election Lease, else 0",
      ["name"],
    );
    this.#status = gauge && ((leading) => gauge.set({ name: options.name }, leading ? 1 : 0));
    this.#status?.(false);
  }

  /** Whether this candidate holds the Lease (as of its last successful write). */
  get isLeader(): boolean {
    return this.#leader;
  }

  /** The identity written into the Lease. */
  get identity(): string {
    return this.#o.identity;
  }

  /** Retries until the Lease is ours (true) or `signal` aborts (false). */
  async acquire(signal: AbortSignal): Promise<boolean> {
    let waitingFor: string | undefined;
    while (!signal.aborted) {
      if (await this.#tryAcquireOrRenew(signal, this.#o.renewDeadlineMs)) {
        this.#setLeader(true);
        this.#o.logger?.info("acquired the leader-election lease", this.#fields());
        return true;
      }
      const holder = this.#observed?.record.holderIdentity;
      if (holder && holder !== waitingFor) {
        waitingFor = holder;
        this.#o.logger?.info("waiting for the leader-election lease", {
          ...this.#fields(),
          holder,
        });
      }
      const jitter = 1 + 1.2 * (this.#o.random ?? Math.random)();
      await sleep(this.#clock, this.#o.retryPeriodMs * jitter, signal);
    }
    return false;
  }

  /**
   * Renews every `retryPeriod` while leader. Resolves `"lost"` once no renewal succeeded for
   * `renewDeadline` (the caller must stop leader-only work), or `"stopped"` when `signal`
   * aborts (still leader: call `release()`).
   */
  async holdUntilLost(signal: AbortSignal): Promise<HoldOutcome> {
    while (!signal.aborted && this.#leader) {
      await sleep(this.#clock, this.#o.retryPeriodMs, signal);
      if (signal.aborted) break;
      const remaining = this.#lastRenewMs + this.#o.renewDeadlineMs - this.#clock.now();
      if (remaining > 0 && await this.#tryAcquireOrRenew(signal, remaining)) continue;
      if (this.#clock.now() - this.#lastRenewMs >= this.#o.renewDeadlineMs) {
        this.#setLeader(false);
        this.#o.logger?.error("lost the leader-election lease", this.#fields());
        return "lost";
      }
    }
    return this.#leader ? "stopped" : "lost";
  }

  /**
   * Gives the Lease up (holder cleared) so a standby takes over at once; resolves true when
   * the release was written. A no-op unless leader.
   */
  async release(options: { timeoutMs?: number } = {}): Promise<boolean> {
    if (!this.#leader || !this.#lease || !this.#observed) return false;
    this.#setLeader(false);
    const lease: Lease = {
      ...this.#lease,
      spec: releaseSpec(this.#observed.record, this.#clock.now()),
    };
    try {
      await this.#o.leases.update(lease, {
        namespace: this.#o.namespace,
        abortSignal: AbortSignal.timeout(options.timeoutMs ?? this.#o.renewDeadlineMs),
      });
      this.#o.logger?.info("released the leader-election lease", this.#fields());
      return true;
    } catch (error) {
      this.#o.logger?.warn("cannot release the leader-election lease", {
        ...this.#fields(),
        error,
      });
      return false;
    }
  }

  #fields() {
    return { lease: `${this.#o.namespace}/${this.#o.name}`, identity: this.#o.identity };
  }

  #setLeader(leading: boolean): void {
    this.#leader = leading;
    this.#status?.(leading);
  }

  #observe(lease: Lease, nowMs: number): void {
    const version = lease.metadata?.resourceVersion;
    if (version !== this.#observedVersion || !this.#observed) {
      this.#observedVersion = version;
      this.#observed = { record: leaderRecord(lease.spec), observedAtMs: nowMs };
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
      let current: Lease;
      try {
        current = await leases.get(name, { namespace, abortSignal });
      } catch (error) {
        if (!(error instanceof NotFoundError)) throw error;
        const spec = claimSpec(undefined, identity, this.#clock.now(), leaseDurationMs);
        const created = await leases.create({ metadata: { name, namespace }, spec }, {
          namespace,
          abortSignal,
        });
        return this.#succeeded(created);
      }
      const now = this.#clock.now();
      this.#observe(current, now);
      if (!mayAcquire(this.#observed!, identity, now)) return false;
      const spec = claimSpec(this.#observed!.record, identity, now, leaseDurationMs);
      return this.#succeeded(await leases.update({ ...current, spec }, { namespace, abortSignal }));
    } catch (error) {
      if (!(error instanceof ConflictError || error instanceof AlreadyExistsError)) {
        this.#o.logger?.warn("cannot acquire or renew the leader-election lease", {
          ...this.#fields(),
          error,
        });
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

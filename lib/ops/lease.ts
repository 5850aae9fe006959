/**
 * The pure rules of Lease-based leader election (client-go's `leaderelection` semantics):
 * reading the holder record out of a Lease, deciding whether a candidate may take it, and
 * the spec written on acquire, renew and release.
 *
 * A Lease counts as expired only by the candidate's own clock: `leaseDurationSeconds` after
 * the candidate last *saw the record change*, never by comparing `renewTime` with the local
 * time, so clock skew between nodes cannot make two leaders.
 *
 * @module
 */
import type { LeaseSpec } from "kubernetes-types/coordination/v1.d.ts";
import { microTime } from "./micro_time.ts";

/** The holder record as the elector reads it. */
export interface LeaderRecord {
  /** Who holds the lease; empty when released. */
  holderIdentity: string;
  /** How long the holder's claim lasts after each renewal. */
  leaseDurationSeconds: number;
  /** When the holder acquired it. */
  acquireTime: string | undefined;
  /** How many times the holder changed. */
  leaseTransitions: number;
}

/** Reads the record of a Lease spec (absent fields read as empty). */
export function leaderRecord(spec: LeaseSpec | undefined): LeaderRecord {
  return {
    holderIdentity: spec?.holderIdentity ?? "",
    leaseDurationSeconds: spec?.leaseDurationSeconds ?? 0,
    acquireTime: spec?.acquireTime,
    leaseTransitions: spec?.leaseTransitions ?? 0,
  };
}

/** What the candidate knows when it decides. */
export interface Observation {
  /** The record last read. */
  record: LeaderRecord;
  /** When (local monotonic ms) the candidate first saw this record. */
  observedAtMs: number;
}

/**
 * Whether `identity` may write itself into the lease now: the lease is free (no holder),
 * already its own, or its holder's claim ran out by the local clock.
 */
export function mayAcquire(observation: Observation, identity: string, nowMs: number): boolean {
  const { holderIdentity, leaseDurationSeconds } = observation.record;
  if (holderIdentity === "" || holderIdentity === identity) return true;
  return observation.observedAtMs + leaseDurationSeconds * 1000 <= nowMs;
}

/**
 * The spec to write when `identity` acquires or renews: a renewal keeps the acquire time and
 * the transition count; taking over from anyone else (or from nobody) counts a transition.
 */
export function claimSpec(
  previous: LeaderRecord | undefined,
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
    leaseTransitions: renewing
      ? previous!.leaseTransitions
      : (previous?.leaseTransitions ?? -1) + 1,
  };
}

/**
 * The spec that gives the lease up: no holder and a one-second duration, so a standby takes
 * over at its next attempt instead of waiting out the lease.
 */
export function releaseSpec(previous: LeaderRecord, nowMs: number): LeaseSpec {
  const now = microTime(nowMs);
  return {
    holderIdentity: "",
    leaseDurationSeconds: 1,
    acquireTime: now,
    renewTime: now,
    leaseTransitions: previous.leaseTransitions,
  };
}

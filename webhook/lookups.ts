/**
 * What the admission logic needs from the server: read-only lookups and the injected delay.
 *
 * @module
 */
import type { HostPort, HostPortClaim, HostPortClass } from "../lib/api/mod.ts";
import type { QuotaExceeded } from "../lib/quota/mod.ts";

/**
 * The claim quota check of one replica (lib/quota, `admitClaim`): usage from the
 * informer cache plus the claims it admitted that the cache does not show yet. Synchronous, so
 * concurrent admissions in one replica see each other.
 */
export interface ClaimQuotaAdmission {
  /**
   * The quota a new claim would exceed, or undefined; an admitted claim (not a dry run) is
   * counted from then on.
   */
  admit(claim: HostPortClaim, options: { dryRun: boolean }): QuotaExceeded | undefined;
}

/**
 * Read-only lookups the server provides (informer cache with a live fallback). They may reject;
 * a rejection becomes an `Internal error` field error or a skipped warning, never a throw.
 */
export interface AdmissionLookups {
  /** The claim `namespace/name`, or `undefined` when it does not exist. */
  getClaim(namespace: string, name: string): Promise<HostPortClaim | undefined>;
  /** The HostPort `name`, or `undefined` when it does not exist. */
  getHostPort(name: string): Promise<HostPort | undefined>;
  /** Every HostPortClass, for cross-class overlap warnings and class-existence warnings. */
  listHostPortClasses(): Promise<HostPortClass[]>;
  /** The claim quota check; without it, claims are not checked against quotas. */
  claimQuota?: ClaimQuotaAdmission;
}

/**
 * Bounded waiting, in pod admission, for claims that are on their way to a port (claim not yet
 * processed, HostPort bound but its port not written yet).
 */
export interface WaitForPortOptions {
  /** How many more rounds of lookups at most (0: no waiting). */
  attempts: number;
  /** Milliseconds between rounds. */
  intervalMs: number;
  /** Resolves after `ms` milliseconds; injected so this code never reads a clock. */
  delay(ms: number): Promise<void>;
}

/** Options of `handleAdmission`. */
export interface AdmissionOptions {
  /** Bounded waiting for claims that are bound but not allocated yet; no waiting when absent. */
  waitForPort?: WaitForPortOptions;
  /**
   * The username the operator authenticates as (its SelfSubjectReview), or `undefined` while it
   * is not known yet. Only that user may write a port into a HostPort's status; with no answer
   * (or no function) such writes are refused.
   */
  operatorUsername?: () => string | undefined;
}

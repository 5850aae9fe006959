/**
 * What the admission logic needs from the server: read-only lookups (the informer cache with a
 * live fallback, `server_lookups.ts`) and its options. A lookup may reject; a rejection becomes an
 * `Internal error` field error or a skipped warning, never a throw.
 *
 * @module
 */
import type {
  HostPort,
  HostPortClaim,
  HostPortClaimTemplate,
  HostPortClass,
  RetentionPolicy,
} from "../lib/api/mod.ts";
import type { QuotaExceeded } from "../lib/quota/mod.ts";

/**
 * The claim quota check of one replica (lib/quota): synchronous, so concurrent admissions in one
 * replica see each other.
 */
export interface ClaimQuotaAdmission {
  /** The quota a new claim would exceed, or undefined; an admitted claim (not a dry run) counts from then on. */
  admit(claim: HostPortClaim, options: { dryRun: boolean }): QuotaExceeded | undefined;
}

/** Read-only lookups the server provides; `undefined` when the object does not exist. */
export interface AdmissionLookups {
  getClaim(namespace: string, name: string): Promise<HostPortClaim | undefined>;
  getHostPort(name: string): Promise<HostPort | undefined>;
  listHostPortClasses(): Promise<HostPortClass[]>;
  /** Reads and the claim create of per-pod claims; without them a pod naming a template is refused. */
  templateClaims?: TemplateClaimStore;
  /** The claim quota check; without it, claims are not checked against quotas. */
  claimQuota?: ClaimQuotaAdmission;
}

/** What per-pod claims need: live reads and the webhook's one write, creating a claim. */
export interface TemplateClaimStore {
  getTemplate(namespace: string, name: string): Promise<HostPortClaimTemplate | undefined>;
  /** The StatefulSet's uid and claim retention. */
  getStatefulSet(
    namespace: string,
    name: string,
  ): Promise<{ uid: string; policy: RetentionPolicy } | undefined>;
  /**
   * Creates a claim; resolves `false` when one of that name exists already.
   *
   * @throws the API server's error otherwise (for example a quota's refusal)
   */
  createClaim(claim: HostPortClaim): Promise<boolean>;
  /** Deletes the claim `namespace/name` if its uid is still `uid` (best effort, never throws). */
  deleteClaim(namespace: string, name: string, uid: string): Promise<void>;
}

/** A refusal of a pod naming a template, for an Event on the template (its uid when read). */
export interface TemplateRefusal {
  readonly namespace: string;
  readonly name: string;
  readonly uid?: string | undefined;
  readonly message: string;
}

/** Options of `handleAdmission`. */
export interface AdmissionOptions {
  /**
   * Bounded waiting in pod admission for claims on their way to a port (not processed yet, or
   * their HostPort bound but not allocated yet); no waiting when absent.
   */
  waitForPort?: {
    /** How many more rounds of lookups at most (0: no waiting). */
    attempts: number;
    /** Rounds for a pod naming a claim template (its claim is new); `attempts` when absent. */
    templateAttempts?: number;
    /** Milliseconds between rounds. */
    intervalMs: number;
    /** Resolves after `ms` milliseconds; injected so this code never reads a clock. */
    delay(ms: number): Promise<void>;
  };
  /**
   * The username the operator authenticates as, or `undefined` while it is not known. Only that
   * user may write a port into a HostPort's status; with no answer such writes are refused.
   */
  operatorUsername?: () => string | undefined;
  /** Random values in [0, 1), for names of pods created with generateName that name a template. */
  random?: () => number;
  /** Hears about pods refused for a template's claim (the server records an Event on it). */
  onTemplateRefusal?: (refusal: TemplateRefusal) => void;
}

/** The outcome of a read as a value: what it gave, or why it failed. */
export type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** Runs a read and keeps its outcome as a value, whether it rejects or throws. */
export async function settle<T>(read: () => Promise<T>): Promise<Settled<T>> {
  try {
    return { ok: true, value: await read() };
  } catch (error) {
    return { ok: false, error };
  }
}

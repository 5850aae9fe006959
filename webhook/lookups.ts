/**
 * What the admission logic needs from the server (`server_lookups.ts`): lookups and options. A
 * rejected lookup becomes an `Internal error` field error or a skipped warning, never a throw.
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
 * The claim quota check of one replica, synchronous so concurrent admissions see each other:
 * `admit` returns the quota a new claim would exceed; an admitted claim counts from then on.
 */
export interface ClaimQuotaAdmission {
  admit(claim: HostPortClaim, options: { dryRun: boolean }): QuotaExceeded | undefined;
}

/**
 * Lookups the server provides (`undefined` for an object that does not exist); without
 * `templateClaims` a pod naming a template is refused, without `claimQuota` no quota is checked.
 */
export interface AdmissionLookups {
  getClaim(namespace: string, name: string): Promise<HostPortClaim | undefined>;
  getHostPort(name: string): Promise<HostPort | undefined>;
  listHostPortClasses(): Promise<HostPortClass[]>;
  templateClaims?: TemplateClaimStore;
  claimQuota?: ClaimQuotaAdmission;
}

/**
 * What per-pod claims need: live reads, a create that resolves `false` when the name is taken
 * (and rejects with the API server's error otherwise), and a best-effort delete by uid.
 */
export interface TemplateClaimStore {
  getTemplate(namespace: string, name: string): Promise<HostPortClaimTemplate | undefined>;
  getStatefulSet(
    namespace: string,
    name: string,
  ): Promise<{ uid: string; policy: RetentionPolicy } | undefined>;
  createClaim(claim: HostPortClaim): Promise<boolean>;
  deleteClaim(namespace: string, name: string, uid: string): Promise<void>;
}

/** Options of `handleAdmission`. */
export interface AdmissionOptions {
  /**
   * Bounded waiting in pod admission for claims on their way to a port: at most `attempts` more
   * rounds of lookups (`templateAttempts` for a pod naming a template), `intervalMs` apart, timed
   * by the injected `delay` so this code reads no clock.
   */
  waitForPort?: {
    attempts: number;
    templateAttempts?: number;
    intervalMs: number;
    delay(ms: number): Promise<void>;
  };
  /** Who the operator authenticates as, the only user who may write a HostPort's port. */
  operatorUsername?: () => string | undefined;
  /** Random values in [0, 1), for names of pods created with generateName that name a template. */
  random?: () => number;
  /** Hears about pods refused for a template's claim (the server records an Event on it). */
  onTemplateRefusal?: (template: HostPortClaimTemplate, message: string) => void;
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

/**
 * Quotas on HostPortClaims (docs/architecture.md, "Quotas"), pure: the one rule the claim webhook and
 * the claim controller share, and the usage the operator writes into ResourceQuotas.
 *
 * Keys of a standard ResourceQuota's `spec.hard`:
 *
 * - `count/hostportclaims.hostport.rmb938.com`: claims per namespace, enforced by the API
 *   server's own quota admission (the operator only fills a missing usage, see
 *   {@linkcode planQuotaUsage});
 * - `<class>.hostportclass.hostport.rmb938.com/hostportclaims`: claims of one class per namespace,
 *   in the StorageClass style; the API server ignores it, the operator enforces it.
 *
 * A quota with `scopes` or a `scopeSelector` never applies to claims, as for the API server's
 * object-count quotas.
 *
 * @module
 */
import type { HostPortClaim } from "../api/types.ts";
import { GROUP, PLURAL } from "../api/constants.ts";

/** The fields of a `v1.ResourceQuota` the rule reads (a `kubernetes-types` one fits). */
export interface QuotaObject {
  /** Name, namespace. */
  readonly metadata?: { readonly name?: string; readonly namespace?: string };
  /** `spec.hard` and the scopes. */
  readonly spec?: {
    readonly hard?: { readonly [resource: string]: string };
    readonly scopes?: readonly string[];
    readonly scopeSelector?: unknown;
  };
  /** What kube-controller-manager (and the operator, for its keys) wrote. */
  readonly status?: {
    readonly hard?: { readonly [resource: string]: string };
    readonly used?: { readonly [resource: string]: string };
  };
}

/** `count/hostportclaims.hostport.rmb938.com`: claims per namespace (the API server's own key). */
export const CLAIM_COUNT_RESOURCE = `count/${PLURAL.HostPortClaim}.${GROUP}`;

/** The suffix of the per-class key: `<class>` + this. */
export const CLASS_QUOTA_SUFFIX = `.hostportclass.${GROUP}/${PLURAL.HostPortClaim}`;

/** The ResourceQuota key limiting claims of class `className` per namespace. */
export function classQuotaResource(className: string): string {
  return `${className}${CLASS_QUOTA_SUFFIX}`;
}

/** The class a per-class key names, or undefined for any other key. */
export function classOfQuotaResource(resource: string): string | undefined {
  if (!resource.endsWith(CLASS_QUOTA_SUFFIX)) return undefined;
  const className = resource.slice(0, -CLASS_QUOTA_SUFFIX.length);
  return className === "" ? undefined : className;
}

const SUFFIXES: Readonly<Record<string, number>> = {
  "": 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/**
 * A quantity as a whole count (rounded down, as no fraction of a claim exists): `10`, `1k`,
 * `2Ki`, `1e3`, `2.5` (2). Undefined when it is no quantity or negative.
 */
export function parseCount(quantity: string): number | undefined {
  const match = /^\+?(\d+(?:\.\d*)?|\.\d+)([KMGTPE]i|[eE][+-]?\d+|[kMGTPE])?$/.exec(
    quantity.trim(),
  );
  if (match === null) return undefined;
  const value = Number(match[1]);
  const suffix = match[2] ?? "";
  if (/^[eE]/.test(suffix)) return Math.floor(value * 10 ** Number(suffix.slice(1)));
  const factor = SUFFIXES[suffix];
  return factor === undefined ? undefined : Math.floor(value * factor);
}

/** One limit on the claims of a class in a namespace. */
export interface ClassLimit {
  readonly quota: string;
  /** The key, `<class>.hostportclass.hostport.rmb938.com/hostportclaims`. */
  readonly resource: string;
  readonly limit: number;
}

/** Whether a quota can apply to claims at all (no scopes, as the API server's object counts). */
function appliesToClaims(quota: QuotaObject): boolean {
  return (quota.spec?.scopes ?? []).length === 0 && quota.spec?.scopeSelector === undefined;
}

/** The limits the quotas of a namespace put on class `className`, ordered by quota name. */
export function classLimits(quotas: readonly QuotaObject[], className: string): ClassLimit[] {
  const resource = classQuotaResource(className);
  const limits: ClassLimit[] = [];
  for (const quota of quotas) {
    const hard = quota.spec?.hard?.[resource];
    if (hard === undefined || !appliesToClaims(quota)) continue;
    const limit = parseCount(hard);
    if (limit !== undefined) limits.push({ quota: quota.metadata?.name ?? "", resource, limit });
  }
  return limits.sort((a, b) => a.quota < b.quota ? -1 : a.quota > b.quota ? 1 : 0);
}

/** A claim refused or held back by a quota. */
export interface QuotaExceeded {
  readonly quota: string;
  readonly resource: string;
  /** Claims that count against the limit, without this one. */
  readonly used: number;
  readonly limit: number;
}

/**
 * The message the API server's quota admission uses, for our key:
 * `exceeded quota: gold, requested: a.hostportclass.hostport.rmb938.com/hostportclaims=1, used:
 * ...=3, limited: ...=3`.
 */
export function quotaExceededMessage(exceeded: QuotaExceeded): string {
  const { quota, resource, used, limit } = exceeded;
  return `exceeded quota: ${quota}, requested: ${resource}=1, used: ${resource}=${used}, ` +
    `limited: ${resource}=${limit}`;
}

/**
 * Admission: whether one more claim of class `className` fits, given `used`, the claims of that
 * class in the namespace (cached, plus admitted but not cached yet, without the new one). The
 * first quota (by name) it would exceed, or undefined.
 */
export function admitClaim(
  quotas: readonly QuotaObject[],
  className: string,
  used: number,
): QuotaExceeded | undefined {
  for (const limit of classLimits(quotas, className)) {
    if (used + 1 > limit.limit) return { ...limit, used };
  }
  return undefined;
}

/** What the controller's quota gate reads about one claim of the class, in the namespace. */
export interface ClaimStanding {
  readonly claim: HostPortClaim;
  /** Whether it holds a port or is getting one (Bound, or its HostPort names it). */
  readonly counting: boolean;
}

/** Orders claims by creationTimestamp, then name: who queued first gets a port first. */
export function compareClaimAge(a: HostPortClaim, b: HostPortClaim): number {
  const ta = a.metadata.creationTimestamp ?? "";
  const tb = b.metadata.creationTimestamp ?? "";
  if (ta !== tb) return ta < tb ? -1 : 1;
  const na = a.metadata.name ?? "";
  const nb = b.metadata.name ?? "";
  return na < nb ? -1 : na > nb ? 1 : 0;
}

/**
 * The controller's backstop: may `claim`, which does not count yet, start getting a port? Claims
 * that count (hold a port or are getting one) are never held back, so nothing loses its port
 * when a limit is lowered. A waiting claim goes ahead only if the counting claims plus the
 * waiting ones older than it (creationTimestamp, then name; deleting ones excluded) leave room
 * under every limit, so the oldest waiting claims get ports first whichever is reconciled first.
 * Undefined when it may, else the quota that holds it back (`used` counts those ahead of it).
 */
export function gateClaim(
  claim: HostPortClaim,
  quotas: readonly QuotaObject[],
  standings: readonly ClaimStanding[],
): QuotaExceeded | undefined {
  const limits = classLimits(quotas, claim.spec.hostPortClassName);
  if (limits.length === 0) return undefined;
  const uid = claim.metadata.uid;
  let ahead = 0;
  for (const standing of standings) {
    const other = standing.claim;
    if (other.metadata.uid === uid) continue;
    if (other.spec.hostPortClassName !== claim.spec.hostPortClassName) continue;
    if (standing.counting) ahead++;
    else if (!other.metadata.deletionTimestamp && compareClaimAge(other, claim) < 0) ahead++;
  }
  for (const limit of limits) {
    if (ahead + 1 > limit.limit) return { ...limit, used: ahead };
  }
  return undefined;
}

/** The status update that brings a quota's `status.used` up to date, if any. */
export interface QuotaUsagePlan {
  /** Keys of `status.used` to set (merge patch); empty when nothing changes. */
  readonly used: Readonly<Record<string, string>>;
  /** Per class key in `spec.hard`: used and hard, for metrics. */
  readonly classes: readonly { class: string; used: number; hard: number }[];
}

/**
 * The usage the operator writes into a ResourceQuota:
 *
 * - each per-class key of `spec.hard`: the claims of that class in the namespace (every claim
 *   that exists, deleting ones included, as the API server counts objects);
 * - `count/hostportclaims...`, only when `status.hard` has it but `status.used` lacks it:
 *   kube-controller-manager's quota controller has no evaluator for our CRD yet (it learns new
 *   CRDs by discovery, but recounts a quota made before that only at its full resync, every
 *   5 minutes by default) and the API server refuses every claim with "status unknown for quota"
 *   meanwhile. `claimsInNamespace` must then come from a live list. Once the key is there the
 *   operator never writes it again: the API server and the quota controller own it.
 *
 * @param claims the namespace's claims (any class)
 * @param claimsInNamespace how many claims the namespace holds (live), for the count key
 */
export function planQuotaUsage(
  quota: QuotaObject,
  claims: readonly HostPortClaim[],
  claimsInNamespace?: number,
): QuotaUsagePlan {
  const used: Record<string, string> = {};
  const classes: { class: string; used: number; hard: number }[] = [];
  if (!appliesToClaims(quota)) return { used, classes };
  for (const [resource, hard] of Object.entries(quota.spec?.hard ?? {})) {
    const className = classOfQuotaResource(resource);
    if (className === undefined) continue;
    const count = claims.filter((claim) => claim.spec.hostPortClassName === className).length;
    classes.push({ class: className, used: count, hard: parseCount(hard) ?? 0 });
    if (quota.status?.used?.[resource] !== String(count)) used[resource] = String(count);
  }
  if (claimsInNamespace !== undefined && needsClaimCount(quota)) {
    used[CLAIM_COUNT_RESOURCE] = String(claimsInNamespace);
  }
  return { used, classes };
}

/** Whether the quota's claim count is missing (the API server refuses every claim meanwhile). */
export function needsClaimCount(quota: QuotaObject): boolean {
  return appliesToClaims(quota) && quota.status?.hard?.[CLAIM_COUNT_RESOURCE] !== undefined &&
    quota.status?.used?.[CLAIM_COUNT_RESOURCE] === undefined;
}

/** Whether a quota has any key the operator looks after. */
export function isClaimQuota(quota: QuotaObject): boolean {
  return Object.keys(quota.spec?.hard ?? {}).some((resource) =>
    resource === CLAIM_COUNT_RESOURCE || classOfQuotaResource(resource) !== undefined
  );
}

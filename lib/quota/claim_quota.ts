/**
 * Quotas on HostPortClaims (docs/architecture.md, "Quotas"): the one rule the claim webhook and
 * the claim controller share, and the usage the operator writes into ResourceQuotas. A quota with
 * `scopes` or a `scopeSelector` never applies to claims, as for the API server's object counts.
 * @module
 */
import type { ResourceQuota } from "kubernetes-types/core/v1.d.ts";
import type { HostPortClaim } from "../api/types.ts";
import { GROUP, PLURAL } from "../api/constants.ts";

/** Claims per namespace: the API server's own key, which it enforces. */
export const CLAIM_COUNT_RESOURCE = `count/${PLURAL.HostPortClaim}.${GROUP}`;

const CLASS_QUOTA_SUFFIX = `.hostportclass.${GROUP}/${PLURAL.HostPortClaim}`;

/** The key limiting claims of class `className` per namespace, which only the operator enforces. */
export function classQuotaResource(className: string): string {
  return `${className}${CLASS_QUOTA_SUFFIX}`;
}

/** The class a per-class key names, or undefined for any other key. */
export function classOfQuotaResource(resource: string): string | undefined {
  if (!resource.endsWith(CLASS_QUOTA_SUFFIX)) return undefined;
  return resource.slice(0, -CLASS_QUOTA_SUFFIX.length) || undefined;
}

/**
 * A quantity as a whole count (rounded down: no fraction of a claim exists): `10`, `1k`, `2Ki`,
 * `1e3`, `2.5` (2). Undefined when it is no quantity or negative.
 */
export function parseCount(quantity: string): number | undefined {
  // Suffixes `Ki`..`Ei`, an exponent, or `k`..`E`: "E" alone is exa; only digits make an exponent.
  const pattern = /^\+?(\d+(?:\.\d*)?|\.\d+)(?:([KMGTPE])i|[eE]([+-]?\d+)|([kMGTPE]))?$/;
  const [, value, binary, exponent, decimal] = pattern.exec(quantity.trim()) ?? [];
  if (value === undefined) return undefined;
  const factor = binary !== undefined
    ? 2 ** (10 * ("KMGTPE".indexOf(binary) + 1))
    : exponent !== undefined
    ? 10 ** Number(exponent)
    : decimal !== undefined
    ? 1000 ** ("kMGTPE".indexOf(decimal) + 1)
    : 1;
  return Math.floor(Number(value) * factor);
}

/** A claim refused or held back by a quota; `used` counts the claims ahead of this one. */
export interface QuotaExceeded {
  readonly quota: string;
  readonly resource: string;
  readonly used: number;
  readonly limit: number;
}

function appliesToClaims(quota: ResourceQuota): boolean {
  return (quota.spec?.scopes ?? []).length === 0 && quota.spec?.scopeSelector === undefined;
}

/** The limits the quotas of a namespace put on class `className`, ordered by quota name. */
export function classLimits(
  quotas: readonly ResourceQuota[],
  className: string,
): Omit<QuotaExceeded, "used">[] {
  const resource = classQuotaResource(className);
  const limits: Omit<QuotaExceeded, "used">[] = [];
  for (const quota of quotas) {
    const hard = quota.spec?.hard?.[resource];
    if (hard === undefined || !appliesToClaims(quota)) continue;
    const limit = parseCount(hard);
    if (limit !== undefined) limits.push({ quota: quota.metadata?.name ?? "", resource, limit });
  }
  return limits.sort((a, b) => a.quota < b.quota ? -1 : a.quota > b.quota ? 1 : 0);
}

/** The API server's quota admission message, for our key. */
export function quotaExceededMessage({ quota, resource, used, limit }: QuotaExceeded): string {
  return `exceeded quota: ${quota}, requested: ${resource}=1, used: ${resource}=${used}, ` +
    `limited: ${resource}=${limit}`;
}

/**
 * Admission: the first quota (by name) one more claim of `className` would exceed, given `used`,
 * the claims of that class in the namespace (cached, plus admitted but not cached yet).
 */
export function admitClaim(
  quotas: readonly ResourceQuota[],
  className: string,
  used: number,
): QuotaExceeded | undefined {
  const limit = classLimits(quotas, className).find((limit) => used + 1 > limit.limit);
  return limit && { ...limit, used };
}

/**
 * The controller's backstop (docs/architecture.md, "Quotas"): the quota that holds back `claim`,
 * which does not count yet, or undefined; `counting` says which of the namespace's `claims` do.
 */
export function gateClaim(
  claim: HostPortClaim,
  quotas: readonly ResourceQuota[],
  namespace: { readonly claims: readonly HostPortClaim[]; counting(claim: HostPortClaim): boolean },
): QuotaExceeded | undefined {
  const age = (c: HostPortClaim) => [c.metadata.creationTimestamp ?? "", c.metadata.name ?? ""];
  const [time, name] = age(claim) as [string, string];
  let ahead = 0;
  for (const other of namespace.claims) {
    if (other.metadata.uid === claim.metadata.uid) continue;
    if (other.spec.hostPortClassName !== claim.spec.hostPortClassName) continue;
    const [otherTime, otherName] = age(other) as [string, string];
    const older = otherTime < time || (otherTime === time && otherName < name);
    if (namespace.counting(other) || (!other.metadata.deletionTimestamp && older)) ahead++;
  }
  return admitClaim(quotas, claim.spec.hostPortClassName, ahead);
}

/**
 * The usage the operator writes into a ResourceQuota (`used`: keys of `status.used` to merge,
 * empty when nothing changes; `classes`, for metrics): each per-class key's claims (deleting ones
 * included, as the API server counts objects), and the claim count only while `status.used` lacks
 * it. kube-controller-manager recounts a quota made before it discovered our CRD only at its full
 * resync (5 minutes), and the API server refuses every claim with "status unknown for quota"
 * meanwhile; `claimsInNamespace` must then come from a live list.
 */
export function planQuotaUsage(
  quota: ResourceQuota,
  claims: readonly HostPortClaim[],
  claimsInNamespace?: number,
): {
  used: Readonly<Record<string, string>>;
  classes: readonly { class: string; used: number; hard: number }[];
} {
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
export function needsClaimCount(quota: ResourceQuota): boolean {
  return appliesToClaims(quota) && quota.status?.hard?.[CLAIM_COUNT_RESOURCE] !== undefined &&
    quota.status?.used?.[CLAIM_COUNT_RESOURCE] === undefined;
}

/** Whether a quota has any key the operator looks after. */
export function isClaimQuota(quota: ResourceQuota): boolean {
  return Object.keys(quota.spec?.hard ?? {}).some((resource) =>
    resource === CLAIM_COUNT_RESOURCE || classOfQuotaResource(resource) !== undefined
  );
}

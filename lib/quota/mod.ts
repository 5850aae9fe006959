/**
 * Quotas on HostPortClaims, pure (no I/O, no clock; imports only `lib/api`): the ResourceQuota
 * keys, {@linkcode admitClaim} for the claim webhook, {@linkcode gateClaim} for the claim
 * controller's backstop, and {@linkcode planQuotaUsage} for the usage written into quotas.
 *
 * @module
 */
export * from "./claim_quota.ts";

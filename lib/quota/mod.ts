/** Quotas on HostPortClaims, pure (no I/O, no clock; imports only `lib/api`). @module */
export * from "./claim_quota.ts";

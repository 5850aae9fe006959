/**
 * Pure reconcile decisions for hostport-allocator: from gathered state to a plan of writes and
 * an outcome. No I/O, no clock (time comes in as input), no randomness; imports only `lib/api`
 * and `lib/allocator`.
 *
 * - {@linkcode planHostPortClass}, {@linkcode planHostPortClaim}, {@linkcode planHostPort}: one
 *   planner per kind, each returning `{ steps, outcome }`.
 * - {@linkcode needsPort}: whether a HostPort reconcile reserves a port while gathering.
 * - {@linkcode decideBinding}: the binding rules between claims and HostPorts.
 * - Pods: {@linkcode claimNamesOfPod}, {@linkcode podsBlockingClaim}, {@linkcode summarizePod}.
 *
 * @module
 */
export * from "./outcome.ts";
export * from "./pods.ts";
export * from "./hostport_class.ts";
export * from "./hostport_claim.ts";
export * from "./hostport.ts";
export * from "./template_claim.ts";

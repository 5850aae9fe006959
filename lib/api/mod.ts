/**
 * The `hostport.rmb938.com/v1alpha1` API: constants, the original's messages, zod schemas and
 * parsers of HostPortClass, HostPortClaim and HostPort, and the CRD builder. Pure: it imports only
 * zod.
 *
 * @example Parse an object from the API server
 * ```ts
 * import { parseHostPortClaim } from "./mod.ts";
 *
 * const claim = parseHostPortClaim({
 *   apiVersion: "hostport.rmb938.com/v1alpha1",
 *   kind: "HostPortClaim",
 *   metadata: { name: "echo-web", namespace: "default" },
 *   spec: { hostPortClassName: "sample" },
 * });
 * console.log(claim.spec.hostPortClassName); // "sample"
 * ```
 *
 * @module
 */
export * from "./constants.ts";
export * from "./meta.ts";
export * from "./hostport_class.ts";
export * from "./hostport_claim.ts";
export * from "./hostport_claim_template.ts";
export * from "./hostport.ts";
export * from "./crd.ts";

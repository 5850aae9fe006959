/**
 * HostPortClaim: a namespaced request for one host port from a class. Pods in the namespace use
 * it through the annotation `claim.hostport.rmb938.com/<portName>: <claim name>`.
 *
 * @module
 */
import * as z from "zod";
import { API_VERSION, CLAIM_PHASE, KIND, MAX_PORT, MESSAGE } from "./constants.ts";
import {
  ConditionsSchema,
  ObjectMetaSchema,
  parseObject,
  type ParseResult,
  safeParseObject,
} from "./meta.ts";

/** Longest object name Kubernetes accepts (a DNS subdomain). */
const MAX_NAME_LENGTH = 253;

/** Schema of `HostPortClaim.spec`. */
export const HostPortClaimSpecSchema = z.object({
  hostPortClassName: z.string().meta({
    minLength: 1,
    maxLength: MAX_NAME_LENGTH,
    "x-kubernetes-validations": [{ rule: "self == oldSelf", message: MESSAGE.cannotChangeClass }],
  }).describe(
    "The host port class: the name of the HostPortClass whose pools the port comes from. " +
      "It cannot be changed.",
  ),
  hostPortName: z.string().optional().meta({ maxLength: MAX_NAME_LENGTH }).describe(
    "The binding reference to the HostPort backing this claim. Leave it empty and the operator " +
      "creates a HostPort named hpc-<claim uid> and sets it here; or set it at creation to the " +
      "name of an existing HostPort. It cannot be changed once set.",
  ),
}).loose().meta({
  "x-kubernetes-validations": [{
    rule: "!has(oldSelf.hostPortName) || oldSelf.hostPortName == '' || " +
      "(has(self.hostPortName) && self.hostPortName == oldSelf.hostPortName)",
    message: MESSAGE.cannotChangeHostPortName,
    fieldPath: ".hostPortName",
  }],
}).describe("The desired state of the claim: the class to allocate from");
/** Schema of `HostPortClaim.status`. */
export const HostPortClaimStatusSchema = z.object({
  phase: z.enum([CLAIM_PHASE.Pending, CLAIM_PHASE.Bound, CLAIM_PHASE.Deleting]).optional()
    .describe(
      "Pending until the claim is bound to a HostPort, then Bound; Deleting once deletion was " +
        "requested (the claim stays until no pod uses it). Bound alone does not mean a port " +
        "is allocated: see status.port and the Bound condition.",
    ),
  port: z.int().min(0).max(MAX_PORT).optional().describe(
    "The port allocated to this claim, copied from its HostPort. Absent or 0 until a port is " +
      "allocated.",
  ),
  conditions: ConditionsSchema.optional(),
}).loose().describe("The observed state of the claim");
/** `HostPortClaim.status`. */
export type HostPortClaimStatus = z.infer<typeof HostPortClaimStatusSchema>;

/** Schema of a HostPortClaim object. */
export const HostPortClaimSchema = z.object({
  apiVersion: z.literal(API_VERSION).describe("API version of the object"),
  kind: z.literal(KIND.HostPortClaim).describe("Kind of the object"),
  metadata: ObjectMetaSchema,
  spec: HostPortClaimSpecSchema,
  status: HostPortClaimStatusSchema.optional(),
}).loose().describe(
  "HostPortClaim requests one host port from a HostPortClass. Pods in the same namespace use it " +
    "with the annotation claim.hostport.rmb938.com/<port name>: <claim name> and receive the port " +
    "as the hostPort of the named container port.",
);
/** A HostPortClaim. */
export type HostPortClaim = z.infer<typeof HostPortClaimSchema>;

/**
 * Parses a HostPortClaim; unknown fields are kept.
 *
 * @param value an untrusted value, for example JSON from the API server
 * @returns the typed object
 * @throws {InvalidObjectError} naming every bad field when the value is not a HostPortClaim
 */
export function parseHostPortClaim(value: unknown): HostPortClaim {
  return parseObject(HostPortClaimSchema, value, KIND.HostPortClaim);
}

/**
 * Parses a HostPortClaim and returns the outcome as a value.
 *
 * @param value an untrusted value
 * @returns the typed object or an `InvalidObjectError`
 */
export function safeParseHostPortClaim(value: unknown): ParseResult<HostPortClaim> {
  return safeParseObject(HostPortClaimSchema, value, KIND.HostPortClaim);
}

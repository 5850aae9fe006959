/**
 * HostPort: a cluster-scoped holder of one allocated port, like a PersistentVolume. The operator
 * creates one per HostPortClaim (`hpc-<claim uid>`); admins may create them by hand.
 *
 * @module
 */
import * as z from "zod";
import { API_VERSION, HOST_PORT_PHASE, KIND, MAX_PORT, MESSAGE } from "./constants.ts";
import type { HostPortClaim } from "./hostport_claim.ts";
import {
  ConditionsSchema,
  isPlainObject,
  ObjectMetaSchema,
  type ObjectReference,
  ObjectReferenceSchema,
  parseObject,
  type ParseResult,
  safeParseObject,
} from "./meta.ts";

/** Longest object name Kubernetes accepts (a DNS subdomain). */
const MAX_NAME_LENGTH = 253;

/** Schema of `HostPort.spec`. */
export const HostPortSpecSchema = z.object({
  claimRef: ObjectReferenceSchema.optional().describe(
    "The referencing claim: namespace, name and uid of the HostPortClaim this HostPort is bound " +
      "to. Absent on HostPorts created by hand until a claim binds them. Once set it cannot be " +
      "changed or removed.",
  ),
  hostPortClassName: z.string().meta({
    minLength: 1,
    maxLength: MAX_NAME_LENGTH,
    "x-kubernetes-validations": [{ rule: "self == oldSelf", message: MESSAGE.cannotChangeClass }],
  }).describe(
    "The name of the HostPortClass whose pools the port comes from. It cannot be changed.",
  ),
}).loose().meta({
  "x-kubernetes-validations": [{
    rule: "!has(oldSelf.claimRef) || (has(self.claimRef) && self.claimRef == oldSelf.claimRef)",
    message: MESSAGE.cannotChangeClaimRef,
    fieldPath: ".claimRef",
  }],
}).describe("The desired state of the HostPort: its class and the claim it is bound to");
/** Schema of `HostPort.status`. */
export const HostPortStatusSchema = z.object({
  phase: z.enum([HOST_PORT_PHASE.Pending, HOST_PORT_PHASE.Allocated, HOST_PORT_PHASE.Deleting])
    .optional().describe(
      "Pending until a port is allocated, then Allocated; Deleting once deletion was requested " +
        "(the port stays held until the HostPort is gone).",
    ),
  port: z.int().min(0).max(MAX_PORT).optional().describe(
    "The port that was allocated by the HostPortClass. 0 (or absent) means no port is " +
      "allocated yet. Once set it never changes.",
  ),
  conditions: ConditionsSchema.optional(),
}).loose().meta({
  "x-kubernetes-validations": [
    {
      rule:
        "!has(oldSelf.port) || oldSelf.port == 0 || (has(self.port) && self.port == oldSelf.port)",
      message: MESSAGE.cannotChangePort,
      fieldPath: ".port",
    },
    {
      rule: "!has(self.port) || self.port == 0 || " +
        "(has(self.phase) && (self.phase == 'Allocated' || self.phase == 'Deleting'))",
      message: MESSAGE.portNeedsAllocatedPhase,
      fieldPath: ".port",
    },
  ],
}).describe("The observed state of the HostPort: its phase and port");
/** `HostPort.status`. */
export type HostPortStatus = z.infer<typeof HostPortStatusSchema>;

/** Schema of a HostPort object. */
export const HostPortSchema = z.object({
  apiVersion: z.literal(API_VERSION).describe("API version of the object"),
  kind: z.literal(KIND.HostPort).describe("Kind of the object"),
  metadata: ObjectMetaSchema,
  spec: HostPortSpecSchema,
  status: HostPortStatusSchema.optional(),
}).loose().describe(
  "HostPort holds one host port allocated from a HostPortClass, for the HostPortClaim in " +
    "spec.claimRef. No port is ever held by two HostPorts.",
);
/** A HostPort. */
export type HostPort = z.infer<typeof HostPortSchema>;

/**
 * Parses a HostPort; unknown fields are kept.
 *
 * @param value an untrusted value, for example JSON from the API server
 * @returns the typed object
 * @throws {InvalidObjectError} naming every bad field when the value is not a HostPort
 */
export function parseHostPort(value: unknown): HostPort {
  return parseObject(HostPortSchema, value, KIND.HostPort);
}

/**
 * Parses a HostPort and returns the outcome as a value.
 *
 * @param value an untrusted value
 * @returns the typed object or an `InvalidObjectError`
 */
export function safeParseHostPort(value: unknown): ParseResult<HostPort> {
  return safeParseObject(HostPortSchema, value, KIND.HostPort);
}

/**
 * What can still be read of a HostPort that does not parse (its port must keep counting as held,
 * since leaking beats double-allocating): a HostPort with its name, class and, when
 * `status.port` is a port (an integer from 1 to 65535), that port; anything else is dropped.
 *
 * @param value an object the API server stored as a HostPort
 * @returns a HostPort carrying only those fields
 */
export function salvageHostPort(value: unknown): HostPort {
  const object = isPlainObject(value) ? value : {};
  const metadata = isPlainObject(object.metadata) ? object.metadata : {};
  const spec = isPlainObject(object.spec) ? object.spec : {};
  const status = isPlainObject(object.status) ? object.status : {};
  const port = status.port;
  const name = typeof metadata.name === "string" ? metadata.name : "";
  const className = typeof spec.hostPortClassName === "string" ? spec.hostPortClassName : "";
  return {
    apiVersion: API_VERSION,
    kind: KIND.HostPort,
    metadata: { name },
    spec: { hostPortClassName: className },
    ...(Number.isInteger(port) && (port as number) >= 1 && (port as number) <= MAX_PORT
      ? { status: { port: port as number } }
      : {}),
  };
}

/** Whether `ref` names a claim at all (no name: a HostPort free to bind). */
export function hasClaimRef(ref: ObjectReference | undefined): ref is ObjectReference {
  return ref !== undefined && (ref.name ?? "") !== "";
}

/**
 * THE claimRef rule, for the controllers and the webhooks alike: `ref` names `claim` when the
 * namespace and name match and, if the reference has a uid, the claim has that same uid. A
 * reference without a uid is a pre-binding by name (as with PersistentVolumes); a claim without
 * a uid never matches a reference with one (it cannot be shown to be the same claim, and a port
 * leaked beats a port held by two).
 */
export function claimRefMatches(ref: ObjectReference | undefined, claim: HostPortClaim): boolean {
  if (ref === undefined) return false;
  if (ref.namespace !== claim.metadata.namespace || ref.name !== claim.metadata.name) return false;
  return (ref.uid ?? "") === "" || ref.uid === claim.metadata.uid;
}

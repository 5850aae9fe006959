/**
 * HostPortClass: a cluster-scoped, named, ordered set of inclusive port ranges that HostPorts
 * are allocated from.
 *
 * Constraints that objects stored by the original operator may violate (an empty `pools`) are
 * CRD-only (`.meta`): the API server enforces them on new writes, but parsing accepts them, so
 * old objects still parse. The same holds in the other kind files.
 *
 * @module
 */
import * as z from "zod";
import { API_VERSION, KIND, MAX_PORT, MESSAGE, MIN_PORT } from "./constants.ts";
import { ConditionsSchema, int64Schema, ObjectMetaSchema, parseObject } from "./meta.ts";

/** Schema of one pool: the inclusive port range `start`..`end`. */
export const PortPoolSchema = z.object({
  start: z.int().min(MIN_PORT).max(MAX_PORT).describe("The start port for the pool"),
  end: z.int().min(MIN_PORT).max(MAX_PORT).describe("The end port for the pool"),
}).loose().meta({
  "x-kubernetes-validations": [{
    rule: "self.start <= self.end",
    message: MESSAGE.endBeforeStart,
    fieldPath: ".end",
  }],
}).describe("An inclusive range of ports, from start to end (start <= end)");
/** One pool of a class. */
export type PortPool = z.infer<typeof PortPoolSchema>;

/** Schema of `HostPortClass.spec`. */
export const HostPortClassSpecSchema = z.object({
  pools: z.array(PortPoolSchema).meta({ minItems: 1 }).describe(
    "The port ranges to allocate from. A new HostPort gets the lowest free port of the first " +
      "pool (in list order) that has one. Ports are unique across the whole cluster, so pools " +
      "that overlap another class's pools share their ports. Shrinking the pools does not " +
      "take ports from HostPorts that hold them.",
  ),
}).loose().describe("The desired state of the class: its pools");
/** A count of ports. */
function countSchema(description: string): z.ZodNumber {
  return int64Schema().min(0).describe(description);
}

/** Schema of one entry of `HostPortClass.status.pools`. */
export const PoolStatusSchema = z.object({
  start: z.int().min(MIN_PORT).max(MAX_PORT).describe("The start port of the pool"),
  end: z.int().min(MIN_PORT).max(MAX_PORT).describe("The end port of the pool"),
  capacity: countSchema("Number of ports in the pool"),
  allocated: countSchema(
    "Number of ports of the pool that are held by a HostPort of any class",
  ),
  free: countSchema("Number of ports of the pool that are free to allocate"),
}).loose().describe("Usage of one pool");
/** Schema of `HostPortClass.status`. */
export const HostPortClassStatusSchema = z.object({
  capacity: countSchema("Number of distinct ports in the pools").optional(),
  allocated: countSchema(
    "Number of distinct ports in the pools that are held by a HostPort of any class " +
      "(ports are unique cluster-wide)",
  ).optional(),
  free: countSchema("Number of distinct ports in the pools that are free to allocate").optional(),
  pools: z.array(PoolStatusSchema).optional().describe(
    "Usage of each pool, in the order of spec.pools",
  ),
  conditions: ConditionsSchema.optional(),
  observedGeneration: int64Schema().min(0).optional().meta({ format: "int64" }).describe(
    "The metadata.generation this status was computed from",
  ),
}).loose().describe("The observed state of the class: its capacity and usage");
/** `HostPortClass.status`. */
export type HostPortClassStatus = z.infer<typeof HostPortClassStatusSchema>;

/** Schema of a HostPortClass object. */
export const HostPortClassSchema = z.object({
  apiVersion: z.literal(API_VERSION).describe("API version of the object"),
  kind: z.literal(KIND.HostPortClass).describe("Kind of the object"),
  metadata: ObjectMetaSchema,
  spec: HostPortClassSpecSchema,
  status: HostPortClassStatusSchema.optional(),
}).loose().describe(
  "HostPortClass is a named set of host port ranges (pools). HostPortClaims name a class, and " +
    "the operator allocates each claim a port from the class's pools.",
);
/** A HostPortClass. */
export type HostPortClass = z.infer<typeof HostPortClassSchema>;

/**
 * Parses a HostPortClass; unknown fields are kept.
 *
 * @param value an untrusted value, for example JSON from the API server
 * @returns the typed object
 * @throws {InvalidObjectError} naming every bad field when the value is not a HostPortClass
 */
export function parseHostPortClass(value: unknown): HostPortClass {
  return parseObject(HostPortClassSchema, value, KIND.HostPortClass);
}

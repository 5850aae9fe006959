/**
 * The zod schemas and parsers of `hostport.rmb938.com/v1alpha1` (Kubernetes' `types.go`). Every
 * object schema is loose, so an object read and written back loses nothing. Constraints objects
 * stored by the original operator may violate (an empty `pools`) are CRD-only (`.meta`): the API
 * server enforces them on new writes, but old objects still parse.
 * @module
 */
import * as z from "zod";
import { isPort, MAX_PORT, MIN_PORT } from "../allocator/port_bitmap.ts";
import { API_VERSION, CLAIM_PHASE, HOST_PORT_PHASE, KIND, MESSAGE } from "./constants.ts";

/** Longest object name Kubernetes accepts (a DNS subdomain). */
const MAX_NAME_LENGTH = 253;

/** Pattern of `metav1.Condition.type`: an optional DNS-subdomain prefix and a qualified name. */
const CONDITION_TYPE_PATTERN = new RegExp(
  // A string, not a literal, so the CRD carries the pattern exactly as metav1.Condition's (no `\/`).
  String
    .raw`^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$`,
);
/** Pattern of `metav1.Condition.reason`: CamelCase-like identifiers. */
const CONDITION_REASON_PATTERN = /^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/;

/**
 * An int64 field: unlike `z.int()` it accepts integers beyond 2^53, which the API server stores
 * without complaint, so objects carrying them still decode.
 */
function int64Schema(): z.ZodNumber {
  return z.number().refine(Number.isInteger, "Invalid input: expected int, received number")
    .meta({ type: "integer" });
}

const OwnerReferenceSchema = z.object({
  apiVersion: z.string(),
  kind: z.string(),
  name: z.string(),
  uid: z.string(),
  controller: z.boolean().optional(),
  blockOwnerDeletion: z.boolean().optional(),
}).loose();
/** An owner reference. */
export type OwnerReference = z.infer<typeof OwnerReferenceSchema>;

/** Schema of `metadata` as the API server returns it (the CRDs keep it a plain object). */
export const ObjectMetaSchema = z.object({
  name: z.string().optional(),
  namespace: z.string().optional(),
  uid: z.string().optional(),
  resourceVersion: z.string().optional(),
  generation: int64Schema().min(0).optional(),
  creationTimestamp: z.string().optional(),
  deletionTimestamp: z.string().optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  finalizers: z.array(z.string()).optional(),
  ownerReferences: z.array(OwnerReferenceSchema).optional(),
}).loose();

const ObjectReferenceSchema = z.object({
  apiVersion: z.string().optional().describe("API version of the referent"),
  fieldPath: z.string().optional().describe(
    "A field of the referent, when the reference is to a part of it",
  ),
  kind: z.string().optional().describe("Kind of the referent"),
  name: z.string().optional().describe("Name of the referent"),
  namespace: z.string().optional().describe("Namespace of the referent"),
  resourceVersion: z.string().optional().describe(
    "Version of the referent this reference was made to",
  ),
  uid: z.string().optional().describe("UID of the referent; tells a recreated object apart"),
}).loose();
/** A core/v1 ObjectReference (every field optional), as in `HostPort.spec.claimRef`. */
export type ObjectReference = z.infer<typeof ObjectReferenceSchema>;

const ConditionSchema = z.object({
  type: z.string().max(316).regex(CONDITION_TYPE_PATTERN).describe(
    "Type of the condition, in CamelCase, for example Bound or Allocated",
  ),
  status: z.enum(["True", "False", "Unknown"]).describe(
    "Status of the condition: True, False or Unknown",
  ),
  observedGeneration: int64Schema().min(0).optional().meta({ format: "int64" }).describe(
    "The metadata.generation the condition was computed from",
  ),
  lastTransitionTime: z.string().meta({ format: "date-time" })
    .describe("Last time the status of the condition changed"),
  reason: z.string().min(1).max(1024).regex(CONDITION_REASON_PATTERN)
    .describe("Machine-readable CamelCase reason for the last transition"),
  message: z.string().max(32768).describe("Human-readable details about the last transition"),
}).loose().describe("One aspect of the object's current state");
/** A condition, field for field `metav1.Condition` (with its length limits). */
export type Condition = z.infer<typeof ConditionSchema>;

const ConditionsSchema = z.array(ConditionSchema)
  .meta({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"] })
  .describe("Latest observations of the object's state, one per condition type");

/** A class name that cannot change after creation. */
function classNameSchema(): z.ZodString {
  return z.string().meta({
    minLength: 1,
    maxLength: MAX_NAME_LENGTH,
    "x-kubernetes-validations": [{ rule: "self == oldSelf", message: MESSAGE.cannotChangeClass }],
  });
}

/** The top-level fields of an object of `kind`. */
function objectShape<K extends string>(kind: K) {
  return { apiVersion: z.literal(API_VERSION), kind: z.literal(kind), metadata: ObjectMetaSchema };
}

// HostPortClass: a cluster-scoped, named, ordered set of inclusive port ranges.

const PortPoolSchema = z.object({
  start: z.int().min(MIN_PORT).max(MAX_PORT).describe("The start port for the pool"),
  end: z.int().min(MIN_PORT).max(MAX_PORT).describe("The end port for the pool"),
}).loose().meta({
  "x-kubernetes-validations": [{
    rule: "self.start <= self.end",
    message: MESSAGE.endBeforeStart,
    fieldPath: ".end",
  }],
}).describe("An inclusive range of ports, from start to end (start <= end)");

function countSchema(description: string): z.ZodNumber {
  return int64Schema().min(0).describe(description);
}

/** Schema of a HostPortClass object. */
export const HostPortClassSchema = z.object({
  ...objectShape(KIND.HostPortClass),
  spec: z.object({
    pools: z.array(PortPoolSchema).meta({ minItems: 1 }).describe(
      "The port ranges to allocate from. A new HostPort gets the lowest free port of the first " +
        "pool (in list order) that has one. Ports are unique across the whole cluster, so pools " +
        "that overlap another class's pools share their ports. Shrinking the pools does not " +
        "take ports from HostPorts that hold them.",
    ),
  }).loose().describe("The desired state of the class: its pools"),
  status: z.object({
    capacity: countSchema("Number of distinct ports in the pools").optional(),
    allocated: countSchema(
      "Number of distinct ports in the pools that are held by a HostPort of any class " +
        "(ports are unique cluster-wide)",
    ).optional(),
    free: countSchema("Number of distinct ports in the pools that are free to allocate")
      .optional(),
    pools: z.array(
      z.object({
        start: z.int().min(MIN_PORT).max(MAX_PORT).describe("The start port of the pool"),
        end: z.int().min(MIN_PORT).max(MAX_PORT).describe("The end port of the pool"),
        capacity: countSchema("Number of ports in the pool"),
        allocated: countSchema(
          "Number of ports of the pool that are held by a HostPort of any class",
        ),
        free: countSchema("Number of ports of the pool that are free to allocate"),
      }).loose().describe("Usage of one pool"),
    ).optional().describe("Usage of each pool, in the order of spec.pools"),
    conditions: ConditionsSchema.optional(),
    observedGeneration: int64Schema().min(0).optional().meta({ format: "int64" }).describe(
      "The metadata.generation this status was computed from",
    ),
  }).loose().describe("The observed state of the class: its capacity and usage").optional(),
}).loose().describe(
  "HostPortClass is a named set of host port ranges (pools). HostPortClaims name a class, and " +
    "the operator allocates each claim a port from the class's pools.",
);
/** A HostPortClass. */
export type HostPortClass = z.infer<typeof HostPortClassSchema>;
/** `HostPortClass.status`. */
export type HostPortClassStatus = NonNullable<HostPortClass["status"]>;

// HostPortClaim: a namespaced request for one host port from a class.

/** Schema of a HostPortClaim object. */
export const HostPortClaimSchema = z.object({
  ...objectShape(KIND.HostPortClaim),
  spec: z.object({
    hostPortClassName: classNameSchema().describe(
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
  }).describe("The desired state of the claim: the class to allocate from"),
  status: z.object({
    phase: z.enum(CLAIM_PHASE).optional().describe(
      "Pending until the claim is bound to a HostPort, then Bound; Deleting once deletion was " +
        "requested (the claim stays until no pod uses it). Bound alone does not mean a port " +
        "is allocated: see status.port and the Bound condition.",
    ),
    port: z.int().min(0).max(MAX_PORT).optional().describe(
      "The port allocated to this claim, copied from its HostPort. Absent or 0 until a port is " +
        "allocated.",
    ),
    conditions: ConditionsSchema.optional(),
  }).loose().describe("The observed state of the claim").optional(),
}).loose().describe(
  "HostPortClaim requests one host port from a HostPortClass. Pods in the same namespace use it " +
    "with the annotation claim.hostport.rmb938.com/<port name>: <claim name> and receive the port " +
    "as the hostPort of the named container port.",
);
/** A HostPortClaim. */
export type HostPortClaim = z.infer<typeof HostPortClaimSchema>;
/** `HostPortClaim.status`. */
export type HostPortClaimStatus = NonNullable<HostPortClaim["status"]>;

// HostPort: a cluster-scoped holder of one allocated port, like a PersistentVolume.

/** Schema of a HostPort object. */
export const HostPortSchema = z.object({
  ...objectShape(KIND.HostPort),
  spec: z.object({
    claimRef: ObjectReferenceSchema.optional().describe(
      "The referencing claim: namespace, name and uid of the HostPortClaim this HostPort is bound " +
        "to. Absent on HostPorts created by hand until a claim binds them. Once set it cannot be " +
        "changed or removed.",
    ),
    hostPortClassName: classNameSchema().describe(
      "The name of the HostPortClass whose pools the port comes from. It cannot be changed.",
    ),
  }).loose().meta({
    "x-kubernetes-validations": [{
      rule: "!has(oldSelf.claimRef) || (has(self.claimRef) && self.claimRef == oldSelf.claimRef)",
      message: MESSAGE.cannotChangeClaimRef,
      fieldPath: ".claimRef",
    }],
  }).describe("The desired state of the HostPort: its class and the claim it is bound to"),
  status: z.object({
    phase: z.enum(HOST_PORT_PHASE).optional().describe(
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
  }).describe("The observed state of the HostPort: its phase and port").optional(),
}).loose().describe(
  "HostPort holds one host port allocated from a HostPortClass, for the HostPortClaim in " +
    "spec.claimRef. No port is ever held by two HostPorts.",
);
/** A HostPort. */
export type HostPort = z.infer<typeof HostPortSchema>;
/** `HostPort.status`. */
export type HostPortStatus = NonNullable<HostPort["status"]>;

// HostPortClaimTemplate: a namespaced recipe for claims, one per pod.

/** Schema of a HostPortClaimTemplate object. */
export const HostPortClaimTemplateSchema = z.object({
  ...objectShape(KIND.HostPortClaimTemplate),
  spec: z.object({
    hostPortClassName: z.string().meta({ minLength: 1, maxLength: MAX_NAME_LENGTH }).describe(
      "The host port class of the claims made from this template",
    ),
    metadata: z.object({
      labels: z.record(z.string(), z.string().describe("A label value")).optional().describe(
        "Labels of each claim",
      ),
      annotations: z.record(z.string(), z.string().describe("An annotation value")).optional()
        .describe("Annotations of each claim"),
    }).loose().optional().describe("Labels and annotations copied into each claim"),
  }).loose().describe("What each claim made from this template looks like"),
}).loose().describe(
  "HostPortClaimTemplate makes one HostPortClaim per pod. A pod annotated " +
    "claim-template.hostport.rmb938.com/<port name>: <template name> gets its own claim: " +
    "<template>-<pod> for StatefulSet pods (kept across restarts, retained as the StatefulSet's " +
    "persistentVolumeClaimRetentionPolicy says), <pod>-<port name> owned by the pod otherwise.",
);
/** A HostPortClaimTemplate. */
export type HostPortClaimTemplate = z.infer<typeof HostPortClaimTemplateSchema>;

// Parsing.

/**
 * Thrown (or returned) when a value does not have the shape of the expected kind. Each issue has
 * a field path (`spec.pools[0].end`; `""`: the value); the message names the kind, the object
 * and every issue.
 */
export class InvalidObjectError extends TypeError {
  constructor(
    readonly kind: string,
    readonly objectName: string | undefined,
    readonly issues: readonly { readonly path: string; readonly message: string }[],
  ) {
    const subject = objectName === undefined ? kind : `${kind} "${objectName}"`;
    const details = issues.map((issue) =>
      issue.path === "" ? issue.message : `${issue.path}: ${issue.message}`
    ).join("; ");
    super(`Cannot parse ${subject}: ${details}`);
    this.name = "InvalidObjectError";
  }
}

/** Outcome of a safe parse: the typed value, or the error that `parse` would have thrown. */
export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: InvalidObjectError };

/** Formats a zod issue path as Kubernetes prints field paths: `spec.pools[0].end`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else out += out === "" ? String(segment) : `.${String(segment)}`;
  }
  return out;
}

/** Parses `value` with the schema of `kind` and returns the result as a value. */
export function safeParseObject<S extends z.ZodType>(
  schema: S,
  value: unknown,
  kind: string,
): ParseResult<z.output<S>> {
  const result = schema.safeParse(value);
  if (result.success) return { ok: true, value: result.data };
  const issues = result.error.issues.map((issue) => ({
    path: formatPath(issue.path),
    message: issue.message,
  }));
  const metadata = isPlainObject(value) && isPlainObject(value.metadata) ? value.metadata : {};
  const { name, namespace } = metadata;
  const objectName = typeof name !== "string"
    ? undefined
    : typeof namespace === "string" && namespace !== ""
    ? `${namespace}/${name}`
    : name;
  return { ok: false, error: new InvalidObjectError(kind, objectName, issues) };
}

/** Parses `value` as `kind`; loose schemas keep unknown fields. @throws {InvalidObjectError} */
export function parseObject<S extends z.ZodType>(
  schema: S,
  value: unknown,
  kind: string,
): z.output<S> {
  const result = safeParseObject(schema, value, kind);
  if (!result.ok) throw result.error;
  return result.value;
}

/** Parses a HostPortClaim and returns the outcome as a value. */
export function safeParseHostPortClaim(value: unknown): ParseResult<HostPortClaim> {
  return safeParseObject(HostPortClaimSchema, value, KIND.HostPortClaim);
}

/** Parses a HostPort and returns the outcome as a value. */
export function safeParseHostPort(value: unknown): ParseResult<HostPort> {
  return safeParseObject(HostPortSchema, value, KIND.HostPort);
}

/** The message of a thrown value. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Whether `value` is a JSON object (not null, not an array). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Whether two JSON-like values are deeply equal; a key holding `undefined` counts as absent. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((item, index) => jsonEqual(item, b[index]));
  }
  if (!isPlainObject(a) || !isPlainObject(b)) return false;
  const keys = Object.keys(a).filter((key) => a[key] !== undefined);
  return keys.length === Object.keys(b).filter((key) => b[key] !== undefined).length &&
    keys.every((key) => jsonEqual(a[key], b[key]));
}

/**
 * What can still be read of a HostPort that does not parse (its port must keep counting as held,
 * since leaking beats double-allocating): its name, class and, when `status.port` is a port
 * (an integer from 1 to 65535), that port; anything else is dropped.
 */
export function salvageHostPort(value: unknown): HostPort {
  const object = isPlainObject(value) ? value : {};
  const metadata = isPlainObject(object.metadata) ? object.metadata : {};
  const spec = isPlainObject(object.spec) ? object.spec : {};
  const port = isPlainObject(object.status) ? object.status.port : undefined;
  return {
    apiVersion: API_VERSION,
    kind: KIND.HostPort,
    metadata: { name: typeof metadata.name === "string" ? metadata.name : "" },
    spec: {
      hostPortClassName: typeof spec.hostPortClassName === "string" ? spec.hostPortClassName : "",
    },
    ...(typeof port === "number" && isPort(port) ? { status: { port } } : {}),
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

/** A StatefulSet's claim retention, as in `persistentVolumeClaimRetentionPolicy`. */
export interface RetentionPolicy {
  /** `Delete`: claims go with the StatefulSet; `Retain` (default): they stay. */
  readonly whenDeleted: "Retain" | "Delete";
  /** `Delete`: a scaled-away ordinal's claim goes with its pod; `Retain` (default): it stays. */
  readonly whenScaled: "Retain" | "Delete";
}

/** Reads a StatefulSet's `persistentVolumeClaimRetentionPolicy` (both fields default `Retain`). */
export function retentionPolicyOf(
  policy: { whenDeleted?: string | undefined; whenScaled?: string | undefined } | undefined,
): RetentionPolicy {
  return {
    whenDeleted: policy?.whenDeleted === "Delete" ? "Delete" : "Retain",
    whenScaled: policy?.whenScaled === "Delete" ? "Delete" : "Retain",
  };
}

/**
 * The owner reference a StatefulSet gets on its claims (as the StatefulSet controller sets on its
 * PVCs: not the controller, since the claim outlives pods and sets under `Retain`).
 */
export function statefulSetReference(set: { name: string; uid: string }): OwnerReference {
  return { apiVersion: "apps/v1", kind: "StatefulSet", name: set.name, uid: set.uid };
}

/**
 * Schemas of the Kubernetes building blocks the kinds share (object metadata, object references
 * and conditions), and parsing of untrusted values with the API schemas: a named error that lists
 * every problem with its field path, and a result type for callers that treat a bad object as an
 * expected outcome.
 *
 * Every object schema is loose: unknown fields are kept on parse, so an object read from the API
 * server and written back loses nothing.
 *
 * @module
 */
import * as z from "zod";

/** Maximum length of a condition type, as in `metav1.Condition`. */
const CONDITION_TYPE_MAX_LENGTH = 316;
/** Maximum length of a condition reason, as in `metav1.Condition`. */
const CONDITION_REASON_MAX_LENGTH = 1024;
/** Maximum length of a condition message, as in `metav1.Condition`. */
const CONDITION_MESSAGE_MAX_LENGTH = 32768;

/** Pattern of `metav1.Condition.type`: an optional DNS-subdomain prefix and a qualified name. */
export const CONDITION_TYPE_PATTERN = new RegExp(
  // A string, not a literal, so the CRD carries the pattern exactly as metav1.Condition's (no `\/`).
  String
    .raw`^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$`,
);
/** Pattern of `metav1.Condition.reason`: CamelCase-like identifiers. */
export const CONDITION_REASON_PATTERN = /^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/;

/** Schema of a timestamp as the API server writes it (RFC 3339, for example `2026-01-02T15:04:05Z`). */
export function timestampSchema(description: string): z.ZodString {
  return z.string().meta({ format: "date-time" }).describe(description);
}

/**
 * Schema of an int64 field (a generation, a count): any integer-valued number. Unlike `z.int()`
 * it accepts integers beyond 2^53 (JSON parsing rounds them, but they stay integers), which the
 * API server stores without complaint, so objects carrying them still decode.
 */
export function int64Schema(): z.ZodNumber {
  return z.number().refine(Number.isInteger, "Invalid input: expected int, received number")
    .meta({ type: "integer" });
}

/** Schema of an owner reference (`metadata.ownerReferences[]`). */
export const OwnerReferenceSchema = z.object({
  apiVersion: z.string().describe("API version of the owner"),
  kind: z.string().describe("Kind of the owner"),
  name: z.string().describe("Name of the owner"),
  uid: z.string().describe("UID of the owner"),
  controller: z.boolean().optional().describe("Whether the owner is the managing controller"),
  blockOwnerDeletion: z.boolean().optional().describe(
    "Whether the owner cannot be deleted before this object is",
  ),
}).loose().describe("A reference to an owning object");
/** An owner reference. */
export type OwnerReference = z.infer<typeof OwnerReferenceSchema>;

/** Schema of `metadata` as the API server returns it (the fields this project reads, and any others). */
export const ObjectMetaSchema = z.object({
  name: z.string().optional().describe("Name of the object"),
  generateName: z.string().optional().describe("Prefix for a server-generated name"),
  namespace: z.string().optional().describe("Namespace of a namespaced object"),
  uid: z.string().optional().describe("Unique id of the object, set by the API server"),
  resourceVersion: z.string().optional().describe(
    "Version of the object, for optimistic concurrency",
  ),
  generation: int64Schema().min(0).optional().describe("Generation of the desired state"),
  creationTimestamp: timestampSchema("Time the object was created").optional(),
  deletionTimestamp: timestampSchema("Time deletion was requested").optional(),
  deletionGracePeriodSeconds: int64Schema().optional().describe(
    "Grace period of a pending deletion",
  ),
  labels: z.record(z.string(), z.string()).optional().describe("Labels of the object"),
  annotations: z.record(z.string(), z.string()).optional().describe("Annotations of the object"),
  finalizers: z.array(z.string()).optional().describe("Finalizers that block deletion"),
  ownerReferences: z.array(OwnerReferenceSchema).optional().describe("Objects this one depends on"),
  managedFields: z.array(z.unknown()).optional().describe("Field ownership records"),
}).loose().describe("Standard object metadata");
/** Object metadata. */
export type ObjectMeta = z.infer<typeof ObjectMetaSchema>;

/** Schema of a core/v1 ObjectReference (every field optional), as used by `HostPort.spec.claimRef`. */
export const ObjectReferenceSchema = z.object({
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
/** A core/v1 ObjectReference. */
export type ObjectReference = z.infer<typeof ObjectReferenceSchema>;

/** Schema of a condition, field for field `metav1.Condition`. */
export const ConditionSchema = z.object({
  type: z.string().max(CONDITION_TYPE_MAX_LENGTH).regex(CONDITION_TYPE_PATTERN).describe(
    "Type of the condition, in CamelCase, for example Bound or Allocated",
  ),
  status: z.enum(["True", "False", "Unknown"]).describe(
    "Status of the condition: True, False or Unknown",
  ),
  observedGeneration: int64Schema().min(0).optional().meta({ format: "int64" }).describe(
    "The metadata.generation the condition was computed from",
  ),
  lastTransitionTime: timestampSchema("Last time the status of the condition changed"),
  reason: z.string().min(1).max(CONDITION_REASON_MAX_LENGTH).regex(CONDITION_REASON_PATTERN)
    .describe("Machine-readable CamelCase reason for the last transition"),
  message: z.string().max(CONDITION_MESSAGE_MAX_LENGTH).describe(
    "Human-readable details about the last transition",
  ),
}).loose().describe("One aspect of the object's current state");
/** A condition (`metav1.Condition`). */
export type Condition = z.infer<typeof ConditionSchema>;

/** Schema of `status.conditions`: at most one entry per type. */
export const ConditionsSchema = z.array(ConditionSchema)
  .meta({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"] })
  .describe("Latest observations of the object's state, one per condition type");

/** One problem found in a value: the field path (`spec.pools[0].end`) and what is wrong there. */
export interface ObjectIssue {
  /** Dotted field path with `[i]` indices; `""` for the value itself. */
  readonly path: string;
  /** What is wrong, for example `Too small: expected number to be >=1`. */
  readonly message: string;
}

/** Thrown (or returned) when a value does not have the shape of the expected kind. */
export class InvalidObjectError extends TypeError {
  /** The kind that was expected, for example `HostPortClaim`. */
  readonly kind: string;
  /** `namespace/name` or `name` of the object when the value carries one. */
  readonly objectName: string | undefined;
  /** Every problem found, in the order the schema reported them. */
  readonly issues: readonly ObjectIssue[];

  /**
   * Creates the error; the message names the kind, the object and every issue.
   *
   * @param kind the expected kind
   * @param objectName `namespace/name` or `name`, if known
   * @param issues the problems found
   */
  constructor(kind: string, objectName: string | undefined, issues: readonly ObjectIssue[]) {
    const subject = objectName === undefined ? kind : `${kind} "${objectName}"`;
    const details = issues.map((issue) =>
      issue.path === "" ? issue.message : `${issue.path}: ${issue.message}`
    ).join("; ");
    super(`Cannot parse ${subject}: ${details}`);
    this.name = "InvalidObjectError";
    this.kind = kind;
    this.objectName = objectName;
    this.issues = issues;
  }
}

/** Outcome of a safe parse: the typed value, or the error that `parse` would have thrown. */
export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: InvalidObjectError };

/**
 * Formats a zod issue path as Kubernetes prints field paths: `spec.pools[0].end`.
 *
 * @param path the path segments
 * @returns the dotted path, `""` for the root
 */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else out += out === "" ? String(segment) : `.${String(segment)}`;
  }
  return out;
}

/**
 * Parses `value` with `schema` and returns the result as a value.
 *
 * @param schema the schema of the kind
 * @param value the untrusted value
 * @param kind the kind name used in the error message
 * @returns the parsed value or an {@linkcode InvalidObjectError}
 */
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
  return { ok: false, error: new InvalidObjectError(kind, objectNameOf(value), issues) };
}

/**
 * Parses `value` with `schema`.
 *
 * @param schema the schema of the kind
 * @param value the untrusted value
 * @param kind the kind name used in the error message
 * @returns the parsed value; unknown fields are kept where the schema is loose
 * @throws {InvalidObjectError} when the value does not match the schema
 */
export function parseObject<S extends z.ZodType>(
  schema: S,
  value: unknown,
  kind: string,
): z.output<S> {
  const result = safeParseObject(schema, value, kind);
  if (!result.ok) throw result.error;
  return result.value;
}

/** Reads `namespace/name` (or `name`) from a value that may not be an object at all. */
function objectNameOf(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const metadata = (value as { metadata?: unknown }).metadata;
  if (typeof metadata !== "object" || metadata === null) return undefined;
  const { name, namespace } = metadata as { name?: unknown; namespace?: unknown };
  if (typeof name !== "string") return undefined;
  return typeof namespace === "string" && namespace !== "" ? `${namespace}/${name}` : name;
}

/** Whether `value` is a JSON object (not null, not an array). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

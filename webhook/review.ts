/**
 * AdmissionReview `admission.k8s.io/v1`: decoding of requests (zod) and encoding of responses,
 * with the `metav1.Status` of a refusal shaped like apimachinery's `NewInvalid`: the message
 * `<Kind>.<group> "<name>" is invalid: <aggregate>` and one `details.causes` entry per error.
 *
 * @module
 */
import * as z from "zod";
import type { Status, StatusCause } from "kubernetes-types/meta/v1.d.ts";
import { formatPath, isPlainObject } from "../lib/api/mod.ts";
import { encodeJsonPatch, jsonEqual, type JsonPatchOp } from "./json_patch.ts";
import { aggregateFieldErrors, errorBody, type FieldError, goQuote } from "./field_errors.ts";

/** `apiVersion` of every AdmissionReview this server reads and writes. */
export const ADMISSION_API_VERSION = "admission.k8s.io/v1";
/** `kind` of an AdmissionReview. */
export const ADMISSION_KIND = "AdmissionReview";

const GroupVersionKindSchema = z.object({
  group: z.string(),
  version: z.string(),
  kind: z.string(),
}).loose();

const GroupVersionResourceSchema = z.object({
  group: z.string(),
  version: z.string(),
  resource: z.string(),
}).loose();

/** Operations an admission request can carry. */
const OPERATIONS = ["CREATE", "UPDATE", "DELETE", "CONNECT"] as const;
/** An admission operation. */
export type Operation = typeof OPERATIONS[number];

/** Schema of `AdmissionReview.request`; unknown fields are kept. */
const AdmissionRequestSchema = z.object({
  uid: z.string().min(1, "must be a non-empty string"),
  kind: GroupVersionKindSchema,
  resource: GroupVersionResourceSchema,
  subResource: z.string().optional(),
  name: z.string().optional(),
  namespace: z.string().optional(),
  operation: z.enum(OPERATIONS),
  object: z.unknown().optional(),
  oldObject: z.unknown().optional(),
  dryRun: z.boolean().optional(),
}).loose().superRefine((request, ctx) => {
  // CREATE and UPDATE carry the object; UPDATE also the old one (DELETE carries only oldObject).
  const needsObject = request.operation === "CREATE" || request.operation === "UPDATE";
  if (needsObject && !isPlainObject(request.object)) {
    ctx.addIssue({
      code: "custom",
      path: ["object"],
      message: `must be an object for ${request.operation}`,
    });
  }
  if (request.operation === "UPDATE" && !isPlainObject(request.oldObject)) {
    ctx.addIssue({ code: "custom", path: ["oldObject"], message: "must be an object for UPDATE" });
  }
});
/** A decoded admission request. */
export type AdmissionRequest = z.infer<typeof AdmissionRequestSchema>;

/** Schema of an AdmissionReview carrying a request. */
const AdmissionReviewRequestSchema = z.object({
  apiVersion: z.literal(ADMISSION_API_VERSION, `must be "${ADMISSION_API_VERSION}"`),
  kind: z.literal(ADMISSION_KIND, `must be "${ADMISSION_KIND}"`),
  request: AdmissionRequestSchema,
}).loose();

/** Outcome of {@linkcode decodeAdmissionReview}; `uid` is set when the body carried a usable one. */
export type DecodeResult =
  | { ok: true; request: AdmissionRequest }
  | { ok: false; uid: string | undefined; message: string };

/**
 * Decodes and validates a parsed JSON body as an AdmissionReview v1 request.
 *
 * @param body the parsed JSON body
 * @returns the request, or a message naming every problem and the uid if one could be read
 */
export function decodeAdmissionReview(body: unknown): DecodeResult {
  const result = AdmissionReviewRequestSchema.safeParse(body);
  if (result.success) return { ok: true, request: result.data.request };
  return {
    ok: false,
    uid: readUid(body),
    message: `Cannot decode the AdmissionReview: ${describeIssues(result.error)}`,
  };
}

/** Most schema problems a message lists; the rest are counted. */
const MAX_LISTED_ISSUES = 5;

/**
 * Describes a zod error's first few issues as `path: message; ...`.
 *
 * @param error the zod error
 * @returns the description
 */
function describeIssues(error: z.ZodError): string {
  const problems = error.issues.slice(0, MAX_LISTED_ISSUES).map((issue) => {
    const path = formatPath(issue.path);
    return path === "" ? issue.message : `${path}: ${issue.message}`;
  });
  const more = error.issues.length - MAX_LISTED_ISSUES;
  if (more > 0) problems.push(`${more} more`);
  return problems.join("; ");
}

/**
 * Parses the object of a request with `schema`.
 *
 * @param schema the schema
 * @param value the object
 * @param what what the object is, for the message (for example `the pod`)
 * @returns the parsed value, or a message `Cannot decode <what>: ...`
 */
export function decodeObject<S extends z.ZodType>(
  schema: S,
  value: unknown,
  what: string,
): { ok: true; value: z.output<S> } | { ok: false; message: string } {
  const result = schema.safeParse(value);
  if (result.success) return { ok: true, value: result.data };
  return { ok: false, message: `Cannot decode ${what}: ${describeIssues(result.error)}` };
}

/**
 * Whether an UPDATE leaves the raw `spec` as it was (a metadata-only change such as removing a
 * finalizer or editing labels, or a status write). Compared on the raw objects, so it answers
 * even when neither object decodes: such updates are always allowed, so an admin can repair or
 * delete an object the operator cannot understand.
 *
 * @param request the decoded request
 * @returns true for an UPDATE whose old and new objects carry the same (or no) `spec`
 */
export function specUnchanged(request: AdmissionRequest): boolean {
  if (request.operation !== "UPDATE") return false;
  const spec = (value: unknown) => isPlainObject(value) ? value["spec"] : undefined;
  return jsonEqual(spec(request.oldObject), spec(request.object));
}

/** The patch type of every mutating response. */
export const PATCH_TYPE = "JSONPatch";

/** `AdmissionReview.response`. */
export interface AdmissionResponse {
  /** The request's uid, echoed. */
  uid: string;
  /** Whether the request is admitted. */
  allowed: boolean;
  /** Why the request was refused (absent when allowed). */
  status?: Status;
  /** Always `JSONPatch` when `patch` is set. */
  patchType?: typeof PATCH_TYPE;
  /** Base64 of the JSON Patch (RFC 6902) document. */
  patch?: string;
  /** Warnings for the client (kubectl prints them as `Warning: ...`). */
  warnings?: string[];
}

/** An AdmissionReview carrying a response. */
export interface AdmissionReviewResponse {
  /** Always `admission.k8s.io/v1`. */
  apiVersion: typeof ADMISSION_API_VERSION;
  /** Always `AdmissionReview`. */
  kind: typeof ADMISSION_KIND;
  /** The answer. */
  response: AdmissionResponse;
}

/** Options of {@linkcode allowReview}. */
export interface AllowOptions {
  /** JSON Patch operations; no patch is sent when empty or absent. */
  patch?: readonly JsonPatchOp[];
  /** Warnings; none are sent when empty or absent. */
  warnings?: readonly string[];
}

/**
 * Builds an allowing AdmissionReview.
 *
 * @param uid the request uid
 * @param options the patch and warnings
 * @returns the review
 */
export function allowReview(uid: string, options: AllowOptions = {}): AdmissionReviewResponse {
  const response: AdmissionResponse = { uid, allowed: true };
  if (options.patch !== undefined && options.patch.length > 0) {
    response.patchType = PATCH_TYPE;
    response.patch = encodeJsonPatch(options.patch);
  }
  addWarnings(response, options.warnings);
  return review(response);
}

/**
 * Builds a refusing AdmissionReview.
 *
 * @param uid the request uid (`""` when unknown)
 * @param status why: code, reason, message and details
 * @param warnings warnings to send along
 * @returns the review
 */
export function denyReview(
  uid: string,
  status: Status,
  warnings?: readonly string[],
): AdmissionReviewResponse {
  const response: AdmissionResponse = {
    uid,
    allowed: false,
    status: { metadata: {}, status: "Failure", ...status },
  };
  addWarnings(response, warnings);
  return review(response);
}

/**
 * Builds a refusing AdmissionReview for a request that could not be processed (the original's
 * `admission.Errored`), code 400 by default.
 *
 * @param uid the request uid
 * @param message what was wrong
 * @returns the review
 */
export function badRequestReview(uid: string, message: string): AdmissionReviewResponse {
  return denyReview(uid, { code: 400, reason: "BadRequest", message });
}

/** Longest warning sent; the API server may truncate longer ones anyway. */
const MAX_WARNING_LENGTH = 512;

function addWarnings(response: AdmissionResponse, warnings: readonly string[] | undefined): void {
  if (warnings === undefined || warnings.length === 0) return;
  // Warnings travel in an HTTP header: no control characters, bounded length.
  response.warnings = warnings.map((warning) =>
    // deno-lint-ignore no-control-regex
    warning.replace(/[\u0000-\u001f\u007f]/g, " ").slice(0, MAX_WARNING_LENGTH)
  );
}

function review(response: AdmissionResponse): AdmissionReviewResponse {
  return { apiVersion: ADMISSION_API_VERSION, kind: ADMISSION_KIND, response };
}

function readUid(body: unknown): string | undefined {
  if (!isPlainObject(body)) return undefined;
  const request = body["request"];
  if (!isPlainObject(request)) return undefined;
  const uid = request["uid"];
  return typeof uid === "string" && uid !== "" ? uid : undefined;
}

/** Which object a refusal is about. */
export interface ObjectIdentity {
  /** API group, `""` for the core group (pods). */
  readonly group: string;
  /** Kind, for example `HostPortClass`. */
  readonly kind: string;
  /** Name of the object as printed in the message. */
  readonly name: string;
}

/**
 * Returns the message `<Kind>.<group> "<name>" is invalid: <aggregate>` (no group part for the
 * core group), exactly as apimachinery prints it.
 *
 * @param identity the object
 * @param errors the field errors
 * @returns the message
 */
export function invalidMessage(identity: ObjectIdentity, errors: readonly FieldError[]): string {
  const kind = identity.group === "" ? identity.kind : `${identity.kind}.${identity.group}`;
  const head = `${kind} ${goQuote(identity.name)} is invalid`;
  const aggregate = aggregateFieldErrors(errors);
  return aggregate === "" ? head : `${head}: ${aggregate}`;
}

/**
 * The status of a refused HostPortClass, HostPortClaim or HostPort write: 422, reason `Invalid`,
 * with `details.causes` (seed 3.2).
 *
 * @param identity the object
 * @param errors the field errors
 * @returns the status
 */
export function invalidStatus(identity: ObjectIdentity, errors: readonly FieldError[]): Status {
  return {
    code: 422,
    reason: "Invalid",
    message: invalidMessage(identity, errors),
    details: {
      group: identity.group,
      kind: identity.kind,
      name: identity.name,
      causes: errors.map(toCause),
    },
  };
}

/** The name of a pod, or of a pod created with `generateName` (its name is not chosen yet). */
export interface PodName {
  /** `metadata.name`, `""` or absent before the API server generates it. */
  readonly name?: string | undefined;
  /** `metadata.generateName`, the prefix of the name to generate. */
  readonly generateName?: string | undefined;
}

/**
 * Returns the name a refusal prints for a pod: its name, or `<generateName><generated>` for a
 * pod whose name the API server has not generated yet (Deployment and ReplicaSet pods), or `""`.
 *
 * @param pod the pod's name fields
 * @returns the printed name
 */
export function podDisplayName(pod: PodName): string {
  if (pod.name !== undefined && pod.name !== "") return pod.name;
  if (pod.generateName !== undefined && pod.generateName !== "") {
    return `${pod.generateName}<generated>`;
  }
  return "";
}

/**
 * The status of a refused pod: 403, reason `Forbidden` and the message `Pod "<name>" is invalid:
 * <aggregate>`, as the original answered (users' scripts match it), plus `details.causes`, which
 * the original lost.
 *
 * @param pod the pod's name fields
 * @param errors the field errors
 * @returns the status
 */
export function podDeniedStatus(pod: PodName, errors: readonly FieldError[]): Status {
  const details: Status["details"] = { kind: "Pod", causes: errors.map(toCause) };
  if (pod.name !== undefined && pod.name !== "") details.name = pod.name;
  return {
    code: 403,
    reason: "Forbidden",
    message: invalidMessage({ group: "", kind: "Pod", name: podDisplayName(pod) }, errors),
    details,
  };
}

/** `metav1.StatusCause`: the Go field `Type` travels as JSON `reason`. */
function toCause(error: FieldError): StatusCause {
  return { reason: error.type, message: errorBody(error), field: error.field };
}

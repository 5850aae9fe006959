/**
 * AdmissionReview `admission.k8s.io/v1`: decoding requests and encoding responses, with a
 * refusal's `metav1.Status` shaped like apimachinery's `NewInvalid`.
 *
 * @module
 */
import * as z from "zod";
import type { Status } from "kubernetes-types/meta/v1.d.ts";
import { formatPath, isPlainObject } from "../lib/api/mod.ts";
import type jsonpatch from "fast-json-patch";
import { aggregateFieldErrors, errorBody, type FieldError, goQuote } from "./field_errors.ts";

const ADMISSION_API_VERSION = "admission.k8s.io/v1";
const ADMISSION_KIND = "AdmissionReview";

/** Schema of `AdmissionReview.request`; unknown fields are kept. */
const AdmissionRequestSchema = z.object({
  uid: z.string().min(1, "must be a non-empty string"),
  kind: z.object({ group: z.string(), version: z.string(), kind: z.string() }).loose(),
  resource: z.object({ group: z.string(), version: z.string(), resource: z.string() }).loose(),
  name: z.string().optional(),
  namespace: z.string().optional(),
  operation: z.enum(["CREATE", "UPDATE", "DELETE", "CONNECT"]),
  object: z.unknown().optional(),
  oldObject: z.unknown().optional(),
  dryRun: z.boolean().optional(),
}).loose().superRefine((request, ctx) => {
  const { operation } = request;
  const needed = { CREATE: ["object"], UPDATE: ["object", "oldObject"] } as const;
  for (const key of operation === "CREATE" || operation === "UPDATE" ? needed[operation] : []) {
    if (isPlainObject(request[key])) continue;
    ctx.addIssue({ code: "custom", path: [key], message: `must be an object for ${operation}` });
  }
});
/** A decoded admission request. */
export type AdmissionRequest = z.infer<typeof AdmissionRequestSchema>;

const AdmissionReviewRequestSchema = z.object({
  apiVersion: z.literal(ADMISSION_API_VERSION, `must be "${ADMISSION_API_VERSION}"`),
  kind: z.literal(ADMISSION_KIND, `must be "${ADMISSION_KIND}"`),
  request: AdmissionRequestSchema,
}).loose();

/** Decodes a parsed JSON body as an AdmissionReview v1 request, or says why not (with its uid). */
export function decodeAdmissionReview(
  body: unknown,
):
  | { ok: true; request: AdmissionRequest }
  | { ok: false; uid: string | undefined; message: string } {
  const decoded = decodeObject(AdmissionReviewRequestSchema, body, "the AdmissionReview");
  if (decoded.ok) return { ok: true, request: decoded.value.request };
  const request = isPlainObject(body) ? body["request"] : undefined;
  const uid = isPlainObject(request) ? request["uid"] : undefined;
  const usable = typeof uid === "string" && uid !== "";
  return { ok: false, uid: usable ? uid : undefined, message: decoded.message };
}

/** Most schema problems a message lists; the rest are counted. */
const MAX_LISTED_ISSUES = 5;

/** Parses the object of a request with `schema`, or says `Cannot decode <what>: <path>: ...; ...`. */
export function decodeObject<S extends z.ZodType>(
  schema: S,
  value: unknown,
  what: string,
): { ok: true; value: z.output<S> } | { ok: false; message: string } {
  const result = schema.safeParse(value);
  if (result.success) return { ok: true, value: result.data };
  const { issues } = result.error;
  const problems = issues.slice(0, MAX_LISTED_ISSUES).map((issue) => {
    const path = formatPath(issue.path);
    return path === "" ? issue.message : `${path}: ${issue.message}`;
  });
  if (issues.length > MAX_LISTED_ISSUES) problems.push(`${issues.length - MAX_LISTED_ISSUES} more`);
  return { ok: false, message: `Cannot decode ${what}: ${problems.join("; ")}` };
}

/** One JSON Patch (RFC 6902) operation; the webhooks emit only `add` and `replace`. */
export type JsonPatchOp = jsonpatch.Operation;

/** `AdmissionReview.response`: `status` says why a request is refused; `patch` is base64 JSON. */
export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: Status;
  patchType?: "JSONPatch";
  patch?: string;
  warnings?: string[];
}

/** An AdmissionReview carrying a response. */
export interface AdmissionReviewResponse {
  apiVersion: typeof ADMISSION_API_VERSION;
  kind: typeof ADMISSION_KIND;
  response: AdmissionResponse;
}

const encoder = new TextEncoder();

/** Builds an allowing AdmissionReview; empty patches and warnings are left out. */
export function allowReview(
  uid: string,
  { patch = [], warnings }: { patch?: readonly JsonPatchOp[]; warnings?: readonly string[] } = {},
): AdmissionReviewResponse {
  if (patch.length === 0) return review({ uid, allowed: true }, warnings);
  const encoded = encoder.encode(JSON.stringify(patch)).toBase64();
  return review({ uid, allowed: true, patchType: "JSONPatch", patch: encoded }, warnings);
}

/** Builds a refusing AdmissionReview (`uid` is `""` when unknown). */
export function denyReview(
  uid: string,
  status: Status,
  warnings?: readonly string[],
): AdmissionReviewResponse {
  const failure = { metadata: {}, status: "Failure", ...status };
  return review({ uid, allowed: false, status: failure }, warnings);
}

/** Refuses a request that could not be processed (the original's `admission.Errored`): code 400. */
export function badRequestReview(uid: string, message: string): AdmissionReviewResponse {
  return denyReview(uid, { code: 400, reason: "BadRequest", message });
}

/** Longest warning sent; the API server may truncate longer ones anyway. */
const MAX_WARNING_LENGTH = 512;

function review(
  response: AdmissionResponse,
  warnings: readonly string[] | undefined,
): AdmissionReviewResponse {
  if (warnings !== undefined && warnings.length > 0) {
    // Warnings travel in an HTTP header: no control characters, bounded length.
    response.warnings = warnings.map((warning) =>
      // deno-lint-ignore no-control-regex
      warning.replace(/[\u0000-\u001f\u007f]/g, " ").slice(0, MAX_WARNING_LENGTH)
    );
  }
  return { apiVersion: ADMISSION_API_VERSION, kind: ADMISSION_KIND, response };
}

/** `<Kind>.<group> "<name>" is invalid: <aggregate>`, without the group for the core group. */
function invalidMessage(group: string, kind: string, name: string, errors: readonly FieldError[]) {
  const head = `${group === "" ? kind : `${kind}.${group}`} ${goQuote(name)} is invalid`;
  const aggregate = aggregateFieldErrors(errors);
  return aggregate === "" ? head : `${head}: ${aggregate}`;
}

/** `metav1.StatusCause`s: the Go field `Type` travels as JSON `reason`. */
function causes(errors: readonly FieldError[]) {
  return errors.map((e) => ({ reason: e.type, message: errorBody(e), field: e.field }));
}

/** The status of a refused custom resource write: 422 `Invalid`, with causes (seed 3.2). */
export function invalidStatus(
  identity: { group: string; kind: string; name: string },
  errors: readonly FieldError[],
): Status {
  return {
    code: 422,
    reason: "Invalid",
    message: invalidMessage(identity.group, identity.kind, identity.name, errors),
    details: { ...identity, causes: causes(errors) },
  };
}

/**
 * The status of a refused pod: 403 `Forbidden` with the original's message `Pod "<name>" is
 * invalid: ...` (users' scripts match it); an unnamed pod shows as `<generateName><generated>`.
 */
export function podDeniedStatus(
  pod: { readonly name?: string | undefined; readonly generateName?: string | undefined },
  errors: readonly FieldError[],
): Status {
  const details: Status["details"] = { kind: "Pod", causes: causes(errors) };
  if (pod.name) details.name = pod.name;
  const shown = pod.name || (pod.generateName ? `${pod.generateName}<generated>` : "");
  const message = invalidMessage("", "Pod", shown, errors);
  return { code: 403, reason: "Forbidden", message, details };
}

/**
 * The seam between the HTTP server and the admission logic: one function from (URL path, parsed
 * JSON body, read-only lookups) to an AdmissionReview to send back or an HTTP error, after
 * checking that the request is for the kind the path's webhook serves. Pure apart from the
 * injected lookups and delay: no clock, no I/O of its own, and it never throws.
 *
 * @module
 */
import type { AdmissionLookups, AdmissionOptions } from "./lookups.ts";
import { mutateCustomResource } from "./crd_mutation.ts";
import { reviewHostPortClass } from "./hostport_class_validation.ts";
import { reviewHostPortClaim } from "./hostport_claim_validation.ts";
import { reviewHostPort } from "./hostport_validation.ts";
import { webhookForPath, type WebhookId } from "./paths.ts";
import { reviewPod } from "./pod_review.ts";
import {
  type AdmissionRequest,
  type AdmissionReviewResponse,
  badRequestReview,
  decodeAdmissionReview,
  denyReview,
} from "./review.ts";
import { GROUP, isPlainObject, KIND, VERSION } from "../lib/api/mod.ts";

/** An answer that is not an AdmissionReview: unknown path (404) or an unusable body (400). */
export interface HttpRejection {
  /** Discriminator. */
  kind: "http";
  /** HTTP status to answer with (415 and 422 are for the server's own checks). */
  status: 400 | 404 | 415 | 422;
  /** Plain-text reason. */
  message: string;
}

/** The result of {@linkcode handleAdmission}. */
export type AdmissionResult =
  | { kind: "review"; review: AdmissionReviewResponse }
  | HttpRejection;

type RouteHandler = (
  request: AdmissionRequest,
  lookups: AdmissionLookups,
  options: AdmissionOptions,
) => Promise<AdmissionReviewResponse>;

const ROUTES: { readonly [id in WebhookId]: RouteHandler } = {
  mutateHostPort: (request) => Promise.resolve(mutateCustomResource("HostPort", request)),
  mutateHostPortClaim: (request) => Promise.resolve(mutateCustomResource("HostPortClaim", request)),
  mutateHostPortClass: (request) => Promise.resolve(mutateCustomResource("HostPortClass", request)),
  validateHostPort: (request, _lookups, options) =>
    Promise.resolve(reviewHostPort(request, options.operatorUsername?.())),
  validateHostPortClaim: reviewHostPortClaim,
  validateHostPortClass: reviewHostPortClass,
  mutatePod: reviewPod,
};

/**
 * Answers one admission request.
 *
 * - Unknown path -> HTTP 404. A body that is not an AdmissionReview v1 -> an AdmissionReview with
 *   `allowed: false` and code 400 when the request uid could be read, else HTTP 400.
 * - A request for another kind than the path serves -> `allowed: false`, code 400.
 * - Otherwise the webhook's answer: patches, warnings, or a refusal with field errors.
 *
 * It never throws: an unexpected failure becomes `allowed: false` with code 500.
 *
 * @param path the URL path, for example `/mutate-v1-pod`
 * @param body the parsed JSON body
 * @param lookups read-only access to claims, HostPorts and classes
 * @param options bounded waiting for ports
 * @returns the AdmissionReview to answer with, or an HTTP error
 */
export async function handleAdmission(
  path: string,
  body: unknown,
  lookups: AdmissionLookups,
  options: AdmissionOptions = {},
): Promise<AdmissionResult> {
  const id = webhookForPath(path);
  if (id === undefined) {
    return { kind: "http", status: 404, message: `No admission webhook is served at ${path}` };
  }
  const decoded = decodeAdmissionReview(body);
  if (!decoded.ok) {
    if (decoded.uid === undefined) return { kind: "http", status: 400, message: decoded.message };
    return { kind: "review", review: badRequestReview(decoded.uid, decoded.message) };
  }
  const { request } = decoded;
  const kindProblem = checkRequestKind(id, request);
  if (kindProblem !== undefined) {
    return { kind: "review", review: badRequestReview(request.uid, kindProblem) };
  }
  try {
    return { kind: "review", review: await ROUTES[id](request, lookups, options) };
  } catch (error) {
    // Only a bug gets here; answer rather than crash the server.
    const message = `Internal error: ${error instanceof Error ? error.message : String(error)}`;
    return {
      kind: "review",
      review: denyReview(request.uid, { code: 500, reason: "InternalError", message }),
    };
  }
}

/** A group, version and kind. */
interface GroupVersionKind {
  /** API group, `""` for core. */
  readonly group: string;
  /** API version within the group. */
  readonly version: string;
  /** Kind name. */
  readonly kind: string;
}

const POD: GroupVersionKind = { group: "", version: "v1", kind: "Pod" };
const HOST_PORT: GroupVersionKind = { group: GROUP, version: VERSION, kind: KIND.HostPort };
const CLAIM: GroupVersionKind = { group: GROUP, version: VERSION, kind: KIND.HostPortClaim };
const CLASS: GroupVersionKind = { group: GROUP, version: VERSION, kind: KIND.HostPortClass };

/** The kind each webhook serves. */
const EXPECTED_KIND: { readonly [id in WebhookId]: GroupVersionKind } = {
  mutateHostPort: HOST_PORT,
  mutateHostPortClaim: CLAIM,
  mutateHostPortClass: CLASS,
  validateHostPort: HOST_PORT,
  validateHostPortClaim: CLAIM,
  validateHostPortClass: CLASS,
  mutatePod: POD,
};

/**
 * Checks that `request.kind` (and the object's own `apiVersion`/`kind`, when present) is what
 * the webhook serves.
 *
 * @param id the webhook
 * @param request the decoded request
 * @returns `undefined` when it matches, else a message in the original's
 *   `expected a HostPort object but got ...` family
 */
function checkRequestKind(id: WebhookId, request: AdmissionRequest): string | undefined {
  const expected = EXPECTED_KIND[id];
  const got = request.kind;
  const objectKind = ownKind(request.object) ?? ownKind(request.oldObject);
  if (sameKind(got, expected) && (objectKind === undefined || sameKind(objectKind, expected))) {
    return undefined;
  }
  const shown = sameKind(got, expected) && objectKind !== undefined ? objectKind : got;
  return `expected a ${expected.kind} object but got ${formatKind(shown)}`;
}

/** Prints a kind as Go's `schema.GroupVersionKind.String()` does: `group/version, Kind=kind`. */
function formatKind(gvk: GroupVersionKind): string {
  return `${gvk.group}/${gvk.version}, Kind=${gvk.kind}`;
}

function sameKind(a: GroupVersionKind, b: GroupVersionKind): boolean {
  return a.group === b.group && a.version === b.version && a.kind === b.kind;
}

/** Reads `apiVersion` and `kind` from an object that declares them (either may be absent). */
function ownKind(object: unknown): GroupVersionKind | undefined {
  if (!isPlainObject(object)) return undefined;
  const { apiVersion, kind } = object;
  if (typeof apiVersion !== "string" || typeof kind !== "string") return undefined;
  const slash = apiVersion.lastIndexOf("/");
  const group = slash === -1 ? "" : apiVersion.slice(0, slash);
  return { group, version: apiVersion.slice(slash + 1), kind };
}

/**
 * The seam between the HTTP server and the admission logic: (URL path, parsed body, lookups) to
 * an AdmissionReview or an HTTP error; it never throws.
 *
 * @module
 */
import type { AdmissionLookups, AdmissionOptions } from "./lookups.ts";
import {
  mutateCustomResource,
  reviewHostPort,
  reviewHostPortClaim,
  reviewHostPortClass,
} from "./custom_resources.ts";
import type { WebhookId } from "./configurations.ts";
import { reviewPod } from "./pod_review.ts";
import {
  type AdmissionRequest,
  type AdmissionReviewResponse,
  allowReview,
  badRequestReview,
  decodeAdmissionReview,
  denyReview,
} from "./review.ts";
import { errorMessage, GROUP, isPlainObject, KIND, type Kind, VERSION } from "../lib/api/mod.ts";

/** The result of {@linkcode handleAdmission}: a review, or an HTTP error. */
export type AdmissionResult =
  | { kind: "review"; review: AdmissionReviewResponse }
  | { kind: "http"; status: 400; message: string };

type RouteHandler = (
  request: AdmissionRequest,
  lookups: AdmissionLookups,
  options: AdmissionOptions,
) => AdmissionReviewResponse | Promise<AdmissionReviewResponse>;

const cr = (kind: Kind) => `${GROUP}/${VERSION}, Kind=${kind}`;
const mutate = (kind: Kind): [RouteHandler, string] => [
  (request) => mutateCustomResource(kind, request),
  cr(kind),
];

/** Each webhook's answer, and the kind it serves as Go prints a GroupVersionKind. */
const ROUTES: { readonly [id in WebhookId]: [RouteHandler, string] } = {
  mutateHostPort: mutate(KIND.HostPort),
  mutateHostPortClaim: mutate(KIND.HostPortClaim),
  mutateHostPortClass: mutate(KIND.HostPortClass),
  validateHostPort: [
    (request, _lookups, options) => reviewHostPort(request, options.operatorUsername?.()),
    cr(KIND.HostPort),
  ],
  validateHostPortClaim: [reviewHostPortClaim, cr(KIND.HostPortClaim)],
  validateHostPortClass: [reviewHostPortClass, cr(KIND.HostPortClass)],
  mutatePod: [reviewPod, "/v1, Kind=Pod"],
};

/**
 * Answers one admission request to webhook `id`: code 400 for a body that is not an
 * AdmissionReview v1 or of another kind than the webhook serves (HTTP 400 without a uid); code
 * 500 for a bug. A route judges only CREATE and UPDATE; any other operation is allowed.
 */
export async function handleAdmission(
  id: WebhookId,
  body: unknown,
  lookups: AdmissionLookups,
  options: AdmissionOptions = {},
): Promise<AdmissionResult> {
  const decoded = decodeAdmissionReview(body);
  if (!decoded.ok) {
    if (decoded.uid === undefined) return { kind: "http", status: 400, message: decoded.message };
    return { kind: "review", review: badRequestReview(decoded.uid, decoded.message) };
  }
  const { request } = decoded;
  const [route, expected] = ROUTES[id];
  const { group, version, kind } = request.kind;
  const own = ownKind(request.object) ?? ownKind(request.oldObject);
  const got = [`${group}/${version}, Kind=${kind}`, own].find((gvk) => gvk && gvk !== expected);
  if (got !== undefined) {
    const message = `expected a ${expected.slice(expected.indexOf("=") + 1)} object but got ${got}`;
    return { kind: "review", review: badRequestReview(request.uid, message) };
  }
  if (request.operation !== "CREATE" && request.operation !== "UPDATE") {
    return { kind: "review", review: allowReview(request.uid) };
  }
  try {
    return { kind: "review", review: await route(request, lookups, options) };
  } catch (error) {
    // Only a bug gets here; answer rather than crash the server.
    const message = `Internal error: ${errorMessage(error)}`;
    return {
      kind: "review",
      review: denyReview(request.uid, { code: 500, reason: "InternalError", message }),
    };
  }
}

/** An object's own `apiVersion` and `kind` printed as a GroupVersionKind, when it has both. */
function ownKind(object: unknown): string | undefined {
  if (!isPlainObject(object)) return undefined;
  const { apiVersion, kind } = object;
  if (typeof apiVersion !== "string" || typeof kind !== "string") return undefined;
  return `${apiVersion.includes("/") ? "" : "/"}${apiVersion}, Kind=${kind}`;
}

/**
 * The admission logic of hostport-allocator: the seven webhooks of the original operator as one
 * pure function, {@linkcode handleAdmission}, from (URL path, parsed JSON body, read-only
 * lookups) to the AdmissionReview to answer with. The HTTP/TLS server lives beside it.
 *
 * Where it differs from the original operator (seed 5.4, 5.2), on purpose:
 *
 * - Pod patches hold only the operations that change something (annotation keys escaped as
 *   JSON pointers, `/metadata/annotations/port.hostport.rmb938.com~1web`); unknown pod fields
 *   are never touched, and a pod that needs no change gets no patch.
 * - Errors come in a fixed order (port-name order for claims) and pod refusals carry
 *   `details.causes`; they stay 403 Forbidden with `Pod "<name>" is invalid: ...`. A pod made
 *   with `generateName` is shown as `"<generateName><generated>"`.
 * - `initContainers` count like containers: claims may target their ports (native sidecars),
 *   and their unclaimed host ports are refused.
 * - Port names must be unique only where a claim names them, and `Port name must be set` is
 *   reported only when a claim names a port that does not exist; that case is refused.
 * - hostNetwork pods: a claimed port gets the allocated port as both `containerPort` and
 *   `hostPort` (the API requires them equal), with a warning; the container learns the number
 *   from the `port.hostport.rmb938.com/<port>` annotation. Unclaimed ports of hostNetwork pods
 *   are refused with a message that explains why.
 * - New pods are refused for a claim that is being deleted (`hostPortClaim is deleting`), and
 *   for a HostPort bound to another claim or of another class (hijacking).
 * - A claim on its way to a port is looked up again a bounded number of times
 *   (`waitForPort`) before the pod is refused.
 * - New (not in the original): a pod may name a HostPortClaimTemplate
 *   (`claim-template.hostport.rmb938.com/<port>`); the pod webhook then finds or creates the
 *   pod's own claim through `lookups.templateClaims` (its only write), names a `generateName` pod,
 *   and waits up to `waitForPort.templateAttempts` rounds for the claim's port
 *   (`pod_templates.ts`, `pod_review.ts`).
 * - Pod UPDATEs are not resolved against claims again: they are refused only when they remove
 *   a claim whose port holds the host port, or add or change a claim annotation; a pod being
 *   deleted is never refused.
 * - Claims may bind a HostPort only if it is not bound to another claim, is of the same class
 *   and is not being deleted; `HostPort.spec.claimRef` may go from unset to set once.
 *
 * @example Admit a pod that names a claim
 * ```ts
 * import { handleAdmission, WEBHOOK_PATHS } from "./mod.ts";
 *
 * const result = await handleAdmission(WEBHOOK_PATHS.mutatePod, {
 *   apiVersion: "admission.k8s.io/v1",
 *   kind: "AdmissionReview",
 *   request: {
 *     uid: "1",
 *     kind: { group: "", version: "v1", kind: "Pod" },
 *     resource: { group: "", version: "v1", resource: "pods" },
 *     namespace: "ns1",
 *     operation: "CREATE",
 *     object: { metadata: { name: "p" }, spec: { containers: [{ name: "c", ports: [] }] } },
 *   },
 * }, {
 *   getClaim: () => Promise.resolve(undefined),
 *   getHostPort: () => Promise.resolve(undefined),
 *   listHostPortClasses: () => Promise.resolve([]),
 * });
 * if (result.kind === "review") console.log(result.review.response.allowed); // true
 * ```
 *
 * @module
 */
export { handleAdmission } from "./handler.ts";
export type { AdmissionResult, HttpRejection } from "./handler.ts";
export type { AdmissionLookups, AdmissionOptions, WaitForPortOptions } from "./lookups.ts";
export { WEBHOOK_NAMES, WEBHOOK_PATHS, webhookForPath } from "./paths.ts";
export type { WebhookId } from "./paths.ts";
export {
  ADMISSION_API_VERSION,
  ADMISSION_KIND,
  allowReview,
  badRequestReview,
  decodeAdmissionReview,
  denyReview,
  PATCH_TYPE,
} from "./review.ts";
export type {
  AdmissionRequest,
  AdmissionResponse,
  AdmissionReviewResponse,
  DecodeResult,
} from "./review.ts";
export { applyJsonPatch, escapePointerToken } from "./json_patch.ts";
export type { JsonPatchOp, JsonValue } from "./json_patch.ts";

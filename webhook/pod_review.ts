/**
 * The pod webhook (`/mutate-v1-pod`): decode, gather the named claims, decide, answer.
 *
 * @module
 */
import type { ClaimState } from "./claim_resolution.ts";
import { lookupClaims } from "./claim_lookup.ts";
import type { AdmissionLookups, AdmissionOptions } from "./lookups.ts";
import { admitPod, claimsToLookUp, type PodAdmission } from "./pod_admission.ts";
import { type Pod, PodSchema } from "./pod_schema.ts";
import {
  type AdmissionRequest,
  type AdmissionReviewResponse,
  allowReview,
  badRequestReview,
  decodeObject,
  denyReview,
} from "./review.ts";
import { podDeniedStatus } from "./status.ts";

/**
 * Answers a pod admission request. CREATE resolves the pod's claims through `lookups`; while
 * every problem is a claim on its way to a port (not processed yet, or its HostPort bound but
 * not allocated yet), it looks again up to `options.waitForPort.attempts` times before
 * refusing with the original's message. UPDATE needs no lookups. Other operations are
 * admitted.
 *
 * @param request the decoded admission request
 * @param lookups read-only claim and HostPort lookups
 * @param options bounded waiting
 * @returns the review: a patch, or `allowed: false` with 403 and `Pod "<name>" is invalid: ...`
 */
export async function reviewPod(
  request: AdmissionRequest,
  lookups: AdmissionLookups,
  options: AdmissionOptions = {},
): Promise<AdmissionReviewResponse> {
  const { uid, operation } = request;
  if (operation !== "CREATE" && operation !== "UPDATE") return allowReview(uid);
  const pod = decodeObject(PodSchema, request.object, "the pod");
  if (!pod.ok) return badRequestReview(uid, pod.message);
  let decision: PodAdmission;
  if (operation === "UPDATE") {
    const oldPod = decodeObject(PodSchema, request.oldObject, "the old pod");
    if (!oldPod.ok) return badRequestReview(uid, oldPod.message);
    decision = admitPod({ operation, namespace: "", pod: pod.value, oldPod: oldPod.value });
  } else {
    const namespace = request.namespace || pod.value.metadata?.namespace || "";
    const names = claimsToLookUp(pod.value);
    if (namespace === "" && names.length > 0) {
      return badRequestReview(uid, "Cannot admit a pod with claims: its namespace is not known");
    }
    decision = await admitNewPod(pod.value, namespace, names, lookups, options);
  }
  if (decision.allowed) {
    return allowReview(uid, { patch: decision.patch, warnings: decision.warnings });
  }
  return denyReview(uid, podDeniedStatus(pod.value.metadata ?? {}, decision.errors));
}

/** Upper bound on `waitForPort.attempts`, whatever the configuration says. */
const MAX_WAIT_ATTEMPTS = 100;

async function admitNewPod(
  pod: Pod,
  namespace: string,
  names: readonly string[],
  lookups: AdmissionLookups,
  options: AdmissionOptions,
): Promise<PodAdmission> {
  const lookUp = (): Promise<Map<string, ClaimState>> =>
    names.length === 0 ? Promise.resolve(new Map()) : lookupClaims(lookups, namespace, names);
  let decision = admitPod({ operation: "CREATE", namespace, pod, claims: await lookUp() });
  const wait = options.waitForPort;
  const attempts = wait === undefined ? 0 : Math.min(MAX_WAIT_ATTEMPTS, wait.attempts);
  for (let attempt = 0; attempt < attempts && !decision.allowed && decision.retryable; attempt++) {
    await wait?.delay(wait.intervalMs);
    decision = admitPod({ operation: "CREATE", namespace, pod, claims: await lookUp() });
  }
  return decision;
}

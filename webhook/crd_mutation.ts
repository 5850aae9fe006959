/**
 * The mutating webhooks of the three kinds (seed 3.3): add the finalizer while the object is
 * not being deleted, and materialise `spec.hostPortName: ""` on a new claim, as the original.
 * Only metadata (and the claim's spec) is read, so an object with other problems still gets its
 * finalizer and the API server's schema validation reports those problems; an UPDATE whose
 * object cannot be read at all is let through unchanged.
 *
 * @module
 */
import * as z from "zod";
import { FINALIZER, isPlainObject, KIND, type Kind } from "../lib/api/mod.ts";
import type { JsonPatchOp } from "./json_patch.ts";
import {
  type AdmissionRequest,
  type AdmissionReviewResponse,
  allowReview,
  badRequestReview,
  decodeObject,
} from "./review.ts";

const CustomResourceSchema = z.object({
  metadata: z.object({
    finalizers: z.array(z.string()).optional(),
    deletionTimestamp: z.string().optional(),
  }).loose().optional(),
  spec: z.unknown().optional(),
}).loose();
type CustomResource = z.infer<typeof CustomResourceSchema>;

/**
 * Answers a mutating request for a HostPortClass, HostPortClaim or HostPort.
 *
 * @param kind the kind the webhook serves
 * @param request the decoded request
 * @returns the review, with a patch when something is added
 */
export function mutateCustomResource(
  kind: Kind,
  request: AdmissionRequest,
): AdmissionReviewResponse {
  if (request.operation !== "CREATE" && request.operation !== "UPDATE") {
    return allowReview(request.uid);
  }
  const object = decodeObject(CustomResourceSchema, request.object, `the ${kind}`);
  if (!object.ok) {
    // Never block an UPDATE of an object we cannot read (an admin repairing or deleting it).
    if (request.operation === "UPDATE") return allowReview(request.uid);
    return badRequestReview(request.uid, object.message);
  }
  const patch = finalizerOps(object.value);
  if (kind === KIND.HostPortClaim && request.operation === "CREATE") {
    patch.push(...hostPortNameOps(object.value));
  }
  return allowReview(request.uid, { patch });
}

/**
 * Adds the finalizer unless the object is being deleted or already has it.
 *
 * @param object the object's metadata
 * @returns the operations
 */
function finalizerOps(object: CustomResource): JsonPatchOp[] {
  const metadata = object.metadata;
  if (metadata?.deletionTimestamp !== undefined) return [];
  if (metadata === undefined) {
    return [{ op: "add", path: "/metadata", value: { finalizers: [FINALIZER] } }];
  }
  if (metadata.finalizers === undefined) {
    return [{ op: "add", path: "/metadata/finalizers", value: [FINALIZER] }];
  }
  if (metadata.finalizers.includes(FINALIZER)) return [];
  return [{ op: "add", path: "/metadata/finalizers/-", value: FINALIZER }];
}

function hostPortNameOps(object: CustomResource): JsonPatchOp[] {
  if (!isPlainObject(object.spec) || Object.hasOwn(object.spec, "hostPortName")) return [];
  return [{ op: "add", path: "/spec/hostPortName", value: "" }];
}

/**
 * The mutating webhooks of the three kinds (seed 3.3): add the finalizer while the object is not
 * being deleted, and materialise `spec.hostPortName: ""` on a new claim, as the original. Only
 * metadata (and the claim's spec) is read, so an object with other problems still gets its
 * finalizer and the API server's schema validation reports those problems.
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

/** Answers a mutating request for a HostPortClass, HostPortClaim or HostPort. */
export function mutateCustomResource(
  kind: Kind,
  request: AdmissionRequest,
): AdmissionReviewResponse {
  const { uid, operation } = request;
  if (operation !== "CREATE" && operation !== "UPDATE") return allowReview(uid);
  const object = decodeObject(CustomResourceSchema, request.object, `the ${kind}`);
  if (!object.ok) {
    // Never block an UPDATE of an object we cannot read (an admin repairing or deleting it).
    return operation === "UPDATE" ? allowReview(uid) : badRequestReview(uid, object.message);
  }
  const { metadata, spec } = object.value;
  const patch: JsonPatchOp[] = [];
  if (metadata === undefined) {
    patch.push({ op: "add", path: "/metadata", value: { finalizers: [FINALIZER] } });
  } else if (metadata.deletionTimestamp !== undefined) {
    // No finalizer is added to an object being deleted.
  } else if (metadata.finalizers === undefined) {
    patch.push({ op: "add", path: "/metadata/finalizers", value: [FINALIZER] });
  } else if (!metadata.finalizers.includes(FINALIZER)) {
    patch.push({ op: "add", path: "/metadata/finalizers/-", value: FINALIZER });
  }
  if (
    kind === KIND.HostPortClaim && operation === "CREATE" && isPlainObject(spec) &&
    !Object.hasOwn(spec, "hostPortName")
  ) {
    patch.push({ op: "add", path: "/spec/hostPortName", value: "" });
  }
  return allowReview(uid, { patch });
}

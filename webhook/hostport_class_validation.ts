/**
 * The HostPortClass validating webhook: pool rules on CREATE and on UPDATEs that change the
 * pools, plus warnings for risky pools (seed 3.4, 5.5).
 *
 * @module
 */
import * as z from "zod";
import { type PoolProblem, validatePools } from "../lib/allocator/mod.ts";
import { GROUP, KIND, ObjectMetaSchema } from "../lib/api/mod.ts";
import { classMissingWarning, overlapCheckFailed, poolWarnings } from "./class_warnings.ts";
import { type FieldError, fieldPath, invalid, required } from "./field_errors.ts";
import { jsonEqual } from "./json_patch.ts";
import { type AdmissionLookups, settle } from "./lookups.ts";
import {
  type AdmissionRequest,
  type AdmissionReviewResponse,
  allowReview,
  badRequestReview,
  decodeObject,
  denyReview,
  invalidStatus,
  specUnchanged,
} from "./review.ts";

export { classMissingWarning };

/** A class as validated: bounds are plain numbers, so bad ones are reported, not rejected as 400. */
const ClassSchema = z.object({
  metadata: ObjectMetaSchema,
  spec: z.object({
    pools: z.array(z.object({ start: z.number(), end: z.number() }).loose()),
  }).loose(),
}).loose();
type Class = z.infer<typeof ClassSchema>;

/**
 * Answers a validating request for a HostPortClass. Pools are checked on CREATE and when an
 * UPDATE changes them (so metadata-only updates, such as finalizer removal, of a class stored
 * by the original operator are never refused, even one without spec; and an UPDATE whose old
 * object does not decode, such as adding the missing spec, is judged on the new object alone):
 * `spec.pools[i].end: Invalid value: <end>: End must be greater or equal to start`, ports out of
 * range, overlapping pools, no pools. Warnings: pools shared with other classes, in the
 * NodePort range, or below 1024.
 *
 * @param request the decoded request
 * @param lookups to list the other classes
 * @returns the review
 */
export async function reviewHostPortClass(
  request: AdmissionRequest,
  lookups: AdmissionLookups,
): Promise<AdmissionReviewResponse> {
  const { uid, operation } = request;
  if (operation !== "CREATE" && operation !== "UPDATE") return allowReview(uid);
  // An unchanged spec is never refused, even when neither object decodes (a class stored under
  // the original's CRDs without spec must stay repairable and deletable).
  if (specUnchanged(request)) return allowReview(uid);
  const object = decodeObject(ClassSchema, request.object, "the HostPortClass");
  if (!object.ok) return badRequestReview(uid, object.message);
  const hostPortClass = object.value;
  if (operation === "UPDATE") {
    // An old object that does not decode (no spec) is not compared: the new one is judged alone.
    const old = decodeObject(ClassSchema, request.oldObject, "the old HostPortClass");
    if (old.ok && jsonEqual(old.value.spec.pools, hostPortClass.spec.pools)) {
      return allowReview(uid);
    }
  }
  const errors = validatePools(hostPortClass.spec.pools).map((problem) =>
    poolError(hostPortClass, problem)
  );
  const name = hostPortClass.metadata.name ?? request.name ?? "";
  if (errors.length > 0) {
    return denyReview(uid, invalidStatus({ group: GROUP, kind: KIND.HostPortClass, name }, errors));
  }
  return allowReview(uid, { warnings: await warningsFor(name, hostPortClass, lookups) });
}

async function warningsFor(
  name: string,
  hostPortClass: Class,
  lookups: AdmissionLookups,
): Promise<string[]> {
  const others = await settle(() => lookups.listHostPortClasses());
  const warnings = poolWarnings(
    name,
    hostPortClass.spec.pools,
    others.ok ? others.value ?? [] : [],
  );
  if (!others.ok) warnings.push(overlapCheckFailed(others.error));
  return warnings;
}

/** Turns a pool problem into a field error at `spec.pools`, `spec.pools[i]` or `spec.pools[i].<bound>`. */
function poolError(hostPortClass: Class, problem: PoolProblem): FieldError {
  const pools = fieldPath("spec", "pools");
  if (problem.index === undefined) return required(pools, problem.message);
  const pool = hostPortClass.spec.pools[problem.index];
  const path = pools.index(problem.index);
  if (problem.field === undefined) {
    return invalid(path, `${pool?.start}-${pool?.end}`, problem.message);
  }
  return invalid(path.child(problem.field), pool?.[problem.field] ?? null, problem.message);
}

/**
 * The HostPort validating webhook: the original's immutability rules (seed 3.4), except that
 * `spec.claimRef` may go from unset to set once (static binding: the operator binds a HostPort
 * created by hand), as the CRD's CEL rule also allows.
 *
 * @module
 */
import {
  GROUP,
  HOST_PORT_PHASE,
  type HostPort,
  KIND,
  MESSAGE,
  type ObjectReference,
  safeParseHostPort,
} from "../lib/api/mod.ts";
import { type FieldError, fieldPath, forbidden, invalid } from "./field_errors.ts";
import {
  type AdmissionRequest,
  type AdmissionReviewResponse,
  allowReview,
  badRequestReview,
  denyReview,
} from "./review.ts";
import { invalidStatus } from "./status.ts";

/**
 * Answers a validating request for a HostPort. CREATE is admitted. UPDATE refuses:
 * `spec.hostPortClassName: Forbidden: cannot change hostPortClassName`,
 * `spec.claimRef: Forbidden: cannot change claimRef` (a set claimRef changed or removed),
 * `status.port: Forbidden: cannot change port`, and
 * `status.port: Invalid value: <port>: port can only be set when also setting the phase to Allocated`.
 *
 * @param request the decoded request
 * @returns the review
 */
export function reviewHostPort(request: AdmissionRequest): AdmissionReviewResponse {
  const { uid, operation } = request;
  if (operation !== "UPDATE") return allowReview(uid);
  const parsed = safeParseHostPort(request.object);
  if (!parsed.ok) return badRequestReview(uid, parsed.error.message);
  const old = safeParseHostPort(request.oldObject);
  if (!old.ok) return badRequestReview(uid, old.error.message);
  const errors = updateErrors(parsed.value, old.value);
  if (errors.length === 0) return allowReview(uid);
  const identity = { group: GROUP, kind: KIND.HostPort, name: parsed.value.metadata.name ?? "" };
  return denyReview(uid, invalidStatus(identity, errors));
}

/**
 * The update rules, in the original's order.
 *
 * @param hostPort the new object
 * @param old the stored object
 * @returns the errors
 */
export function updateErrors(hostPort: HostPort, old: HostPort): FieldError[] {
  const errors: FieldError[] = [];
  if (hostPort.spec.hostPortClassName !== old.spec.hostPortClassName) {
    errors.push(forbidden(fieldPath("spec", "hostPortClassName"), MESSAGE.cannotChangeClass));
  }
  const oldRef = old.spec.claimRef;
  if (oldRef !== undefined && !sameReference(oldRef, hostPort.spec.claimRef)) {
    errors.push(forbidden(fieldPath("spec", "claimRef"), MESSAGE.cannotChangeClaimRef));
  }
  const oldPort = old.status?.port ?? 0;
  const port = hostPort.status?.port ?? 0;
  if (oldPort > 0 && port !== oldPort) {
    errors.push(forbidden(fieldPath("status", "port"), MESSAGE.cannotChangePort));
  }
  if (oldPort === 0 && port > 0 && hostPort.status?.phase !== HOST_PORT_PHASE.Allocated) {
    errors.push(invalid(fieldPath("status", "port"), port, MESSAGE.portNeedsAllocatedPhase));
  }
  return errors;
}

const REFERENCE_FIELDS = [
  "apiVersion",
  "fieldPath",
  "kind",
  "name",
  "namespace",
  "resourceVersion",
  "uid",
] as const;

/** Go's deep equality of two `ObjectReference`s: every field counts, absent equals `""`. */
function sameReference(a: ObjectReference, b: ObjectReference | undefined): boolean {
  if (b === undefined) return false;
  return REFERENCE_FIELDS.every((field) => (a[field] ?? "") === (b[field] ?? ""));
}

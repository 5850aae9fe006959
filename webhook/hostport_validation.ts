/**
 * The HostPort validating webhook: the original's immutability rules (seed 3.4), except that
 * `spec.claimRef` may go from unset to set once (static binding, as the CRD's CEL rule also
 * allows); and only the operator writes a port (only the process that reserved a port writes it,
 * which keeps a port in one HostPort).
 *
 * @module
 */
import {
  GROUP,
  HOST_PORT_PHASE,
  type HostPort,
  isPlainObject,
  KIND,
  MESSAGE,
  type ObjectReference,
  safeParseHostPort,
} from "../lib/api/mod.ts";
import { type FieldError, fieldPath, forbidden, invalid } from "./field_errors.ts";
import { jsonEqual } from "./json_patch.ts";
import {
  type AdmissionRequest,
  type AdmissionReviewResponse,
  allowReview,
  badRequestReview,
  denyReview,
  invalidStatus,
} from "./review.ts";

type HostPortStatus = HostPort["status"];

/**
 * Answers a validating request for a HostPort (or its `status` subresource). CREATE is admitted
 * (the API server drops the status of a created HostPort). UPDATE refuses a changed class, a set
 * claimRef changed or removed, a changed port, a port set without the phase Allocated, and a port
 * set or the phase moved to Allocated by anyone but `operatorUsername` (by everyone while it is
 * not known). An old object that does not decode is judged by what can be read of its status;
 * when neither decodes, an update that leaves spec and status unchanged is admitted (so an admin
 * can always remove a finalizer).
 */
export function reviewHostPort(
  request: AdmissionRequest,
  operatorUsername?: string,
): AdmissionReviewResponse {
  const { uid, operation } = request;
  if (operation !== "UPDATE") return allowReview(uid);
  const parsed = safeParseHostPort(request.object);
  const old = safeParseHostPort(request.oldObject);
  if (!parsed.ok) {
    const same = (name: string) => {
      const read = (object: unknown) => isPlainObject(object) ? object[name] : undefined;
      return jsonEqual(read(request.object), read(request.oldObject));
    };
    if (!old.ok && same("spec") && same("status")) return allowReview(uid);
    return badRequestReview(uid, parsed.error.message);
  }
  const hostPort = parsed.value;
  const oldSpec = old.ok ? old.value.spec : hostPort.spec;
  const oldStatus = old.ok ? old.value.status : rawStatus(request.oldObject);
  const errors: FieldError[] = [];
  if (hostPort.spec.hostPortClassName !== oldSpec.hostPortClassName) {
    errors.push(forbidden(fieldPath("spec", "hostPortClassName"), MESSAGE.cannotChangeClass));
  }
  const oldRef = oldSpec.claimRef;
  if (oldRef !== undefined && !sameReference(oldRef, hostPort.spec.claimRef)) {
    errors.push(forbidden(fieldPath("spec", "claimRef"), MESSAGE.cannotChangeClaimRef));
  }
  const oldPort = oldStatus?.port ?? 0;
  const port = hostPort.status?.port ?? 0;
  if (oldPort > 0 && port !== oldPort) {
    errors.push(forbidden(fieldPath("status", "port"), MESSAGE.cannotChangePort));
  }
  if (oldPort === 0 && port > 0 && hostPort.status?.phase !== HOST_PORT_PHASE.Allocated) {
    errors.push(invalid(fieldPath("status", "port"), port, MESSAGE.portNeedsAllocatedPhase));
  }
  const userInfo = request.userInfo;
  const username = isPlainObject(userInfo) ? userInfo.username : undefined;
  const byOperator = operatorUsername !== undefined && username === operatorUsername;
  const writesPort = port !== oldPort ||
    (hostPort.status?.phase === HOST_PORT_PHASE.Allocated &&
      oldStatus?.phase !== HOST_PORT_PHASE.Allocated);
  if (!byOperator && writesPort) {
    errors.push(forbidden(fieldPath("status", "port"), "only the operator allocates ports"));
  }
  if (errors.length === 0) return allowReview(uid);
  const identity = { group: GROUP, kind: KIND.HostPort, name: hostPort.metadata.name ?? "" };
  return denyReview(uid, invalidStatus(identity, errors));
}

/** The phase and port of a HostPort that does not decode, as far as they can be read. */
function rawStatus(object: unknown): HostPortStatus {
  const status = isPlainObject(object) ? object.status : undefined;
  if (!isPlainObject(status)) return undefined;
  const { phase, port } = status;
  return {
    ...(typeof phase === "string" ? { phase } : {}),
    ...(typeof port === "number" && Number.isSafeInteger(port) ? { port } : {}),
  } as HostPortStatus;
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
  return b !== undefined &&
    REFERENCE_FIELDS.every((field) => (a[field] ?? "") === (b[field] ?? ""));
}

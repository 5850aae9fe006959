/**
 * The HostPort validating webhook: the original's immutability rules (seed 3.4), except that
 * `spec.claimRef` may go from unset to set once (static binding: the operator binds a HostPort
 * created by hand), as the CRD's CEL rule also allows; and only the operator writes a port (the
 * rule that keeps a port in one HostPort: only the process that reserved it writes it).
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

/** Detail when someone other than the operator writes a port. */
const ONLY_OPERATOR_ALLOCATES = "only the operator allocates ports";

/**
 * Answers a validating request for a HostPort (or its `status` subresource). CREATE is admitted
 * (the API server drops the status of a created HostPort). UPDATE refuses:
 * `spec.hostPortClassName: Forbidden: cannot change hostPortClassName`,
 * `spec.claimRef: Forbidden: cannot change claimRef` (a set claimRef changed or removed),
 * `status.port: Forbidden: cannot change port`,
 * `status.port: Invalid value: <port>: port can only be set when also setting the phase to Allocated`,
 * and `status.port: Forbidden: only the operator allocates ports` when anyone but
 * `operatorUsername` sets the port or moves the phase to Allocated (everyone, while the
 * operator's username is not known).
 *
 * An old object that cannot be decoded does not block: the update is judged on the new object
 * (compared with what can be read of the old status), and one where neither decodes is admitted
 * when its spec and status are unchanged (removing a finalizer, so an admin can always delete).
 *
 * @param request the decoded request
 * @param operatorUsername the operator's username, when known
 * @returns the review
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
    if (!old.ok && sameField(request, "spec") && sameField(request, "status")) {
      return allowReview(uid);
    }
    return badRequestReview(uid, parsed.error.message);
  }
  const byOperator = operatorUsername !== undefined &&
    requestUsername(request) === operatorUsername;
  const errors = old.ok
    ? updateErrors(parsed.value, old.value)
    : updateErrors(parsed.value, { spec: parsed.value.spec, status: rawStatus(request.oldObject) });
  const oldStatus = old.ok ? old.value.status : rawStatus(request.oldObject);
  if (!byOperator && writesPort(parsed.value.status, oldStatus)) {
    errors.push(forbidden(fieldPath("status", "port"), ONLY_OPERATOR_ALLOCATES));
  }
  if (errors.length === 0) return allowReview(uid);
  const identity = { group: GROUP, kind: KIND.HostPort, name: parsed.value.metadata.name ?? "" };
  return denyReview(uid, invalidStatus(identity, errors));
}

/**
 * The update rules, in the original's order.
 *
 * @param hostPort the new object
 * @param old the stored object (only `spec` and `status` are read)
 * @returns the errors
 */
function updateErrors(
  hostPort: HostPort,
  old: Pick<HostPort, "spec" | "status">,
): FieldError[] {
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

type HostPortStatus = HostPort["status"];

/** Whether an update sets or changes the port, or moves the phase to Allocated. */
function writesPort(status: HostPortStatus, old: HostPortStatus): boolean {
  if ((status?.port ?? 0) !== (old?.port ?? 0)) return true;
  return status?.phase === HOST_PORT_PHASE.Allocated && old?.phase !== HOST_PORT_PHASE.Allocated;
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

function sameField(request: AdmissionRequest, name: "spec" | "status"): boolean {
  const read = (object: unknown) => isPlainObject(object) ? object[name] : undefined;
  return jsonEqual(read(request.object), read(request.oldObject));
}

function requestUsername(request: AdmissionRequest): string | undefined {
  const userInfo = request.userInfo;
  if (!isPlainObject(userInfo)) return undefined;
  return typeof userInfo.username === "string" ? userInfo.username : undefined;
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

/**
 * The `metav1.Status` of a refusal, shaped like apimachinery's `NewInvalid`: the message
 * `<Kind>.<group> "<name>" is invalid: <aggregate>` and one `details.causes` entry per error.
 *
 * @module
 */
import type { Status, StatusCause } from "kubernetes-types/meta/v1.d.ts";
import { aggregateFieldErrors, errorBody, type FieldError } from "./field_errors.ts";
import { goQuote } from "./go_quote.ts";

/** Which object a refusal is about. */
export interface ObjectIdentity {
  /** API group, `""` for the core group (pods). */
  readonly group: string;
  /** Kind, for example `HostPortClass`. */
  readonly kind: string;
  /** Name of the object as printed in the message. */
  readonly name: string;
}

/**
 * Returns the message `<Kind>.<group> "<name>" is invalid: <aggregate>` (no group part for the
 * core group), exactly as apimachinery prints it.
 *
 * @param identity the object
 * @param errors the field errors
 * @returns the message
 */
export function invalidMessage(identity: ObjectIdentity, errors: readonly FieldError[]): string {
  const kind = identity.group === "" ? identity.kind : `${identity.kind}.${identity.group}`;
  const head = `${kind} ${goQuote(identity.name)} is invalid`;
  const aggregate = aggregateFieldErrors(errors);
  return aggregate === "" ? head : `${head}: ${aggregate}`;
}

/**
 * The status of a refused HostPortClass, HostPortClaim or HostPort write: 422, reason `Invalid`,
 * with `details.causes` (seed 3.2).
 *
 * @param identity the object
 * @param errors the field errors
 * @returns the status
 */
export function invalidStatus(identity: ObjectIdentity, errors: readonly FieldError[]): Status {
  return {
    code: 422,
    reason: "Invalid",
    message: invalidMessage(identity, errors),
    details: {
      group: identity.group,
      kind: identity.kind,
      name: identity.name,
      causes: errors.map(toCause),
    },
  };
}

/** The name of a pod, or of a pod created with `generateName` (its name is not chosen yet). */
export interface PodName {
  /** `metadata.name`, `""` or absent before the API server generates it. */
  readonly name?: string | undefined;
  /** `metadata.generateName`, the prefix of the name to generate. */
  readonly generateName?: string | undefined;
}

/**
 * Returns the name a refusal prints for a pod: its name, or `<generateName><generated>` for a
 * pod whose name the API server has not generated yet (Deployment and ReplicaSet pods), or `""`.
 *
 * @param pod the pod's name fields
 * @returns the printed name
 */
export function podDisplayName(pod: PodName): string {
  if (pod.name !== undefined && pod.name !== "") return pod.name;
  if (pod.generateName !== undefined && pod.generateName !== "") {
    return `${pod.generateName}<generated>`;
  }
  return "";
}

/**
 * The status of a refused pod: 403, reason `Forbidden` and the message `Pod "<name>" is invalid:
 * <aggregate>`, as the original answered (users' scripts match it), plus `details.causes`, which
 * the original lost.
 *
 * @param pod the pod's name fields
 * @param errors the field errors
 * @returns the status
 */
export function podDeniedStatus(pod: PodName, errors: readonly FieldError[]): Status {
  const details: Status["details"] = { kind: "Pod", causes: errors.map(toCause) };
  if (pod.name !== undefined && pod.name !== "") details.name = pod.name;
  return {
    code: 403,
    reason: "Forbidden",
    message: invalidMessage({ group: "", kind: "Pod", name: podDisplayName(pod) }, errors),
    details,
  };
}

/** `metav1.StatusCause`: the Go field `Type` travels as JSON `reason`. */
function toCause(error: FieldError): StatusCause {
  return { reason: error.type, message: errorBody(error), field: error.field };
}

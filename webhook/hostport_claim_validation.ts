/**
 * The HostPortClaim validating webhook: the original's immutability rules (seed 3.4) and the
 * binding rule for a chosen HostPort (seed 5.2 #10).
 *
 * @module
 */
import {
  GROUP,
  type HostPortClaim,
  isPlainObject,
  KIND,
  MESSAGE,
  PLURAL,
  safeParseHostPortClaim,
} from "../lib/api/mod.ts";
import { type QuotaExceeded, quotaExceededMessage } from "../lib/quota/mod.ts";
import { classMissingWarning } from "./class_warnings.ts";
import { type AdmissionLookups, settle } from "./lookups.ts";
import { claimRefAllows, HOST_PORT_CLAIMED_BY_OTHER } from "./pod_admission.ts";
import {
  type FieldError,
  fieldPath,
  forbidden,
  goQuote,
  internalError,
  invalid,
} from "./field_errors.ts";
import {
  type AdmissionRequest,
  type AdmissionReviewResponse,
  allowReview,
  badRequestReview,
  denyReview,
  invalidStatus,
  specUnchanged,
} from "./review.ts";
import type { Status } from "kubernetes-types/meta/v1.d.ts";

/** Detail when a claim names a HostPort that is being deleted. */
const HOST_PORT_DELETING = "hostport is deleting";

const HOST_PORT_NAME = fieldPath("spec", "hostPortName");

/**
 * Answers a validating request for a HostPortClaim:
 *
 * - UPDATE: `spec.hostPortClassName: Forbidden: cannot change hostPortClassName`;
 *   `spec.hostPortName: Forbidden: cannot change hostPortName once set` (empty -> set is allowed);
 * - whenever `spec.hostPortName` becomes set (CREATE, or empty -> set): the HostPort, if it
 *   exists, must not be bound to another claim, must be of the claim's class and must not be
 *   deleting. A HostPort that does not exist yet is allowed (an admin may create it later),
 *   with a warning;
 * - CREATE: a warning when the class does not exist; refused (403, worded like the API server's
 *   own quota errors) when a ResourceQuota's per-class key is full (lib/quota);
 * - an UPDATE that leaves `spec` unchanged is allowed, even if neither object decodes; one whose
 *   old object does not decode is judged on the new object alone.
 *
 * @param request the decoded request
 * @param lookups to read the named HostPort and list classes
 * @returns the review
 */
export async function reviewHostPortClaim(
  request: AdmissionRequest,
  lookups: AdmissionLookups,
): Promise<AdmissionReviewResponse> {
  const { uid, operation } = request;
  if (operation !== "CREATE" && operation !== "UPDATE") return allowReview(uid);
  // An unchanged spec is never refused, even when neither object decodes, so an admin can
  // always remove the finalizers of a claim the operator cannot understand.
  if (specUnchanged(request)) return allowReview(uid);
  const parsed = safeParseHostPortClaim(request.object);
  if (!parsed.ok) return badRequestReview(uid, parsed.error.message);
  const claim = withNamespace(parsed.value, request.namespace);
  const errors: FieldError[] = [];
  const warnings: string[] = [];
  let oldName = "";
  if (operation === "UPDATE") {
    const old = safeParseHostPortClaim(request.oldObject);
    if (old.ok) {
      oldName = old.value.spec.hostPortName ?? "";
      errors.push(...immutabilityErrors(claim, old.value));
    } else {
      // Judged on the new object alone (the CRD's own rules still compare with the old one).
      oldName = rawHostPortName(request.oldObject);
    }
  }
  const name = claim.spec.hostPortName ?? "";
  if (name !== "" && oldName === "") {
    const binding = await bindingErrors(claim, name, lookups);
    errors.push(...binding.errors);
    warnings.push(...binding.warnings);
  }
  if (operation === "CREATE") warnings.push(...await classWarnings(claim, lookups));
  const identity = { group: GROUP, kind: KIND.HostPortClaim, name: claim.metadata.name ?? "" };
  if (errors.length > 0) return denyReview(uid, invalidStatus(identity, errors), warnings);
  // Last, so only a claim that is otherwise admitted counts against its quota.
  const exceeded = operation === "CREATE"
    ? lookups.claimQuota?.admit(claim, { dryRun: request.dryRun === true })
    : undefined;
  if (exceeded !== undefined) return denyReview(uid, quotaStatus(identity, exceeded), warnings);
  return allowReview(uid, { warnings });
}

/** The API server's own wording: `hostportclaims.hostport.rmb938.com "x" is forbidden: exceeded quota: ...`. */
function quotaStatus(identity: { group: string; name: string }, exceeded: QuotaExceeded): Status {
  return {
    code: 403,
    reason: "Forbidden",
    message: `${PLURAL.HostPortClaim}.${identity.group} ${goQuote(identity.name)} is forbidden: ` +
      quotaExceededMessage(exceeded),
    details: { group: identity.group, kind: PLURAL.HostPortClaim, name: identity.name },
  };
}

function immutabilityErrors(claim: HostPortClaim, old: HostPortClaim): FieldError[] {
  const errors: FieldError[] = [];
  if (claim.spec.hostPortClassName !== old.spec.hostPortClassName) {
    errors.push(forbidden(fieldPath("spec", "hostPortClassName"), MESSAGE.cannotChangeClass));
  }
  const oldName = old.spec.hostPortName ?? "";
  if (oldName !== "" && (claim.spec.hostPortName ?? "") !== oldName) {
    errors.push(forbidden(HOST_PORT_NAME, MESSAGE.cannotChangeHostPortName));
  }
  return errors;
}

async function bindingErrors(
  claim: HostPortClaim,
  name: string,
  lookups: AdmissionLookups,
): Promise<{ errors: FieldError[]; warnings: string[] }> {
  const lookup = await settle(() => lookups.getHostPort(name));
  if (!lookup.ok) return { errors: [internalError(HOST_PORT_NAME, lookup.error)], warnings: [] };
  const hostPort = lookup.value;
  if (hostPort === undefined) {
    const warning = `spec.hostPortName: HostPort ${goQuote(name)} does not exist; the claim ` +
      "stays Pending until it is created";
    return { errors: [], warnings: [warning] };
  }
  const errors: FieldError[] = [];
  if (!claimRefAllows(hostPort, claim)) {
    errors.push(invalid(HOST_PORT_NAME, name, HOST_PORT_CLAIMED_BY_OTHER));
  }
  if (hostPort.spec.hostPortClassName !== claim.spec.hostPortClassName) {
    const detail = `hostport is of hostPortClass ${goQuote(hostPort.spec.hostPortClassName)}, ` +
      `not ${goQuote(claim.spec.hostPortClassName)}`;
    errors.push(invalid(HOST_PORT_NAME, name, detail));
  }
  if (hostPort.metadata.deletionTimestamp !== undefined) {
    errors.push(invalid(HOST_PORT_NAME, name, HOST_PORT_DELETING));
  }
  return { errors, warnings: [] };
}

async function classWarnings(claim: HostPortClaim, lookups: AdmissionLookups): Promise<string[]> {
  const classes = await settle(() => lookups.listHostPortClasses());
  if (!classes.ok || classes.value === undefined) return [];
  const className = claim.spec.hostPortClassName;
  if (classes.value.some((c) => c.metadata.name === className)) return [];
  return [classMissingWarning(className)];
}

/** `spec.hostPortName` of an object that does not decode, if it is a string. */
function rawHostPortName(object: unknown): string {
  const spec = isPlainObject(object) ? object["spec"] : undefined;
  const name = isPlainObject(spec) ? spec["hostPortName"] : undefined;
  return typeof name === "string" ? name : "";
}

/** The API server fills the namespace before admission; fall back to the request's anyway. */
function withNamespace(claim: HostPortClaim, namespace: string | undefined): HostPortClaim {
  if ((claim.metadata.namespace ?? "") !== "" || namespace === undefined) return claim;
  return { ...claim, metadata: { ...claim.metadata, namespace } };
}

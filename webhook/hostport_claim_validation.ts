/**
 * The HostPortClaim validating webhook: the original's immutability rules (seed 3.4), the binding
 * rule for a chosen HostPort (seed 5.2 #10), class-existence warnings and the claim quota.
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
import { quotaExceededMessage } from "../lib/quota/mod.ts";
import { classMissingWarning } from "./hostport_class_validation.ts";
import { type AdmissionLookups, settle } from "./lookups.ts";
import { bindingProblems } from "./pod_admission.ts";
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

const HOST_PORT_NAME = fieldPath("spec", "hostPortName");

/**
 * Answers a validating request for a HostPortClaim:
 *
 * - UPDATE: the class may not change, nor a set `spec.hostPortName` (empty -> set is allowed);
 * - whenever `spec.hostPortName` becomes set, the HostPort, if it exists, must not be bound to
 *   another claim, must be of the claim's class and must not be deleting (one that does not exist
 *   yet is allowed with a warning: an admin may create it later);
 * - CREATE: a warning when the class does not exist; refused (403, worded like the API server's
 *   own quota errors) when a ResourceQuota's per-class key is full (lib/quota);
 * - an UPDATE that leaves `spec` unchanged is allowed even if neither object decodes, so an admin
 *   can always remove the finalizers; one whose old object does not decode is judged on the new
 *   object alone.
 */
export async function reviewHostPortClaim(
  request: AdmissionRequest,
  lookups: AdmissionLookups,
): Promise<AdmissionReviewResponse> {
  const { uid, operation } = request;
  if ((operation !== "CREATE" && operation !== "UPDATE") || specUnchanged(request)) {
    return allowReview(uid);
  }
  const parsed = safeParseHostPortClaim(request.object);
  if (!parsed.ok) return badRequestReview(uid, parsed.error.message);
  let claim = parsed.value;
  // The API server fills the namespace before admission; fall back to the request's anyway.
  if ((claim.metadata.namespace ?? "") === "" && request.namespace !== undefined) {
    claim = { ...claim, metadata: { ...claim.metadata, namespace: request.namespace } };
  }
  const errors: FieldError[] = [];
  const warnings: string[] = [];
  const name = claim.spec.hostPortName ?? "";
  let oldName = "";
  if (operation === "UPDATE") {
    const old = safeParseHostPortClaim(request.oldObject);
    if (old.ok) {
      oldName = old.value.spec.hostPortName ?? "";
      if (claim.spec.hostPortClassName !== old.value.spec.hostPortClassName) {
        errors.push(forbidden(fieldPath("spec", "hostPortClassName"), MESSAGE.cannotChangeClass));
      }
      if (oldName !== "" && name !== oldName) {
        errors.push(forbidden(HOST_PORT_NAME, MESSAGE.cannotChangeHostPortName));
      }
    } else {
      // Judged on the new object alone (the CRD's own rules still compare with the old one).
      const spec = isPlainObject(request.oldObject) ? request.oldObject["spec"] : undefined;
      const raw = isPlainObject(spec) ? spec["hostPortName"] : undefined;
      oldName = typeof raw === "string" ? raw : "";
    }
  }
  if (name !== "" && oldName === "") {
    const lookup = await settle(() => lookups.getHostPort(name));
    const hostPort = lookup.ok ? lookup.value : undefined;
    if (!lookup.ok) {
      errors.push(internalError(HOST_PORT_NAME, lookup.error));
    } else if (hostPort === undefined) {
      warnings.push(
        `spec.hostPortName: HostPort ${goQuote(name)} does not exist; the claim stays Pending ` +
          "until it is created",
      );
    } else {
      for (const problem of bindingProblems(hostPort, claim)) {
        errors.push(invalid(HOST_PORT_NAME, name, problem));
      }
      if (hostPort.metadata.deletionTimestamp !== undefined) {
        errors.push(invalid(HOST_PORT_NAME, name, "hostport is deleting"));
      }
    }
  }
  if (operation === "CREATE") warnings.push(...await classWarnings(claim, lookups));
  const identity = { group: GROUP, kind: KIND.HostPortClaim, name: claim.metadata.name ?? "" };
  if (errors.length > 0) return denyReview(uid, invalidStatus(identity, errors), warnings);
  // Last, so only a claim that is otherwise admitted counts against its quota.
  const exceeded = operation === "CREATE"
    ? lookups.claimQuota?.admit(claim, { dryRun: request.dryRun === true })
    : undefined;
  if (exceeded === undefined) return allowReview(uid, { warnings });
  return denyReview(uid, {
    code: 403,
    reason: "Forbidden",
    message: `${PLURAL.HostPortClaim}.${GROUP} ${goQuote(identity.name)} is forbidden: ` +
      quotaExceededMessage(exceeded),
    details: { group: GROUP, kind: PLURAL.HostPortClaim, name: identity.name },
  }, warnings);
}

async function classWarnings(claim: HostPortClaim, lookups: AdmissionLookups): Promise<string[]> {
  const classes = await settle(() => lookups.listHostPortClasses());
  if (!classes.ok || classes.value === undefined) return [];
  const className = claim.spec.hostPortClassName;
  if (classes.value.some((c) => c.metadata.name === className)) return [];
  return [classMissingWarning(className)];
}

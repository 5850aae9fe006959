/**
 * The webhooks of the three custom resources (seed 3.3, 3.4). An UPDATE that leaves `spec`
 * unchanged is never refused, so an admin can always repair or delete an unreadable object.
 *
 * @module
 */
import * as z from "zod";
import {
  formatRange,
  intersectRanges,
  type PortRange,
  portsPhrase,
  sharedPorts,
  validatePools,
} from "../lib/allocator/mod.ts";
import {
  errorMessage,
  FINALIZER,
  GROUP,
  HOST_PORT_PHASE,
  type HostPort,
  HostPortClaimSchema,
  type HostPortClass,
  HostPortSchema,
  isPlainObject,
  jsonEqual,
  KIND,
  type Kind,
  MESSAGE,
  ObjectMetaSchema,
  type ObjectReference,
  PLURAL,
  safeParseObject,
} from "../lib/api/mod.ts";
import { quotaExceededMessage } from "../lib/quota/mod.ts";
import {
  type FieldError,
  forbidden,
  goQuote,
  internalError,
  invalid,
  required,
} from "./field_errors.ts";
import { type AdmissionLookups, settle } from "./lookups.ts";
import { bindingProblems } from "./pod_admission.ts";
import {
  type AdmissionRequest,
  type AdmissionReviewResponse,
  allowReview,
  badRequestReview,
  decodeObject,
  denyReview,
  invalidStatus,
  type JsonPatchOp,
} from "./review.ts";

/** Whether an UPDATE leaves the raw `field` as it was (answers even when nothing decodes). */
function unchanged(request: AdmissionRequest, field: "spec" | "status"): boolean {
  if (request.operation !== "UPDATE") return false;
  const read = (object: unknown) => isPlainObject(object) ? object[field] : undefined;
  return jsonEqual(read(request.oldObject), read(request.object));
}

/** Refuses with the original's 422 `Invalid` status when there are errors, else admits. */
function answer(
  uid: string,
  identity: { kind: string; name: string },
  errors: readonly FieldError[],
  warnings: readonly string[] = [],
): AdmissionReviewResponse {
  if (errors.length === 0) return allowReview(uid, { warnings });
  return denyReview(uid, invalidStatus({ group: GROUP, ...identity }, errors), warnings);
}

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

/** A class as validated: bounds are any numbers, so bad ones are reported, not refused as 400. */
const ClassSchema = z.object({
  metadata: ObjectMetaSchema,
  spec: z.object({
    pools: z.array(z.object({ start: z.number(), end: z.number() }).loose()),
  }).loose(),
}).loose();

/** Answers a validating request for a HostPortClass: checks new pools, warns of risky ones. */
export async function reviewHostPortClass(
  request: AdmissionRequest,
  lookups: AdmissionLookups,
): Promise<AdmissionReviewResponse> {
  const { uid, operation } = request;
  if (unchanged(request, "spec")) return allowReview(uid);
  const object = decodeObject(ClassSchema, request.object, "the HostPortClass");
  if (!object.ok) return badRequestReview(uid, object.message);
  const { pools } = object.value.spec;
  if (operation === "UPDATE") {
    const old = decodeObject(ClassSchema, request.oldObject, "the old HostPortClass");
    if (old.ok && jsonEqual(old.value.spec.pools, pools)) return allowReview(uid);
  }
  const errors = validatePools(pools).map((problem) => {
    const path = "spec.pools";
    if (problem.index === undefined) return required(path, problem.message);
    const pool = pools[problem.index];
    if (problem.field === undefined) {
      return invalid(`${path}[${problem.index}]`, `${pool?.start}-${pool?.end}`, problem.message);
    }
    const value = pool?.[problem.field] ?? null;
    return invalid(`${path}[${problem.index}].${problem.field}`, value, problem.message);
  });
  const name = object.value.metadata.name ?? request.name ?? "";
  if (errors.length > 0) return answer(uid, { kind: KIND.HostPortClass, name }, errors);
  const others = await settle(() => lookups.listHostPortClasses());
  const warnings = poolWarnings(name, pools, others.ok ? others.value : []);
  if (!others.ok) {
    warnings.push(
      "spec.pools: cannot check for ports shared with other HostPortClasses: " +
        errorMessage(others.error),
    );
  }
  return allowReview(uid, { warnings });
}

/** Where host ports are risky, and why: the API server's default NodePort range, and below 1024. */
const RISKY_RANGES: readonly [PortRange, string][] = [
  [
    { start: 30000, end: 32767 },
    "in the default NodePort range 30000-32767; Service node ports there can collide with " +
    "host ports",
  ],
  [
    { start: 1, end: 1023 },
    "below 1024; privileged ports are often taken by services on the nodes",
  ],
];

/** Warnings about a class's pools, in pool order, then overlaps in the order of `others`. */
function poolWarnings(
  name: string,
  pools: readonly PortRange[],
  others: readonly HostPortClass[],
): string[] {
  const warnings: string[] = [];
  pools.forEach((pool, i) => {
    for (const [range, risk] of RISKY_RANGES) {
      const risky = intersectRanges(pool, range);
      if (risky === undefined) continue;
      const shown = formatRange(risky);
      const ports = risky.start === risky.end ? `port ${shown} is` : `ports ${shown} are`;
      warnings.push(`spec.pools[${i}]: ${ports} ${risk}`);
    }
  });
  for (const other of others.filter((c) => (c.metadata.name ?? "") !== name)) {
    const shared = sharedPorts(pools, other.spec.pools);
    if (shared.length === 0) continue;
    warnings.push(
      `spec.pools: Class "${name}" shares ${portsPhrase(shared)} with class ` +
        `"${other.metadata.name ?? ""}"; ports are unique cluster-wide, so both classes draw ` +
        "on these ports",
    );
  }
  return warnings;
}

const HOST_PORT_NAME = "spec.hostPortName";

/**
 * Answers a validating request for a HostPortClaim: the class and a set `spec.hostPortName` are
 * immutable; a newly set `spec.hostPortName` must name a usable HostPort (a missing one only
 * warns: an admin may create it later); a CREATE warns of a missing class and is refused (403,
 * worded like the API server's quota errors) when a per-class quota is full.
 */
export async function reviewHostPortClaim(
  request: AdmissionRequest,
  lookups: AdmissionLookups,
): Promise<AdmissionReviewResponse> {
  const { uid, operation } = request;
  if (unchanged(request, "spec")) return allowReview(uid);
  const parsed = safeParseObject(HostPortClaimSchema, request.object, KIND.HostPortClaim);
  if (!parsed.ok) return badRequestReview(uid, parsed.error.message);
  let claim = parsed.value;
  // The API server fills the namespace before admission; fall back to the request's anyway.
  if ((claim.metadata.namespace ?? "") === "" && request.namespace !== undefined) {
    claim = { ...claim, metadata: { ...claim.metadata, namespace: request.namespace } };
  }
  const errors: FieldError[] = [];
  const warnings: string[] = [];
  const hostPortName = claim.spec.hostPortName ?? "";
  let oldName = "";
  if (operation === "UPDATE") {
    const old = safeParseObject(HostPortClaimSchema, request.oldObject, KIND.HostPortClaim);
    if (old.ok) {
      oldName = old.value.spec.hostPortName ?? "";
      if (claim.spec.hostPortClassName !== old.value.spec.hostPortClassName) {
        errors.push(forbidden("spec.hostPortClassName", MESSAGE.cannotChangeClass));
      }
      if (oldName !== "" && hostPortName !== oldName) {
        errors.push(forbidden(HOST_PORT_NAME, MESSAGE.cannotChangeHostPortName));
      }
    } else {
      // Judged on the new object alone (the CRD's own rules still compare with the old one).
      const spec = isPlainObject(request.oldObject) ? request.oldObject["spec"] : undefined;
      const raw = isPlainObject(spec) ? spec["hostPortName"] : undefined;
      oldName = typeof raw === "string" ? raw : "";
    }
  }
  if (hostPortName !== "" && oldName === "") {
    const lookup = await settle(() => lookups.getHostPort(hostPortName));
    const hostPort = lookup.ok ? lookup.value : undefined;
    if (!lookup.ok) {
      errors.push(internalError(HOST_PORT_NAME, lookup.error));
    } else if (hostPort === undefined) {
      const missing = `HostPort ${goQuote(hostPortName)} does not exist`;
      warnings.push(`spec.hostPortName: ${missing}; the claim stays Pending until it is created`);
    } else {
      for (const problem of bindingProblems(hostPort, claim)) {
        errors.push(invalid(HOST_PORT_NAME, hostPortName, problem));
      }
      if (hostPort.metadata.deletionTimestamp !== undefined) {
        errors.push(invalid(HOST_PORT_NAME, hostPortName, "hostport is deleting"));
      }
    }
  }
  if (operation === "CREATE") {
    const className = claim.spec.hostPortClassName;
    const classes = await settle(() => lookups.listHostPortClasses());
    const known = !classes.ok || classes.value.some((c) => c.metadata.name === className);
    if (!known) {
      warnings.push(
        `spec.hostPortClassName: HostPortClass ${goQuote(className)} does not exist; the ` +
          "claim stays Pending until it is created",
      );
    }
  }
  const name = claim.metadata.name ?? "";
  // Last, so only a claim that is otherwise admitted counts against its quota.
  const exceeded = operation === "CREATE" && errors.length === 0
    ? lookups.claimQuota?.admit(claim, { dryRun: request.dryRun === true })
    : undefined;
  if (exceeded === undefined) {
    return answer(uid, { kind: KIND.HostPortClaim, name }, errors, warnings);
  }
  return denyReview(uid, {
    code: 403,
    reason: "Forbidden",
    message: `${PLURAL.HostPortClaim}.${GROUP} ${goQuote(name)} is forbidden: ` +
      quotaExceededMessage(exceeded),
    details: { group: GROUP, kind: PLURAL.HostPortClaim, name },
  }, warnings);
}

/**
 * Answers a validating request for a HostPort (or its `status`): UPDATE keeps class, a set
 * claimRef and a set port, and only `operatorUsername` may write the port or phase Allocated,
 * since only the process that reserved a port may write it (a port stays in one HostPort).
 */
export function reviewHostPort(
  request: AdmissionRequest,
  operatorUsername?: string,
): AdmissionReviewResponse {
  const { uid, operation } = request;
  if (operation !== "UPDATE") return allowReview(uid);
  const parsed = safeParseObject(HostPortSchema, request.object, KIND.HostPort);
  const old = safeParseObject(HostPortSchema, request.oldObject, KIND.HostPort);
  if (!parsed.ok) {
    if (!old.ok && unchanged(request, "spec") && unchanged(request, "status")) {
      return allowReview(uid);
    }
    return badRequestReview(uid, parsed.error.message);
  }
  const hostPort = parsed.value;
  const oldSpec = old.ok ? old.value.spec : hostPort.spec;
  const oldStatus = old.ok ? old.value.status : rawStatus(request.oldObject);
  const errors: FieldError[] = [];
  if (hostPort.spec.hostPortClassName !== oldSpec.hostPortClassName) {
    errors.push(forbidden("spec.hostPortClassName", MESSAGE.cannotChangeClass));
  }
  const oldRef = oldSpec.claimRef;
  if (oldRef !== undefined && !sameReference(oldRef, hostPort.spec.claimRef)) {
    errors.push(forbidden("spec.claimRef", MESSAGE.cannotChangeClaimRef));
  }
  const oldPort = oldStatus?.port ?? 0;
  const port = hostPort.status?.port ?? 0;
  if (oldPort > 0 && port !== oldPort) {
    errors.push(forbidden("status.port", MESSAGE.cannotChangePort));
  }
  if (oldPort === 0 && port > 0 && hostPort.status?.phase !== HOST_PORT_PHASE.Allocated) {
    errors.push(invalid("status.port", port, MESSAGE.portNeedsAllocatedPhase));
  }
  const username = isPlainObject(request.userInfo) ? request.userInfo.username : undefined;
  const byOperator = operatorUsername !== undefined && username === operatorUsername;
  const writesPort = port !== oldPort ||
    (hostPort.status?.phase === HOST_PORT_PHASE.Allocated &&
      oldStatus?.phase !== HOST_PORT_PHASE.Allocated);
  if (!byOperator && writesPort) {
    errors.push(forbidden("status.port", "only the operator allocates ports"));
  }
  return answer(uid, { kind: KIND.HostPort, name: hostPort.metadata.name ?? "" }, errors);
}

/** The phase and port of a HostPort that does not decode, as far as they can be read. */
function rawStatus(object: unknown): HostPort["status"] {
  const status = isPlainObject(object) ? object.status : undefined;
  if (!isPlainObject(status)) return undefined;
  const { phase, port } = status;
  return {
    ...(typeof phase === "string" ? { phase } : {}),
    ...(typeof port === "number" && Number.isSafeInteger(port) ? { port } : {}),
  } as HostPort["status"];
}

/** Go's deep equality of two `ObjectReference`s: every field counts, absent equals `""`. */
function sameReference(a: ObjectReference, b: ObjectReference | undefined): boolean {
  const fields = ["apiVersion", "fieldPath", "kind", "name", "namespace", "resourceVersion", "uid"];
  return b !== undefined &&
    (fields as (keyof ObjectReference)[]).every((field) => (a[field] ?? "") === (b[field] ?? ""));
}

/**
 * The pod webhook's decision, pure: from the pod (and the stored pod) and the looked-up claims to
 * a patch or field errors (seed 3.5, with the fixes noted where they are made). A new pod's claims
 * are each resolved to a port ({@linkcode resolveClaim}); an UPDATE is not resolved against claims
 * again, since spec ports are immutable (the original re-resolved, and a claim or HostPort gone
 * bad then refused every later update, leaving pods stuck in Terminating: seed 5.4 #26): only the
 * claims the pod was admitted with are guarded ({@linkcode admitPodUpdate}). The lookups are
 * gathered in `pod_review.ts`.
 *
 * @module
 */
import {
  type BadValue,
  type FieldError,
  type FieldErrorType,
  type FieldPath,
  forbidden,
  goQuote,
  invalid,
} from "./field_errors.ts";
import type { JsonPatchOp } from "./json_patch.ts";
import {
  claimRefMatches,
  FINALIZER,
  hasClaimRef,
  HOST_PORT_PHASE,
  type HostPort,
  type HostPortClaim,
  POD_MESSAGE,
  portAnnotationKey,
  portNameOfClaimAnnotation,
  TERMINAL_POD_PHASES,
} from "../lib/api/mod.ts";
import {
  annotationPath,
  checkPorts,
  claimAnnotationErrors,
  compare,
  findPort,
  HOST_NETWORK_DETAIL,
  listPodPorts,
  mutationPatch,
  type Pod,
  type PodClaims,
  type PodPort,
  type PortAssignment,
  readPodClaims,
  unnamedPortErrors,
} from "./pod_model.ts";

/** The decision: admit with a patch (possibly empty) and warnings, or refuse with errors. */
export type PodAdmission =
  | { allowed: true; patch: JsonPatchOp[]; warnings: string[] }
  | {
    allowed: false;
    errors: FieldError[];
    /** Every error is a claim on its way to a port: looking again shortly may admit the pod. */
    retryable: boolean;
  };

/** Input of {@linkcode admitPod}. */
export interface PodAdmissionInput {
  /** The admission operation. */
  readonly operation: "CREATE" | "UPDATE";
  /** The pod's namespace (claims are looked up there only). */
  readonly namespace: string;
  /** The pod as submitted. */
  readonly pod: Pod;
  /** The stored pod, for UPDATE. */
  readonly oldPod?: Pod | undefined;
  /** For CREATE: the state of each claim named by {@linkcode claimsToLookUp}, by claim name. */
  readonly claims?: ReadonlyMap<string, ClaimState> | undefined;
}

/**
 * Returns the claim names whose state {@linkcode admitPod} needs for a new pod (none when the pod
 * has more claim annotations than allowed: it is refused without lookups).
 *
 * @param pod the pod
 * @returns distinct claim names
 */
export function claimsToLookUp(pod: Pod): string[] {
  const claims = readPodClaims(pod.metadata?.annotations);
  if (claims.tooMany !== undefined) return [];
  return [...new Set(claims.valid.map((claim) => claim.claimName))];
}

/**
 * Decides a pod admission. CREATE resolves every claim; UPDATE only guards the claims the pod
 * was admitted with ({@linkcode admitPodUpdate}).
 *
 * @param input the pod, old pod and looked-up claims
 * @returns the decision
 */
export function admitPod(input: PodAdmissionInput): PodAdmission {
  if (input.operation === "UPDATE") return admitPodUpdate(input.pod, input.oldPod ?? input.pod);
  return admitNewPod(input.pod, input.namespace, input.claims ?? new Map());
}

function admitNewPod(
  pod: Pod,
  namespace: string,
  states: ReadonlyMap<string, ClaimState>,
): PodAdmission {
  const claims = readPodClaims(pod.metadata?.annotations);
  const ports = listPodPorts(pod);
  const hostNetwork = pod.spec?.hostNetwork === true;
  const errors = [...structureErrors(claims, ports)];
  errors.push(...checkPorts(ports, claims.claimedPortNames, hostNetwork));
  if (claims.tooMany !== undefined) return { allowed: false, errors, retryable: false };

  // Every claim is resolved, so users see all problems at once, in port-name order.
  const structural = errors.length;
  const annotations = new Map<string, string>();
  const assignments: PortAssignment[] = [];
  let retryable = true;
  for (const claim of claims.valid) {
    const state = states.get(claim.claimName) ?? NOT_LOOKED_UP;
    const resolution = resolveClaim(claim.claimName, namespace, state);
    if (!resolution.ok) {
      errors.push(problemError(claim.path, resolution.problem));
      retryable &&= resolution.problem.transient;
      continue;
    }
    const port = findPort(ports, claim.portName);
    if (port === undefined) continue; // already reported as a missing port
    annotations.set(portAnnotationKey(claim.portName), String(resolution.port));
    assignments.push({ port, hostPort: resolution.port, setContainerPort: hostNetwork });
  }
  if (errors.length > 0) {
    return { allowed: false, errors, retryable: retryable && structural === 0 };
  }
  return {
    allowed: true,
    patch: mutationPatch(pod, { annotations, assignments, label: assignments.length > 0 }),
    warnings: containerPortWarnings(assignments),
  };
}

/**
 * Errors of the annotations and of the port names, in port-name order: the original's two
 * annotation messages, then a claim naming a port that no container or init container has.
 * The original accepted that silently (seed 5.4 #24), leaving a downward-API variable empty;
 * it is refused here, with `Port name must be set` on the unnamed ports that were likely meant.
 */
function structureErrors(claims: PodClaims, ports: readonly PodPort[]): FieldError[] {
  const errors: FieldError[] = claims.tooMany === undefined ? [] : [claims.tooMany];
  let missing = false;
  for (const claim of claims.all) {
    errors.push(...claimAnnotationErrors(claim));
    if (claim.portName === "" || findPort(ports, claim.portName) !== undefined) continue;
    missing = true;
    errors.push(invalid(claim.path, claim.claimName, missingPortDetail(claim.portName)));
  }
  if (missing) errors.push(...unnamedPortErrors(ports));
  return errors;
}

/** Detail when a claim annotation names a port that does not exist. */
export function missingPortDetail(portName: string): string {
  return `no container or init container port is named ${goQuote(portName)}`;
}

const NOT_LOOKED_UP: ClaimState = {
  claim: { ok: false, error: new Error("the claim was not looked up") },
};

function problemError(annotation: FieldPath, problem: ClaimProblem): FieldError {
  const field = (problem.at === "hostPort" ? annotation.child("hostPort") : annotation).toString();
  if (problem.value === undefined) return { type: problem.type, field, detail: problem.detail };
  return { type: problem.type, field, value: problem.value, detail: problem.detail };
}

function containerPortWarnings(assignments: readonly PortAssignment[]): string[] {
  return assignments
    .filter(({ port, hostPort, setContainerPort }) =>
      setContainerPort && port.containerPort !== hostPort
    )
    .map(({ port, hostPort }) =>
      `${port.path}.containerPort: set from ${port.containerPort} to ${hostPort}, because a ` +
      `hostNetwork pod listens on its host port; read it from the annotation ` +
      `port.hostport.rmb938.com/${port.name}`
    );
}

/** The outcome of one lookup: the object (`undefined` when it does not exist) or the failure. */
export type LookupResult<T> = { ok: true; value: T | undefined } | { ok: false; error: unknown };

/** What was looked up for one claim name: the claim and, if it names one, its HostPort. */
export interface ClaimState {
  /** The claim in the pod's namespace. */
  readonly claim: LookupResult<HostPortClaim>;
  /** The HostPort `claim.spec.hostPortName`; absent when the claim names none. */
  readonly hostPort?: LookupResult<HostPort>;
}

/** Why a claim gives no port, as a field error without its path. */
export interface ClaimProblem {
  /** `claim`: at the annotation; `hostPort`: at `<annotation>.hostPort`. */
  readonly at: "claim" | "hostPort";
  /** The error type. */
  readonly type: FieldErrorType;
  /** The bad value (claim or HostPort name). */
  readonly value?: BadValue;
  /** The detail, or the lookup error's message for internal errors. */
  readonly detail: string;
  /** Whether the problem may clear up by itself shortly (worth a bounded wait). */
  readonly transient: boolean;
}

/** A claim's port, or why there is none. */
export type ClaimResolution = { ok: true; port: number } | { ok: false; problem: ClaimProblem };

/** Detail when a HostPort's `claimRef` names another claim. */
export const HOST_PORT_CLAIMED_BY_OTHER = "hostport is bound to another hostPortClaim";

/**
 * Resolves a claim for a new pod.
 *
 * @param claimName the claim name from the annotation
 * @param namespace the pod's namespace
 * @param state what was looked up
 * @returns the port, or the problem
 */
function resolveClaim(
  claimName: string,
  namespace: string,
  state: ClaimState,
): ClaimResolution {
  if (!state.claim.ok) {
    // A failed read may succeed on the next attempt (the API server was busy): retryable.
    return fail("claim", "InternalError", undefined, messageOf(state.claim.error), true);
  }
  const claim = state.claim.value;
  // Lookups go to the pod's namespace only; anything else is treated as absent.
  if (claim === undefined || (claim.metadata.namespace ?? namespace) !== namespace) {
    return fail("claim", "FieldValueNotFound", claimName, "");
  }
  // Fix (architecture.md "Release", seed 5.3 #16): a deleting claim takes no new pods, so its
  // finalizer can be removed once its pods are gone without racing new admissions.
  if (claim.metadata.deletionTimestamp !== undefined) {
    return fail("claim", "FieldValueInvalid", claimName, POD_MESSAGE.claimDeleting);
  }
  const hostPortName = claim.spec.hostPortName ?? "";
  // Without our finalizer nothing would stop the claim's deletion while pods use it; the
  // operator adds it when it first reconciles the claim, so this is "not bound yet".
  if (!(claim.metadata.finalizers ?? []).includes(FINALIZER) || hostPortName === "") {
    return fail("claim", "FieldValueInvalid", claimName, POD_MESSAGE.claimNotBound, true);
  }
  const inNamespace = { ...claim, metadata: { ...claim.metadata, namespace } };
  return resolveHostPort(inNamespace, hostPortName, state.hostPort);
}

function resolveHostPort(
  claim: HostPortClaim,
  hostPortName: string,
  lookup: LookupResult<HostPort> | undefined,
): ClaimResolution {
  if (lookup === undefined) {
    return fail("hostPort", "InternalError", undefined, "the HostPort was not looked up");
  }
  if (!lookup.ok) {
    return fail("hostPort", "InternalError", undefined, messageOf(lookup.error), true);
  }
  const hostPort = lookup.value;
  if (hostPort === undefined) return fail("hostPort", "FieldValueNotFound", hostPortName, "");
  // Fix (seed 5.2 #10, claim hijacking): the HostPort must point back at this claim, or at no
  // claim yet (a HostPort created by hand, before the operator binds it).
  if (!claimRefAllows(hostPort, claim)) {
    return fail("hostPort", "FieldValueInvalid", hostPortName, HOST_PORT_CLAIMED_BY_OTHER);
  }
  if (hostPort.spec.hostPortClassName !== claim.spec.hostPortClassName) {
    const detail = `hostport is of hostPortClass ${goQuote(hostPort.spec.hostPortClassName)}, ` +
      `not ${goQuote(claim.spec.hostPortClassName)}`;
    return fail("hostPort", "FieldValueInvalid", hostPortName, detail);
  }
  const port = hostPort.status?.port ?? 0;
  const deleting = hostPort.metadata.deletionTimestamp !== undefined;
  if (deleting || hostPort.status?.phase !== HOST_PORT_PHASE.Allocated || port <= 0) {
    // Bound but not written yet is worth a short wait; a deleting HostPort is not (seed S6).
    const detail = POD_MESSAGE.hostPortNotAllocated;
    return fail("hostPort", "FieldValueInvalid", hostPortName, detail, !deleting);
  }
  return { ok: true, port };
}

/**
 * Whether a HostPort lets `claim` use it: it names no claim yet (made by hand, before the
 * operator binds it), or its `claimRef` names this claim ({@linkcode claimRefMatches}).
 *
 * @param hostPort the HostPort
 * @param claim the claim
 * @returns true when the claim may use the HostPort
 */
export function claimRefAllows(hostPort: HostPort, claim: HostPortClaim): boolean {
  const ref = hostPort.spec.claimRef;
  return !hasClaimRef(ref) || claimRefMatches(ref, claim);
}

function fail(
  at: ClaimProblem["at"],
  type: FieldErrorType,
  value: BadValue | undefined,
  detail: string,
  transient = false,
): ClaimResolution {
  const problem: ClaimProblem = value === undefined
    ? { at, type, detail, transient }
    : { at, type, value, detail, transient };
  return { ok: false, problem };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Detail when an update changes which claim a port uses. */
const CLAIM_CHANGED = "cannot change the claim of an existing pod";
/** Detail when an update adds a claim annotation. */
const CLAIM_ADDED = "cannot add a claim to an existing pod";
/** Detail when an update removes a claim annotation whose port holds no host port. */
const CLAIM_REMOVED = "cannot remove the claim of a pod that can still run";

/**
 * Decides a pod UPDATE, whoever writes it (the pod itself or its `status` subresource). While
 * the stored pod can still run (phase not `Succeeded`/`Failed`; a pod being deleted still runs
 * until the kubelet stops it), the claims it names are what keeps their ports from being handed
 * out again, so they are frozen:
 *
 * - removing a claim annotation -> `host ports cannot be set` on each port that still holds a
 *   host port (seed S15), else `Forbidden: cannot remove the claim of a pod that can still run`;
 * - adding a claim annotation, or changing one's value -> refused;
 * - otherwise admitted (finalizer removal and status updates of a pod being deleted included,
 *   so a pod never sticks in Terminating); `port.hostport.rmb938.com/<port>` annotations the
 *   webhook wrote are put back if the update changed or dropped them.
 *
 * Once the stored pod has finished (`Succeeded`/`Failed`), its containers never run again and any
 * update is admitted unchanged.
 *
 * @param pod the pod as submitted
 * @param oldPod the stored pod
 * @returns the decision
 */
function admitPodUpdate(pod: Pod, oldPod: Pod): PodAdmission {
  if (TERMINAL_POD_PHASES.has(oldPod.status?.phase ?? "")) return allow([]);
  const now = claimEntries(pod);
  const before = claimEntries(oldPod);
  const keys = [...new Set([...now.keys(), ...before.keys()])].sort(byPortName);
  const errors: FieldError[] = [];
  const restore = new Map<string, string>();
  for (const key of keys) {
    const value = now.get(key);
    const old = before.get(key);
    if (value === old) {
      const portKey = portAnnotationKey(portNameOfClaimAnnotation(key) ?? "");
      const written = oldPod.metadata?.annotations?.[portKey];
      if (written !== undefined) restore.set(portKey, written);
    } else if (value === undefined) {
      const held = removedClaimErrors(pod, portNameOfClaimAnnotation(key) ?? "");
      errors.push(...(held.length > 0 ? held : [forbidden(annotationPath(key), CLAIM_REMOVED)]));
    } else if (old === undefined) {
      errors.push(forbidden(annotationPath(key), CLAIM_ADDED));
    } else {
      errors.push(invalid(annotationPath(key), value, CLAIM_CHANGED));
    }
  }
  if (errors.length > 0) return { allowed: false, errors, retryable: false };
  return allow(mutationPatch(pod, { annotations: restore }));
}

/** `host ports cannot be set` on each port named `portName` that still takes a node port. */
function removedClaimErrors(pod: Pod, portName: string): FieldError[] {
  const detail = pod.spec?.hostNetwork === true
    ? HOST_NETWORK_DETAIL
    : POD_MESSAGE.hostPortsForbidden;
  return listPodPorts(pod)
    .filter((port) => portName !== "" && port.name === portName && port.nodePort > 0)
    .map((port) => invalid(port.path.child("hostPort"), port.nodePort, detail));
}

function claimEntries(pod: Pod): Map<string, string> {
  const entries = Object.entries(pod.metadata?.annotations ?? {});
  return new Map(entries.filter(([key]) => portNameOfClaimAnnotation(key) !== undefined));
}

function byPortName(a: string, b: string): number {
  return compare(portNameOfClaimAnnotation(a) ?? "", portNameOfClaimAnnotation(b) ?? "") ||
    compare(a, b);
}

function allow(patch: JsonPatchOp[]): PodAdmission {
  return { allowed: true, patch, warnings: [] };
}

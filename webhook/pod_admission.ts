/**
 * The pod webhook's decision, pure: from the pod (and the stored pod) and the looked-up claims to
 * a patch or field errors (seed 3.5, with the fixes noted where they are made). A new pod's claims
 * are each resolved to a port; an UPDATE is not resolved against claims again, since spec ports
 * are immutable (the original re-resolved, and a claim gone bad then refused every later update,
 * leaving pods stuck in Terminating: seed 5.4 #26). The lookups are gathered in `pod_review.ts`.
 *
 * @module
 */
import {
  type FieldError,
  forbidden,
  goQuote,
  internalError,
  invalid,
  notFound,
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
  type ClaimAnnotation,
  claimAnnotationErrors,
  compare,
  HOST_NETWORK_DETAIL,
  listPodPorts,
  mutationPatch,
  type Pod,
  type PortAssignment,
  readPodClaims,
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

/** The outcome of one lookup: the object (`undefined` when it does not exist) or the failure. */
export type LookupResult<T> = { ok: true; value: T | undefined } | { ok: false; error: unknown };

/** What was looked up for one claim name: the claim and, if it names one, its HostPort. */
export interface ClaimState {
  /** The claim in the pod's namespace. */
  readonly claim: LookupResult<HostPortClaim>;
  /** The HostPort `claim.spec.hostPortName`; absent when the claim names none. */
  readonly hostPort?: LookupResult<HostPort>;
}

/** The claim names a new pod needs looked up (none when it has too many: it is refused). */
export function claimsToLookUp(pod: Pod): string[] {
  const claims = readPodClaims(pod.metadata?.annotations);
  if (claims.tooMany !== undefined) return [];
  return [...new Set(claims.valid.map((claim) => claim.claimName))];
}

/**
 * Decides a new pod: every claim is resolved, so users see all problems at once, in port-name
 * order. A claim naming a port that no container has is refused (the original accepted it
 * silently, seed 5.4 #24), with `Port name must be set` on the unnamed ports likely meant.
 *
 * @param pod the pod as submitted
 * @param namespace the pod's namespace (claims are looked up there only)
 * @param states the state of each claim named by {@linkcode claimsToLookUp}
 */
export function admitNewPod(
  pod: Pod,
  namespace: string,
  states: ReadonlyMap<string, ClaimState>,
): PodAdmission {
  const claims = readPodClaims(pod.metadata?.annotations);
  const ports = listPodPorts(pod);
  const findPort = (name: string) => ports.find((port) => port.name === name);
  const hostNetwork = pod.spec?.hostNetwork === true;
  const errors = claims.tooMany === undefined ? [] : [claims.tooMany];
  for (const claim of claims.all) {
    errors.push(...claimAnnotationErrors(claim));
    if (claim.portName === "" || findPort(claim.portName) !== undefined) continue;
    errors.push(invalid(claim.path, claim.claimName, missingPortDetail(claim.portName)));
  }
  if (claims.all.some((claim) => claim.portName !== "" && !findPort(claim.portName))) {
    for (const port of ports.filter((port) => port.name === "")) {
      errors.push(invalid(port.path.child("name"), "", POD_MESSAGE.portNameRequired));
    }
  }
  errors.push(...checkPorts(ports, claims.claimedPortNames, hostNetwork));
  if (claims.tooMany !== undefined) return { allowed: false, errors, retryable: false };

  const structural = errors.length;
  const annotations = new Map<string, string>();
  const assignments: PortAssignment[] = [];
  let retryable = true;
  for (const claim of claims.valid) {
    const resolved = resolveClaim(claim, namespace, states.get(claim.claimName) ?? NOT_LOOKED_UP);
    if (typeof resolved !== "number") {
      errors.push(resolved.error);
      retryable &&= resolved.transient;
      continue;
    }
    const port = findPort(claim.portName);
    if (port === undefined) continue; // already reported as a missing port
    annotations.set(portAnnotationKey(claim.portName), String(resolved));
    assignments.push({ port, hostPort: resolved, setContainerPort: hostNetwork });
  }
  if (errors.length > 0) {
    return { allowed: false, errors, retryable: retryable && structural === 0 };
  }
  const warnings = assignments
    .filter(({ port, hostPort, setContainerPort }) =>
      setContainerPort && port.containerPort !== hostPort
    )
    .map(({ port, hostPort }) =>
      `${port.path}.containerPort: set from ${port.containerPort} to ${hostPort}, because a ` +
      `hostNetwork pod listens on its host port; read it from the annotation ` +
      `port.hostport.rmb938.com/${port.name}`
    );
  const patch = mutationPatch(pod, { annotations, assignments, label: assignments.length > 0 });
  return { allowed: true, patch, warnings };
}

/** Detail when a claim annotation names a port that does not exist. */
export function missingPortDetail(portName: string): string {
  return `no container or init container port is named ${goQuote(portName)}`;
}

const NOT_LOOKED_UP: ClaimState = {
  claim: { ok: false, error: new Error("the claim was not looked up") },
};

/** Detail when a HostPort's `claimRef` names another claim. */
export const HOST_PORT_CLAIMED_BY_OTHER = "hostport is bound to another hostPortClaim";

/**
 * Why `claim` may not use `hostPort`, in order: the HostPort is bound to another claim (seed 5.2
 * #10, claim hijacking; a HostPort made by hand that names no claim yet is fine), or is of
 * another class. Shared by the pod and the claim webhooks.
 */
export function bindingProblems(hostPort: HostPort, claim: HostPortClaim): string[] {
  const problems: string[] = [];
  const ref = hostPort.spec.claimRef;
  if (hasClaimRef(ref) && !claimRefMatches(ref, claim)) problems.push(HOST_PORT_CLAIMED_BY_OTHER);
  if (hostPort.spec.hostPortClassName !== claim.spec.hostPortClassName) {
    problems.push(
      `hostport is of hostPortClass ${goQuote(hostPort.spec.hostPortClassName)}, ` +
        `not ${goQuote(claim.spec.hostPortClassName)}`,
    );
  }
  return problems;
}

/** A claim's port, or the error at its annotation and whether it may clear up shortly. */
type Resolution = number | { error: FieldError; transient: boolean };

function resolveClaim(claim: ClaimAnnotation, namespace: string, state: ClaimState): Resolution {
  const { path, claimName } = claim;
  // A failed read may succeed on the next attempt (the API server was busy): transient.
  if (!state.claim.ok) return { error: internalError(path, state.claim.error), transient: true };
  const stored = state.claim.value;
  // Lookups go to the pod's namespace only; anything else is treated as absent.
  if (stored === undefined || (stored.metadata.namespace ?? namespace) !== namespace) {
    return { error: notFound(path, claimName), transient: false };
  }
  // A deleting claim takes no new pods, so its finalizer can be removed once its pods are gone
  // without racing new admissions (architecture.md "Release", seed 5.3 #16).
  if (stored.metadata.deletionTimestamp !== undefined) {
    return { error: invalid(path, claimName, POD_MESSAGE.claimDeleting), transient: false };
  }
  const hostPortName = stored.spec.hostPortName ?? "";
  // The operator adds our finalizer when it first reconciles the claim: without it, "not bound yet".
  if (!(stored.metadata.finalizers ?? []).includes(FINALIZER) || hostPortName === "") {
    return { error: invalid(path, claimName, POD_MESSAGE.claimNotBound), transient: true };
  }
  const at = path.child("hostPort");
  const lookup = state.hostPort;
  if (lookup === undefined) {
    return { error: internalError(at, "the HostPort was not looked up"), transient: false };
  }
  if (!lookup.ok) return { error: internalError(at, lookup.error), transient: true };
  const hostPort = lookup.value;
  if (hostPort === undefined) return { error: notFound(at, hostPortName), transient: false };
  const [problem] = bindingProblems(hostPort, {
    ...stored,
    metadata: { ...stored.metadata, namespace },
  });
  if (problem !== undefined) return { error: invalid(at, hostPortName, problem), transient: false };
  const port = hostPort.status?.port ?? 0;
  const deleting = hostPort.metadata.deletionTimestamp !== undefined;
  if (deleting || hostPort.status?.phase !== HOST_PORT_PHASE.Allocated || port <= 0) {
    // Bound but not written yet is worth a short wait; a deleting HostPort is not (seed S6).
    const error = invalid(at, hostPortName, POD_MESSAGE.hostPortNotAllocated);
    return { error, transient: !deleting };
  }
  return port;
}

/**
 * Decides a pod UPDATE, whoever writes it (the pod or its `status` subresource). While the
 * stored pod can still run (terminating included), the claims it names keep their ports from
 * being handed out again, so they are frozen: removing one is refused (`host ports cannot be
 * set` on each port that still holds a host port, seed S15), adding or changing one too. The
 * `port.hostport.rmb938.com/<port>` annotations the webhook wrote are put back if the update
 * dropped or changed them. A finished pod's updates are admitted unchanged.
 */
export function admitPodUpdate(pod: Pod, oldPod: Pod): PodAdmission {
  if (TERMINAL_POD_PHASES.has(oldPod.status?.phase ?? "")) {
    return { allowed: true, patch: [], warnings: [] };
  }
  const now = claimEntries(pod);
  const before = claimEntries(oldPod);
  const portName = (key: string) => portNameOfClaimAnnotation(key) ?? "";
  const keys = [...new Set([...now.keys(), ...before.keys()])]
    .sort((a, b) => compare(portName(a), portName(b)) || compare(a, b));
  const errors: FieldError[] = [];
  const restore = new Map<string, string>();
  for (const key of keys) {
    const value = now.get(key);
    const old = before.get(key);
    if (value === old) {
      const written = oldPod.metadata?.annotations?.[portAnnotationKey(portName(key))];
      if (written !== undefined) restore.set(portAnnotationKey(portName(key)), written);
    } else if (value === undefined) {
      const held = removedClaimErrors(pod, portName(key));
      errors.push(...(held.length > 0 ? held : [forbidden(annotationPath(key), CLAIM_REMOVED)]));
    } else if (old === undefined) {
      errors.push(forbidden(annotationPath(key), "cannot add a claim to an existing pod"));
    } else {
      errors.push(
        invalid(annotationPath(key), value, "cannot change the claim of an existing pod"),
      );
    }
  }
  if (errors.length > 0) return { allowed: false, errors, retryable: false };
  return { allowed: true, patch: mutationPatch(pod, { annotations: restore }), warnings: [] };
}

/** Detail when an update removes a claim annotation whose port holds no host port. */
const CLAIM_REMOVED = "cannot remove the claim of a pod that can still run";

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

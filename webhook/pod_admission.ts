/**
 * The pod webhook's decision, pure: from the pod (and old pod) and the looked-up claims to a
 * patch or field errors (seed 3.5, with the fixes noted where they are made).
 *
 * @module
 */
import { portAnnotationKey } from "../lib/api/mod.ts";
import type { ClaimProblem, ClaimState } from "./claim_resolution.ts";
import { resolveClaim } from "./claim_resolution.ts";
import { type FieldError, type FieldPath, invalid } from "./field_errors.ts";
import { goQuote } from "./go_quote.ts";
import type { PodAdmission } from "./pod_decision.ts";
import { claimAnnotationErrors, type PodClaims, readPodClaims } from "./pod_claims.ts";
import { mutatePod, podPatch, type PortAssignment } from "./pod_patch.ts";
import {
  checkPorts,
  findPort,
  listPodPorts,
  type PodPort,
  unnamedPortErrors,
} from "./pod_ports.ts";
import type { Pod } from "./pod_schema.ts";
import { admitPodUpdate } from "./pod_update.ts";

export type { PodAdmission } from "./pod_decision.ts";

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
 * was admitted with (see `pod_update.ts`).
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
    patch: podPatch(
      pod,
      mutatePod(pod, { annotations, assignments, label: assignments.length > 0 }),
    ),
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

/**
 * Pod UPDATEs. Spec ports are immutable, so an update is not resolved against claims again (the
 * original re-resolved, and a claim or HostPort gone bad then refused every later update,
 * leaving pods stuck in Terminating: seed 5.4 #26). Only the claims the pod was admitted with
 * are guarded.
 *
 * @module
 */
import {
  POD_MESSAGE,
  portAnnotationKey,
  portNameOfClaimAnnotation,
  TERMINAL_POD_PHASES,
} from "../lib/api/mod.ts";
import { type FieldError, forbidden, invalid } from "./field_errors.ts";
import type { JsonPatchOp } from "./json_patch.ts";
import type { PodAdmission } from "./pod_decision.ts";
import { annotationPath, compare } from "./pod_claims.ts";
import { mutatePod, podPatch } from "./pod_patch.ts";
import { HOST_NETWORK_DETAIL, listPodPorts } from "./pod_ports.ts";
import type { Pod } from "./pod_schema.ts";

/** Detail when an update changes which claim a port uses. */
export const CLAIM_CHANGED = "cannot change the claim of an existing pod";
/** Detail when an update adds a claim annotation. */
export const CLAIM_ADDED = "cannot add a claim to an existing pod";
/** Detail when an update removes a claim annotation whose port holds no host port. */
export const CLAIM_REMOVED = "cannot remove the claim of a pod that can still run";

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
export function admitPodUpdate(pod: Pod, oldPod: Pod): PodAdmission {
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
  return allow(podPatch(pod, mutatePod(pod, { annotations: restore })));
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

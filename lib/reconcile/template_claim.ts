/**
 * Who owns a claim the pod webhook made from a HostPortClaimTemplate, decided purely.
 *
 * - A StatefulSet's claim (`<template>-<pod>`) follows the set's
 *   `persistentVolumeClaimRetentionPolicy` as PVCs do: `whenDeleted: Delete` makes the set an
 *   owner; `whenScaled: Delete` makes the pod the owner once its ordinal is scaled away, and the
 *   claim is deleted here when that pod is already gone, as the garbage collector would have.
 * - Any other pod's claim (`<pod>-<portName>`) gets its pod as controller owner once the pod is
 *   stored (an owner the garbage collector cannot find makes it delete the dependent at once). It
 *   is deleted here when the pod has finished (a Job keeps such pods) or no pod took it within
 *   the deletion window.
 *
 * Deleting is always safe: the claim's finalizer still waits for its pods and the window.
 *
 * @module
 */
import { TERMINAL_POD_PHASES } from "../api/constants.ts";
import { type OwnerReference, type RetentionPolicy, statefulSetReference } from "../api/mod.ts";
import { done, type Outcome, requeueAfter } from "./outcome.ts";
import { jsonEqual } from "../api/types.ts";

/** The StatefulSet of a claim, as read live, with its claim retention policy. */
export interface TemplateClaimSet extends RetentionPolicy {
  readonly uid: string;
  /** `spec.replicas` (default 1). */
  readonly replicas: number;
  /** `spec.ordinals.start` (default 0). */
  readonly start: number;
}

/** Input of {@linkcode planTemplateClaim}. */
export interface TemplateClaimInput {
  /** The claim's owner references. */
  readonly ownerReferences: readonly OwnerReference[];
  /** The claim's creation time, in ms. */
  readonly createdMs: number;
  readonly nowMs: number;
  /** The deletion window in ms; a claim no pod took waits at least {@linkcode MIN_ORPHAN_MS}. */
  readonly graceMs: number;
  readonly podName: string;
  /** The pod from the cache, if there; `namesClaim`: it names this claim in a claim annotation. */
  readonly pod:
    | { readonly uid: string; readonly phase?: string | undefined; readonly namesClaim: boolean }
    | undefined;
  /** For a StatefulSet's claim: its name, the pod's ordinal, and the set (undefined if none). */
  readonly statefulSet?: {
    readonly name: string;
    readonly ordinal: number;
    readonly set: TemplateClaimSet | undefined;
  };
}

/** What to do with a template claim. */
export type TemplateClaimPlan =
  | { readonly action: "none"; readonly outcome: Outcome }
  | { readonly action: "setOwners"; readonly ownerReferences: OwnerReference[] }
  | { readonly action: "delete"; readonly reason: string };

/**
 * A claim no pod took is deleted no sooner than this after its creation: the longest a webhook
 * call may last (`timeoutSeconds` is at most 30), so the webhook never waits on a claim going away.
 */
export const MIN_ORPHAN_MS = 30_000;

const NONE: TemplateClaimPlan = { action: "none", outcome: done() };

/** Decides a template claim's owners, or its deletion. */
export function planTemplateClaim(input: TemplateClaimInput): TemplateClaimPlan {
  return input.statefulSet === undefined ? planPodClaim(input) : planSetClaim(input);
}

function planPodClaim(input: TemplateClaimInput): TemplateClaimPlan {
  const { pod, ownerReferences } = input;
  const controller = ownerReferences.find((ref) => ref.controller === true);
  if (pod !== undefined && pod.namesClaim && (!controller || controller.uid === pod.uid)) {
    if (TERMINAL_POD_PHASES.has(pod.phase ?? "")) {
      return { action: "delete", reason: `its pod ${input.podName} has finished` };
    }
    if (controller !== undefined) return NONE;
    return {
      action: "setOwners",
      ownerReferences: [...ownerReferences, podReference(input.podName, pod.uid, true)],
    };
  }
  // Owned by a pod that is gone: the garbage collector deletes it.
  if (controller !== undefined) return NONE;
  const leftMs = input.createdMs + Math.max(input.graceMs, MIN_ORPHAN_MS) - input.nowMs;
  if (leftMs > 0) return { action: "none", outcome: requeueAfter(leftMs) };
  return { action: "delete", reason: `no pod ${input.podName} took it` };
}

function planSetClaim(input: TemplateClaimInput): TemplateClaimPlan {
  const { name, ordinal, set } = input.statefulSet!;
  if (set === undefined) return NONE; // gone: the garbage collector acts on the set's reference
  const condemned = ordinal < set.start || ordinal >= set.start + set.replicas;
  const scaledDelete = set.whenScaled === "Delete" && condemned;
  if (scaledDelete && input.pod === undefined) {
    return {
      action: "delete",
      reason: `ordinal ${ordinal} of StatefulSet ${name} was scaled away`,
    };
  }
  const others = input.ownerReferences.filter((ref) =>
    !(ref.kind === "StatefulSet" && ref.name === name) &&
    !(ref.kind === "Pod" && ref.name === input.podName)
  );
  const wanted = [...others];
  if (set.whenDeleted === "Delete" && !scaledDelete) {
    wanted.push(statefulSetReference({ name, uid: set.uid }));
  }
  if (scaledDelete && input.pod !== undefined) {
    wanted.push(podReference(input.podName, input.pod.uid, false));
  }
  return sameReferences(wanted, input.ownerReferences)
    ? NONE
    : { action: "setOwners", ownerReferences: wanted };
}

function podReference(name: string, uid: string, controller: boolean): OwnerReference {
  return { apiVersion: "v1", kind: "Pod", name, uid, ...controller ? { controller: true } : {} };
}

function sameReferences(a: readonly OwnerReference[], b: readonly OwnerReference[]): boolean {
  const key = (ref: OwnerReference) => `${ref.kind}/${ref.name}/${ref.uid}/${ref.controller}`;
  return jsonEqual(a.map(key).sort(), b.map(key).sort());
}

/**
 * The pod webhook's mutation, as pure functions from the pod to the mutated pod, and its JSON
 * Patch: the difference between the two (`fast-json-patch`'s `compare`). Only what the webhook
 * sets differs, so fields it does not know are never touched (seed 5.4 #27: the original diffed
 * a re-marshalled typed pod and removed every field its compiled types lacked).
 *
 * @module
 */
import jsonpatch from "fast-json-patch";
import { POD_LABEL_KEY, POD_LABEL_VALUE } from "../lib/api/mod.ts";
import { applyJsonPatch, type JsonPatchOp } from "./json_patch.ts";
import type { PodPort } from "./pod_ports.ts";
import type { Pod } from "./pod_schema.ts";

/** A port to point at an allocated host port. */
export interface PortAssignment {
  /** The container port. */
  readonly port: PodPort;
  /** The allocated port. */
  readonly hostPort: number;
  /**
   * Also set `containerPort` (hostNetwork pods: the API requires `hostPort == containerPort`
   * there, so the container must listen on the allocated port, which it reads from the
   * `port.hostport.rmb938.com/<port name>` annotation through the downward API).
   */
  readonly setContainerPort: boolean;
}

/** What the webhook sets on an admitted pod. */
export interface PodMutation {
  /** Annotation values, by key. */
  readonly annotations?: ReadonlyMap<string, string>;
  /** Ports and their allocated host ports. */
  readonly assignments?: readonly PortAssignment[];
  /** Set the label the operator watches pods by ({@linkcode POD_LABEL_KEY}). */
  readonly label?: boolean;
}

/**
 * The pod with the mutation applied; `pod` itself is not changed.
 *
 * @param pod the pod as admitted
 * @param mutation what to set
 * @returns a mutated copy
 */
export function mutatePod(pod: Pod, mutation: PodMutation): Pod {
  const mutated = asJson(pod);
  const annotations = [...mutation.annotations ?? []];
  if (annotations.length > 0 || mutation.label === true) mutated.metadata ??= {};
  if (annotations.length > 0) {
    mutated.metadata!.annotations = {
      ...mutated.metadata!.annotations,
      ...Object.fromEntries(annotations),
    };
  }
  if (mutation.label === true) {
    mutated.metadata!.labels = { ...mutated.metadata!.labels, [POD_LABEL_KEY]: POD_LABEL_VALUE };
  }
  for (const { port, hostPort, setContainerPort } of mutation.assignments ?? []) {
    const target = jsonpatch.getValueByPointer(mutated, port.pointer) as Record<string, unknown>;
    if (setContainerPort) target.containerPort = hostPort;
    target.hostPort = hostPort;
  }
  return mutated;
}

/**
 * The JSON Patch that turns `original` into `mutated`.
 *
 * @param original the pod as admitted
 * @param mutated the pod as the webhook wants it stored
 * @returns the operations (none when the two are equal)
 */
export function podPatch(original: Pod, mutated: Pod): JsonPatchOp[] {
  return jsonpatch.compare(asJson(original), asJson(mutated)) as JsonPatchOp[];
}

/**
 * A copy of the pod as the API server holds it, as JSON: a member set to `undefined` in memory
 * is absent there, so the patch must `add` it, not `replace` it.
 */
function asJson(pod: Pod): Pod {
  return JSON.parse(JSON.stringify(pod));
}

/**
 * `pod` with `patch` applied (to a copy).
 *
 * @param pod the pod
 * @param patch operations computed against it
 * @returns the patched copy
 */
export function patchedPod(pod: Pod, patch: readonly JsonPatchOp[]): Pod {
  return applyJsonPatch(pod, patch);
}

/**
 * The JSON Patch operations of the pod webhook: only what changes, so fields the webhook does
 * not know are never touched (seed 5.4 #27: the original diffed a re-marshalled typed pod and
 * removed every field its compiled types lacked).
 *
 * @module
 */
import { POD_LABEL_KEY, POD_LABEL_VALUE } from "../lib/api/mod.ts";
import { type JsonPatchOp, jsonPointer } from "./json_patch.ts";
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

/**
 * Operations that set annotations: the whole map when the pod has none, else one `add` or
 * `replace` per key whose value differs.
 *
 * @param pod the pod as admitted
 * @param values annotation values to set, by key
 * @returns the operations (none when every value is already set)
 */
export function annotationOps(pod: Pod, values: ReadonlyMap<string, string>): JsonPatchOp[] {
  const current = pod.metadata?.annotations;
  const changed = [...values].filter(([key, value]) => current?.[key] !== value);
  if (changed.length === 0) return [];
  if (pod.metadata === undefined) {
    return [{ op: "add", path: "/metadata", value: { annotations: Object.fromEntries(changed) } }];
  }
  if (current === undefined) {
    return [{ op: "add", path: "/metadata/annotations", value: Object.fromEntries(changed) }];
  }
  return changed.map(([key, value]) => ({
    op: Object.hasOwn(current, key) ? "replace" : "add",
    path: jsonPointer("metadata", "annotations", key),
    value,
  }));
}

/**
 * The operation that sets the label the operator watches pods by ({@linkcode POD_LABEL_KEY}),
 * when it is not set yet. Call it on a pod that names claims: it has `metadata`.
 *
 * @param pod the pod as admitted
 * @returns the operation, or none when the label is there
 */
export function podLabelOps(pod: Pod): JsonPatchOp[] {
  const labels = pod.metadata?.labels;
  if (labels?.[POD_LABEL_KEY] === POD_LABEL_VALUE) return [];
  if (labels === undefined) {
    return [{ op: "add", path: "/metadata/labels", value: { [POD_LABEL_KEY]: POD_LABEL_VALUE } }];
  }
  const op = Object.hasOwn(labels, POD_LABEL_KEY) ? "replace" : "add";
  return [{ op, path: jsonPointer("metadata", "labels", POD_LABEL_KEY), value: POD_LABEL_VALUE }];
}

/**
 * Operations that set `hostPort` (and `containerPort` where asked) of each assigned port.
 *
 * @param assignments the ports and their allocated host ports
 * @returns the operations (none for values already set)
 */
export function portOps(assignments: readonly PortAssignment[]): JsonPatchOp[] {
  const ops: JsonPatchOp[] = [];
  for (const { port, hostPort, setContainerPort } of assignments) {
    if (setContainerPort && port.containerPort !== hostPort) {
      ops.push({ op: "replace", path: `${port.pointer}/containerPort`, value: hostPort });
    }
    if (port.hostPort !== hostPort) {
      const op = port.hostPort === undefined ? "add" : "replace";
      ops.push({ op, path: `${port.pointer}/hostPort`, value: hostPort });
    }
  }
  return ops;
}

/**
 * What the controllers need to know about Pods: which claims a pod names, and whether it can
 * still run (and so still use a claim's port).
 *
 * @module
 */
import {
  PORT_ANNOTATION_PREFIX,
  portAnnotationKey,
  portNameOfClaimAnnotation,
  TERMINAL_POD_PHASES,
} from "../api/constants.ts";

/** The slice of a Pod the operator keeps in its cache (everything else is dropped). */
export interface PodSummary {
  /** `v1`. */
  apiVersion?: string | undefined;
  /** `Pod`. */
  kind?: string | undefined;
  /** Identity, deletion and the claim annotations only. */
  metadata: {
    name?: string | undefined;
    namespace?: string | undefined;
    uid?: string | undefined;
    resourceVersion?: string | undefined;
    deletionTimestamp?: string | undefined;
    /** Only `claim.hostport.rmb938.com/*` and `port.hostport.rmb938.com/*` annotations. */
    annotations?: Record<string, string> | undefined;
  };
  /** Only the phase. */
  status?: { phase?: string | undefined } | undefined;
}

/**
 * Returns the claim names a pod's annotations name (`claim.hostport.rmb938.com/<port>: <claim>`),
 * without duplicates and without empty values.
 */
export function claimNamesOfPod(pod: Pick<PodSummary, "metadata">): string[] {
  const names = new Set<string>();
  for (const [key, value] of Object.entries(pod.metadata.annotations ?? {})) {
    if (portNameOfClaimAnnotation(key) !== undefined && value !== "") names.add(value);
  }
  return [...names];
}

/**
 * Whether a pod can still run: its phase is not `Succeeded` or `Failed`. A pod being deleted
 * still counts, as its containers run until the kubelet stops them.
 */
function podCanStillRun(pod: Pick<PodSummary, "status">): boolean {
  return !TERMINAL_POD_PHASES.has(pod.status?.phase ?? "");
}

/**
 * Returns the pods that keep a claim from being finalized: pods of the claim's namespace that
 * name it and can still run.
 *
 * @param pods pods of any namespace
 * @param namespace the claim's namespace
 * @param claimName the claim's name
 */
export function podsBlockingClaim(
  pods: readonly PodSummary[],
  namespace: string,
  claimName: string,
): PodSummary[] {
  return pods.filter((pod) =>
    pod.metadata.namespace === namespace && podCanStillRun(pod) &&
    claimNamesOfPod(pod).includes(claimName)
  );
}

/**
 * Returns the pods that keep a HostPort's port from being released: pods of the claim's
 * namespace that name the claim, can still run, and carry this port for it (their
 * `port.hostport.rmb938.com/<portName>` annotation equals `port`, or the webhook has not written
 * one yet, as for a pod still in admission). A pod carrying another port uses a newer claim of
 * the same name, not this HostPort. A HostPort without a port is held by no pod.
 *
 * @param pods pods of any namespace
 * @param claimRef the namespace and name of the HostPort's claim
 * @param port the HostPort's `status.port` (0 when it holds none)
 */
export function podsHoldingPort(
  pods: readonly PodSummary[],
  claimRef: { readonly namespace?: string | undefined; readonly name?: string | undefined },
  port: number,
): PodSummary[] {
  if (port <= 0 || !claimRef.name) return [];
  return podsBlockingClaim(pods, claimRef.namespace ?? "", claimRef.name).filter((pod) => {
    const annotations = pod.metadata.annotations ?? {};
    return Object.entries(annotations).some(([key, value]) => {
      const portName = portNameOfClaimAnnotation(key);
      if (portName === undefined || value !== claimRef.name) return false;
      const written = annotations[portAnnotationKey(portName)];
      return written === undefined || written === String(port);
    });
  });
}

/**
 * Reduces a Pod to a {@linkcode PodSummary}: name, namespace, uid, resourceVersion,
 * deletionTimestamp, claim and port annotations, and phase. A cluster-wide pod cache then costs a few
 * hundred bytes per pod.
 *
 * @param pod a Pod as the API server returns it
 */
export function summarizePod(pod: {
  metadata?: Record<string, unknown> | undefined;
  status?: Record<string, unknown> | undefined;
}): PodSummary {
  const meta = pod.metadata ?? {};
  const annotations: Record<string, string> = {};
  const raw = meta.annotations;
  if (typeof raw === "object" && raw !== null) {
    for (const [key, value] of Object.entries(raw)) {
      const ours = portNameOfClaimAnnotation(key) !== undefined ||
        key.startsWith(PORT_ANNOTATION_PREFIX);
      if (typeof value === "string" && ours) {
        annotations[key] = value;
      }
    }
  }
  const text = (value: unknown) => typeof value === "string" ? value : undefined;
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: text(meta.name),
      namespace: text(meta.namespace),
      uid: text(meta.uid),
      resourceVersion: text(meta.resourceVersion),
      deletionTimestamp: text(meta.deletionTimestamp),
      annotations,
    },
    status: { phase: text(pod.status?.phase) },
  };
}

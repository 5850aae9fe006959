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
  metadata: {
    name?: string | undefined;
    namespace?: string | undefined;
    uid?: string | undefined;
    resourceVersion?: string | undefined;
    deletionTimestamp?: string | undefined;
    /** Only `claim.hostport.rmb938.com/*` and `port.hostport.rmb938.com/*` annotations. */
    annotations?: Record<string, string> | undefined;
  };
  status?: { phase?: string | undefined } | undefined;
}

/** The distinct, non-empty values of a pod's `claim.hostport.rmb938.com/<port>` annotations. */
export function claimNamesOfPod(pod: Pick<PodSummary, "metadata">): string[] {
  const names = new Set<string>();
  for (const [key, value] of Object.entries(pod.metadata.annotations ?? {})) {
    if (portNameOfClaimAnnotation(key) !== undefined && value !== "") names.add(value);
  }
  return [...names];
}

/**
 * The pods that keep a claim from being finalized: pods of its namespace that name it and can
 * still run (not `Succeeded` or `Failed`; a pod being deleted runs until the kubelet stops it).
 */
export function podsBlockingClaim(
  pods: readonly PodSummary[],
  namespace: string,
  claimName: string,
): PodSummary[] {
  return pods.filter((pod) =>
    pod.metadata.namespace === namespace && !TERMINAL_POD_PHASES.has(pod.status?.phase ?? "") &&
    claimNamesOfPod(pod).includes(claimName)
  );
}

/**
 * The pods that keep a HostPort's `port` from being released: those blocking its claim whose
 * `port.hostport.rmb938.com/<portName>` annotation is `port` or not yet written (in admission).
 * A pod carrying another port uses a newer claim of the same name.
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

/** Reduces a Pod to a {@linkcode PodSummary}, so a cluster-wide pod cache costs little per pod. */
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
      if (typeof value === "string" && ours) annotations[key] = value;
    }
  }
  const text = (value: unknown) => typeof value === "string" ? value : undefined;
  return {
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

/**
 * The exact strings of the `hostport.rmb938.com/v1alpha1` API. Those shared with the original Go
 * operator are kept byte for byte (hence some messages' lower-case starts).
 * @module
 */

/** API group of the kinds. */
export const GROUP = "hostport.rmb938.com";
/** The only API version, served and stored. */
export const VERSION = "v1alpha1";
/** `apiVersion` of every object of the kinds. */
export const API_VERSION = `${GROUP}/${VERSION}` as const;

/** Kind names. */
export const KIND = {
  HostPortClass: "HostPortClass",
  HostPortClaim: "HostPortClaim",
  HostPort: "HostPort",
  HostPortClaimTemplate: "HostPortClaimTemplate",
} as const;

/** A kind name of this API. */
export type Kind = typeof KIND[keyof typeof KIND];

/** Resource plurals, as used in API paths (`/apis/hostport.rmb938.com/v1alpha1/<plural>`). */
export const PLURAL = {
  HostPortClass: "hostportclasses",
  HostPortClaim: "hostportclaims",
  HostPort: "hostports",
  HostPortClaimTemplate: "hostportclaimtemplates",
} as const;

/**
 * Finalizer on all three kinds. It has no path segment (the API server warns about that), but
 * objects created by the original operator carry it, so it is kept for compatibility.
 */
export const FINALIZER = "hostport.rmb938.com";

/** Pod phases after which a pod never runs again (any other pod may still use its ports). */
export const TERMINAL_POD_PHASES: ReadonlySet<string> = new Set(["Succeeded", "Failed"]);

/** Pod annotation prefix naming a claim: `claim.hostport.rmb938.com/<portName>: <claim name>`. */
export const CLAIM_ANNOTATION_PREFIX = "claim.hostport.rmb938.com/";
/** Pod annotation prefix written by the webhook: `port.hostport.rmb938.com/<portName>: "<port>"`. */
export const PORT_ANNOTATION_PREFIX = "port.hostport.rmb938.com/";
/** Pod annotation prefix asking for a claim of the pod's own, made from a HostPortClaimTemplate. */
export const CLAIM_TEMPLATE_ANNOTATION_PREFIX = "claim-template.hostport.rmb938.com/";

/**
 * Labels on claims made from a template: the template, the pod (ephemeral claims), the
 * StatefulSet and the pod's ordinal (StatefulSet claims), and the pod's port name.
 */
export const TEMPLATE_CLAIM_LABEL = {
  template: "hostport.rmb938.com/claim-template",
  pod: "hostport.rmb938.com/pod-name",
  statefulSet: "hostport.rmb938.com/statefulset",
  ordinal: "hostport.rmb938.com/ordinal",
  portName: "hostport.rmb938.com/port-name",
} as const;

/** Annotation on a claim made from a template naming the pod it was made for. */
export const TEMPLATE_CLAIM_POD_ANNOTATION = "hostport.rmb938.com/pod-name";

/** Namespace label key that enables the pod webhook (default selector). */
export const NAMESPACE_LABEL_KEY = "hostport.rmb938.com";
/** Namespace label value that enables the pod webhook (default selector). */
export const NAMESPACE_LABEL_VALUE = "true";

/** Pod label the pod webhook sets on every pod it gives a port; the operator watches only those. */
export const POD_LABEL_KEY = "hostport.rmb938.com/claims";
/** Value of {@linkcode POD_LABEL_KEY}; the operator selects on the key alone. */
export const POD_LABEL_VALUE = "true";

/** Name of the leader-election Lease (coordination.k8s.io/v1), as in the original. */
export const LEADER_ELECTION_LEASE_NAME = "f10832af.rmb938.com";

/** Phases of a HostPort: `Pending` until a port is allocated, `Deleting` once deletion starts. */
export const HOST_PORT_PHASE = {
  Pending: "Pending",
  Allocated: "Allocated",
  Deleting: "Deleting",
} as const;

/** Phases of a HostPortClaim: `Pending` until bound to a HostPort, `Deleting` once deletion starts. */
export const CLAIM_PHASE = {
  Pending: "Pending",
  Bound: "Bound",
  Deleting: "Deleting",
} as const;

/**
 * Condition types. `Bound`: the claim's HostPort names it back and holds a port; `OutOfPool`: a
 * HostPort's port is outside its class's shrunk pools (it stays reserved); `DeletionBlocked`: a
 * class waits for its HostPorts, or a claimless HostPort keeps its port for a pod that can run.
 */
export const CONDITION_TYPE = {
  Bound: "Bound",
  Allocated: "Allocated",
  OutOfPool: "OutOfPool",
  Available: "Available",
  DeletionBlocked: "DeletionBlocked",
} as const;

/**
 * Condition reasons. `PortConflict`: a port shown by two HostPorts (a status someone else wrote);
 * `AllocationUnavailable`: the record missing, rebuilding, paused or failing.
 */
export const CONDITION_REASON = {
  Allocated: "Allocated",
  WaitingForAllocation: "WaitingForAllocation",
  PoolExhausted: "PoolExhausted",
  ClassNotFound: "ClassNotFound",
  HostPortNotFound: "HostPortNotFound",
  HostPortClaimedByOther: "HostPortClaimedByOther",
  ClassMismatch: "ClassMismatch",
  HostPortDeleting: "HostPortDeleting",
  PortOutsidePools: "PortOutsidePools",
  InPools: "InPools",
  PortsAvailable: "PortsAvailable",
  HostPortsExist: "HostPortsExist",
  PodsHoldPort: "PodsHoldPort",
  AllocationUnavailable: "AllocationUnavailable",
  PortConflict: "PortConflict",
  QuotaExceeded: "QuotaExceeded",
} as const;

/** Values of `metav1.Condition.status`. */
export const CONDITION_STATUS = {
  True: "True",
  False: "False",
  Unknown: "Unknown",
} as const;

/** A condition status. */
export type ConditionStatus = typeof CONDITION_STATUS[keyof typeof CONDITION_STATUS];

/** The name of the HostPort provisioned for a claim: `hpc-<claim uid>`. */
export function hostPortNameForClaim(claimUid: string): string {
  return `hpc-${claimUid}`;
}

/** The pod annotation key that names a claim for a port: `claim.hostport.rmb938.com/<portName>`. */
export function claimAnnotationKey(portName: string): string {
  return `${CLAIM_ANNOTATION_PREFIX}${portName}`;
}

/** The pod annotation key carrying a port's number: `port.hostport.rmb938.com/<portName>`. */
export function portAnnotationKey(portName: string): string {
  return `${PORT_ANNOTATION_PREFIX}${portName}`;
}

/** The port name of a claim annotation key (`""` for the bare prefix), or undefined for others. */
export function portNameOfClaimAnnotation(key: string): string | undefined {
  if (!key.startsWith(CLAIM_ANNOTATION_PREFIX)) return undefined;
  return key.slice(CLAIM_ANNOTATION_PREFIX.length);
}

/** Messages about the kinds: allocation, and the CRDs' and webhooks' validation. */
export const MESSAGE = {
  noFreePorts: "no free ports to allocate",
  endBeforeStart: "End must be greater or equal to start",
  cannotChangeClass: "cannot change hostPortClassName",
  cannotChangeHostPortName: "cannot change hostPortName once set",
  cannotChangeClaimRef: "cannot change claimRef",
  cannotChangePort: "cannot change port",
  portNeedsAllocatedPhase: "port can only be set when also setting the phase to Allocated",
} as const;

/** Messages of the pod mutating webhook, each on the field it names. */
export const POD_MESSAGE = {
  annotationNeedsPortName: "Annotation name must contain the port name",
  annotationNeedsClaimName: "Annotation value must contain the claim name",
  portNameRequired: "Port name must be set",
  hostPortsForbidden: "host ports cannot be set",
  claimNotBound: "hostPortClaim is not bound to a host port yet",
  claimDeleting: "hostPortClaim is deleting",
  hostPortNotAllocated: "hostport is not allocated a port yet",
} as const;

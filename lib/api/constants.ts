/**
 * The exact strings of the `hostport.rmb938.com/v1alpha1` API: group, version, kinds, names,
 * annotation prefixes, phases, condition types and condition reasons; the names derived from
 * other names (the dynamic HostPort of a claim, the pod annotation keys); and the original
 * operator's user-facing messages, reused by the controllers, the webhooks and the CRD validation
 * rules.
 *
 * The strings shared with the original Go operator are kept byte for byte, so objects created by
 * it keep working and users and scripts see the same text as before (lower-case starts included,
 * which is why some messages do not follow this project's sentence-case rule).
 *
 * @module
 */

/** API group of the three kinds. */
export const GROUP = "hostport.rmb938.com";
/** The only API version, served and stored. */
export const VERSION = "v1alpha1";
/** `apiVersion` of every object of the three kinds. */
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

/** List kind names (`<Kind>List`). */
export const LIST_KIND = {
  HostPortClass: "HostPortClassList",
  HostPortClaim: "HostPortClaimList",
  HostPort: "HostPortList",
  HostPortClaimTemplate: "HostPortClaimTemplateList",
} as const;

/** Resource plurals, as used in API paths (`/apis/hostport.rmb938.com/v1alpha1/<plural>`). */
export const PLURAL = {
  HostPortClass: "hostportclasses",
  HostPortClaim: "hostportclaims",
  HostPort: "hostports",
  HostPortClaimTemplate: "hostportclaimtemplates",
} as const;

/** Resource singulars, as accepted by kubectl. */
export const SINGULAR = {
  HostPortClass: "hostportclass",
  HostPortClaim: "hostportclaim",
  HostPort: "hostport",
  HostPortClaimTemplate: "hostportclaimtemplate",
} as const;

/** kubectl short names. */
export const SHORT_NAME = {
  HostPortClass: "hpcl",
  HostPortClaim: "hpc",
  HostPort: "hp",
  HostPortClaimTemplate: "hpct",
} as const;

/**
 * kubectl category shared by the three kinds: `kubectl get hostport-allocator -A` lists them all.
 * It is not `hostport`: kubectl expands categories before resource names, so that would break
 * `kubectl get/describe/delete hostport <name>` (kubectl: "you must specify only one resource").
 */
export const CATEGORY = "hostport-allocator";

/**
 * Finalizer on all three kinds. It has no path segment (the API server warns about that), but
 * objects created by the original operator carry it, so it is kept for compatibility.
 */
export const FINALIZER = "hostport.rmb938.com";

/**
 * Pod phases after which a pod's containers never run again. A pod in any other phase, being
 * deleted included, can still run and so still use its claims' ports.
 */
export const TERMINAL_POD_PHASES: ReadonlySet<string> = new Set(["Succeeded", "Failed"]);

/** Pod annotation prefix naming a claim: `claim.hostport.rmb938.com/<portName>: <claim name>`. */
export const CLAIM_ANNOTATION_PREFIX = "claim.hostport.rmb938.com/";
/**
 * Pod annotation prefix written by the webhook: `port.hostport.rmb938.com/<portName>: "<port>"`.
 * For hostNetwork pods the webhook sets both `containerPort` and `hostPort` of the port to the
 * allocated port (the API requires them equal there), so the container must listen on the port
 * this annotation names.
 */
export const PORT_ANNOTATION_PREFIX = "port.hostport.rmb938.com/";

/**
 * Pod annotation prefix asking for a claim of the pod's own, made from a HostPortClaimTemplate:
 * `claim-template.hostport.rmb938.com/<portName>: <template name>`. The pod webhook creates (or
 * finds) the claim, names it in `claim.hostport.rmb938.com/<portName>` and gives the pod its port.
 */
export const CLAIM_TEMPLATE_ANNOTATION_PREFIX = "claim-template.hostport.rmb938.com/";

/**
 * Labels on claims made from a template: where they came from. `template` is the template's name,
 * `pod` the pod's name (ephemeral claims), `statefulset` and `ordinal` the StatefulSet and the
 * pod's ordinal (StatefulSet claims), `port-name` the pod's port name.
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

/**
 * Pod label the pod webhook sets on every pod it gives a port: the operator watches only pods
 * carrying it (a server-side label selector), not every pod of the cluster. Pods admitted before
 * the label existed lack it; every release still confirms with a live, unfiltered pod list.
 */
export const POD_LABEL_KEY = "hostport.rmb938.com/claims";
/** Value of {@linkcode POD_LABEL_KEY}; the operator selects on the key alone. */
export const POD_LABEL_VALUE = "true";

/** Prefix of a dynamically provisioned HostPort's name: `hpc-<claim uid>`. */
export const HOST_PORT_NAME_PREFIX = "hpc-";

/** Name of the leader-election Lease (coordination.k8s.io/v1), as in the original. */
export const LEADER_ELECTION_LEASE_NAME = "f10832af.rmb938.com";

/** Lowest port a pool may hold. */
export const MIN_PORT = 1;
/** Highest port a pool may hold. */
export const MAX_PORT = 65535;

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
 * Condition types, by kind:
 *
 * - `Bound` (HostPortClaim): True when the claim's HostPort points back at the claim and holds a
 *   port, so pods can use the claim.
 * - `Allocated` (HostPort): True when the HostPort holds a port.
 * - `OutOfPool` (HostPort): True when the held port is outside every pool of its class (the pools
 *   shrank after allocation). The port stays reserved.
 * - `Available` (HostPortClass): True when at least one port of the pools is free.
 * - `DeletionBlocked` (HostPortClass): True while a class being deleted waits for its HostPorts
 *   to go (the finalizer stays until none is left). (HostPort): True while a HostPort whose claim
 *   is gone keeps its port because a pod that can still run names the claim with that port.
 */
export const CONDITION_TYPE = {
  Bound: "Bound",
  Allocated: "Allocated",
  OutOfPool: "OutOfPool",
  Available: "Available",
  DeletionBlocked: "DeletionBlocked",
} as const;

/**
 * Condition reasons (CamelCase, valid for `metav1.Condition.reason`), with the conditions they
 * explain:
 *
 * - `Allocated`: HostPort `Allocated=True`; claim `Bound=True`.
 * - `WaitingForAllocation`: HostPort `Allocated=False` before the first attempt; claim
 *   `Bound=False` while its HostPort is being created or allocated.
 * - `PoolExhausted`: HostPort `Allocated=False` and claim `Bound=False` when no port is free;
 *   class `Available=False`.
 * - `ClassNotFound`: HostPort `Allocated=False` and claim `Bound=False` when the class is missing.
 * - `HostPortNotFound`: claim `Bound=False` when `spec.hostPortName` names no HostPort.
 * - `HostPortClaimedByOther`: claim `Bound=False` when the named HostPort's `claimRef` names
 *   another claim.
 * - `ClassMismatch`: claim `Bound=False` when the named HostPort belongs to another class.
 * - `HostPortDeleting`: claim `Bound=False` when its HostPort is being deleted.
 * - `PortOutsidePools`: HostPort `OutOfPool=True`.
 * - `InPools`: HostPort `OutOfPool=False`.
 * - `PortsAvailable`: class `Available=True`.
 * - `HostPortsExist`: class `DeletionBlocked=True` while HostPorts of the class still exist.
 * - `PodsHoldPort`: HostPort `DeletionBlocked=True` while pods that can still run hold its port.
 * - `AllocationUnavailable`: HostPort `Allocated=False` (and its claim `Bound=False`) while
 *   allocation cannot proceed (the allocation record is missing, being rebuilt, paused after a
 *   rebuild, or failing).
 * - `PortConflict`: claim `Bound=False` when its HostPort's port is also held by another
 *   HostPort (a status written by someone other than the allocator); HostPort `Allocated=False`
 *   when it shows such a port without having been allocated it.
 * - `QuotaExceeded`: claim `Bound=False` while a ResourceQuota's per-class limit holds it back
 *   (lib/quota).
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

/**
 * Returns the name of the HostPort provisioned for a claim: `hpc-<claim uid>`.
 *
 * @param claimUid the claim's `metadata.uid`
 * @returns the HostPort name
 */
export function hostPortNameForClaim(claimUid: string): string {
  return `${HOST_PORT_NAME_PREFIX}${claimUid}`;
}

/**
 * Returns the pod annotation key that names a claim for a port: `claim.hostport.rmb938.com/<portName>`.
 *
 * @param portName the container port name
 * @returns the annotation key
 */
export function claimAnnotationKey(portName: string): string {
  return `${CLAIM_ANNOTATION_PREFIX}${portName}`;
}

/**
 * Returns the pod annotation key that carries a port's allocated number:
 * `port.hostport.rmb938.com/<portName>`.
 *
 * @param portName the container port name
 * @returns the annotation key
 */
export function portAnnotationKey(portName: string): string {
  return `${PORT_ANNOTATION_PREFIX}${portName}`;
}

/**
 * Returns the port name of a claim annotation key, `""` for the bare prefix, or `undefined` when
 * the key is not a claim annotation.
 *
 * @param key a pod annotation key
 * @returns the port name after `claim.hostport.rmb938.com/`, if the key has that prefix
 */
export function portNameOfClaimAnnotation(key: string): string | undefined {
  if (!key.startsWith(CLAIM_ANNOTATION_PREFIX)) return undefined;
  return key.slice(CLAIM_ANNOTATION_PREFIX.length);
}

/** Messages about HostPortClasses, HostPortClaims and HostPorts. */
export const MESSAGE = {
  /** Allocation failed: every port of the class's pools is held. */
  noFreePorts: "no free ports to allocate",
  /** HostPortClass validation, on `spec.pools[i].end`. */
  endBeforeStart: "End must be greater or equal to start",
  /** HostPortClaim and HostPort update validation, on `spec.hostPortClassName`. */
  cannotChangeClass: "cannot change hostPortClassName",
  /** HostPortClaim update validation, on `spec.hostPortName`. */
  cannotChangeHostPortName: "cannot change hostPortName once set",
  /** HostPort update validation, on `spec.claimRef`. */
  cannotChangeClaimRef: "cannot change claimRef",
  /** HostPort update validation, on `status.port`. */
  cannotChangePort: "cannot change port",
  /** HostPort update validation, on `status.port`. */
  portNeedsAllocatedPhase: "port can only be set when also setting the phase to Allocated",
} as const;

/** Messages of the pod mutating webhook. */
export const POD_MESSAGE = {
  /** On `metadata.annotations.<key>` when the key is `claim.hostport.rmb938.com/` alone. */
  annotationNeedsPortName: "Annotation name must contain the port name",
  /** On `metadata.annotations.<key>` when the claim name is empty. */
  annotationNeedsClaimName: "Annotation value must contain the claim name",
  /** On `spec.containers[c].ports[p].name` when a pod with claims has an unnamed port. */
  portNameRequired: "Port name must be set",
  /** On `spec.containers[c].ports[p].hostPort` for a hostPort that no claim names. */
  hostPortsForbidden: "host ports cannot be set",
  /** On the claim annotation when the claim is neither Bound nor Deleting. */
  claimNotBound: "hostPortClaim is not bound to a host port yet",
  /** On the claim annotation when the claim has lost its finalizer. */
  claimDeleting: "hostPortClaim is deleting",
  /** On `<claim annotation>.hostPort` when the HostPort holds no port. */
  hostPortNotAllocated: "hostport is not allocated a port yet",
} as const;

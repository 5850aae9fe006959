/**
 * The original operator's exact user-facing messages, reused by the controllers, the webhooks
 * and the CRD validation rules so that users and scripts see the same text as before.
 *
 * They are kept verbatim (lower-case starts included) for compatibility, which is why some do not
 * follow this project's sentence-case rule.
 *
 * @module
 */

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

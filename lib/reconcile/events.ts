/**
 * Event steps and the reasons of the Events the controllers record.
 *
 * @module
 */

/** Reasons of the Events the operator records (CamelCase, as Kubernetes Events expect). */
export const EVENT_REASON = {
  /** Normal, on a HostPort: a port was allocated. */
  PortAllocated: "PortAllocated",
  /** Warning, on a HostPort: its class has no free port. */
  PoolExhausted: "PoolExhausted",
  /** Warning, on a HostPort or claim: the class does not exist. */
  ClassNotFound: "ClassNotFound",
  /** Normal, on a HostPort: its port was released when it was deleted. */
  PortReleased: "PortReleased",
  /** Warning, on a claim: the named HostPort cannot be bound (another claim, another class). */
  BindingRefused: "BindingRefused",
  /** Warning, on a claim: the named HostPort does not exist. */
  HostPortNotFound: "HostPortNotFound",
  /** Warning, on a class: deletion waits until its HostPorts are gone. */
  ClassInUse: "ClassInUse",
  /** Warning, on a HostPort: its claim is gone but a pod that can still run holds its port. */
  PortStillInUse: "PortStillInUse",
  /** Warning, on a HostPort: its port lies outside every pool of its class. */
  PortOutOfPool: "PortOutOfPool",
  /** Warning, on a HostPort: repair found its port held by another HostPort too. */
  PortDuplicated: "PortDuplicated",
  /** Normal, on a HostPort: repair reserved its port, which the record was missing. */
  PortReservationRestored: "PortReservationRestored",
  /** Warning, on a HostPort: allocation cannot proceed now (record missing, rebuilt, failing). */
  AllocationUnavailable: "AllocationUnavailable",
  /**
   * Warning, on a claim: its HostPort's port is also held by another HostPort, so it is not
   * bound; on a HostPort: its port (not written by the operator) is held by another HostPort.
   */
  PortConflict: "PortConflict",
  /**
   * Warning, on a claim: a ResourceQuota's per-class limit holds it back; on a ResourceQuota: the
   * webhook refused a claim it would exceed.
   */
  QuotaExceeded: "QuotaExceeded",
} as const;

/** A reason of {@linkcode EVENT_REASON}. */
export type EventReason = typeof EVENT_REASON[keyof typeof EVENT_REASON];

/** A step that records an Event about the reconciled object. */
export interface EventStep {
  /** Discriminant. */
  readonly type: "event";
  /** `Normal` or `Warning`. */
  readonly eventType: "Normal" | "Warning";
  /** The reason. */
  readonly reason: EventReason;
  /** A sentence for users. */
  readonly message: string;
}

/** Builds an Event step. */
export function eventStep(
  eventType: "Normal" | "Warning",
  reason: EventReason,
  message: string,
): EventStep {
  return { type: "event", eventType, reason, message };
}

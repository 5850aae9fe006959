/**
 * The shared vocabulary of every reconcile decision: the outcome asked of the runtime (kube-rs
 * `Action`), conditions, Events, the finalizer as pure edits, and equality to skip no-op writes.
 *
 * @module
 */
import { type ConditionStatus, FINALIZER } from "../api/constants.ts";
import type { Condition } from "../api/types.ts";

/** The result of one reconcile. */
export type Outcome =
  /** The object is where it should be; only the slow resync looks at it again. */
  | { readonly type: "done" }
  /** Look again after `ms` milliseconds (a timer is running out, such as a grace period). */
  | { readonly type: "requeueAfter"; readonly ms: number }
  /** Waiting for another object to change; its watch event brings the key back. */
  | { readonly type: "awaitChange"; readonly reason: string };

/** The writes (and Events) of one reconcile, in order, and when to look again. */
export interface Plan<Step> {
  readonly steps: readonly Step[];
  readonly outcome: Outcome;
}

/** The object is done; nothing is scheduled. */
export function done(): Outcome {
  return { type: "done" };
}

/** Look again after `ms` milliseconds (at least 1 ms, so a caller never spins). */
export function requeueAfter(ms: number): Outcome {
  return { type: "requeueAfter", ms: Math.max(1, Math.ceil(ms)) };
}

/** Wait for a change of another object, whose event re-queues this key; `reason` is logged. */
export function awaitChange(reason: string): Outcome {
  return { type: "awaitChange", reason };
}

/** A condition to set; the time comes from the caller. */
export interface DesiredCondition {
  readonly type: string;
  readonly status: ConditionStatus;
  /** CamelCase. */
  readonly reason: string;
  /** A sentence for users. */
  readonly message: string;
  readonly observedGeneration?: number | undefined;
}

/**
 * Returns a copy of `conditions` with each of `desired` set, in order: the transition time is kept
 * while the status is unchanged, else `nowMs` in RFC 3339 with whole seconds, as the API server
 * writes times. Other types keep their place; a new type goes last.
 */
export function setConditions(
  conditions: readonly Condition[] | undefined,
  desired: readonly DesiredCondition[],
  nowMs: number,
): Condition[] {
  const timestamp = new Date(nowMs).toISOString().replace(/\.\d{3}Z$/, "Z");
  const list = [...(conditions ?? [])];
  for (const want of desired) {
    const index = list.findIndex((condition) => condition.type === want.type);
    const current = list[index];
    const { observedGeneration, ...fields } = want;
    const next: Condition = {
      ...fields,
      lastTransitionTime: current?.status === want.status ? current.lastTransitionTime : timestamp,
      ...(observedGeneration === undefined ? {} : { observedGeneration }),
    };
    if (index === -1) list.push(next);
    else list[index] = next;
  }
  return list;
}

/** Whether a condition moved to another status or reason: the moment to record an Event. */
export function conditionChanged(
  conditions: readonly Condition[] | undefined,
  desired: DesiredCondition,
): boolean {
  const current = conditions?.find((condition) => condition.type === desired.type);
  return current === undefined || current.status !== desired.status ||
    current.reason !== desired.reason;
}

/**
 * Reasons of the Events the operator records. `PortAllocated`, `PortReleased` and
 * `PortReservationRestored` (repair reserved a held port the record was missing) are Normal; the
 * rest are Warnings, named for the problem and recorded on the object it concerns.
 */
export const EVENT_REASON = {
  PortAllocated: "PortAllocated",
  PoolExhausted: "PoolExhausted",
  ClassNotFound: "ClassNotFound",
  PortReleased: "PortReleased",
  /** The named HostPort belongs to another claim or class. */
  BindingRefused: "BindingRefused",
  HostPortNotFound: "HostPortNotFound",
  /** A class's deletion waits until its HostPorts are gone. */
  ClassInUse: "ClassInUse",
  /** A HostPort's claim is gone but a pod that can still run holds its port. */
  PortStillInUse: "PortStillInUse",
  PortOutOfPool: "PortOutOfPool",
  /** Repair found a port held by several HostPorts. */
  PortDuplicated: "PortDuplicated",
  PortReservationRestored: "PortReservationRestored",
  /** Allocation cannot proceed now (record missing, rebuilt or failing). */
  AllocationUnavailable: "AllocationUnavailable",
  /** A claim's or HostPort's port is also held by another HostPort. */
  PortConflict: "PortConflict",
  /** On a claim a per-class quota holds back, or on the ResourceQuota. */
  QuotaExceeded: "QuotaExceeded",
} as const;

/** A reason of {@linkcode EVENT_REASON}. */
export type EventReason = typeof EVENT_REASON[keyof typeof EVENT_REASON];

/** A step that records an Event about the reconciled object. */
export interface EventStep {
  readonly type: "event";
  readonly eventType: "Normal" | "Warning";
  readonly reason: EventReason;
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

/** The metadata fields the finalizer helpers read. */
interface FinalizerMeta {
  metadata: { finalizers?: string[] | undefined; deletionTimestamp?: string | undefined };
}

/** Whether the object carries the operator's finalizer. */
export function hasFinalizer(object: FinalizerMeta): boolean {
  return object.metadata.finalizers?.includes(FINALIZER) ?? false;
}

/** Whether deletion of the object was requested. */
export function isDeleting(object: FinalizerMeta): boolean {
  return object.metadata.deletionTimestamp !== undefined;
}

/** Returns a copy of `object` with the finalizer added (last), or `object` if it has it. */
export function withFinalizer<T extends FinalizerMeta>(object: T): T {
  if (hasFinalizer(object)) return object;
  const finalizers = [...(object.metadata.finalizers ?? []), FINALIZER];
  return { ...object, metadata: { ...object.metadata, finalizers } };
}

/** Returns a copy of `object` without the finalizer; other finalizers are kept. */
export function withoutFinalizer<T extends FinalizerMeta>(object: T): T {
  const finalizers = (object.metadata.finalizers ?? []).filter((name) => name !== FINALIZER);
  return { ...object, metadata: { ...object.metadata, finalizers } };
}

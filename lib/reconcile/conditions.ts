/**
 * Pure helpers over `status.conditions` (metav1.Condition semantics): at most one entry per
 * type, and `lastTransitionTime` changes only when the status does.
 *
 * @module
 */
import type { Condition, ConditionStatus } from "../api/mod.ts";

/** A condition to set; the time comes from the caller. */
export interface DesiredCondition {
  /** The condition type, for example `Bound`. */
  readonly type: string;
  /** `True`, `False` or `Unknown`. */
  readonly status: ConditionStatus;
  /** A CamelCase reason. */
  readonly reason: string;
  /** A sentence for users. */
  readonly message: string;
  /** The `metadata.generation` the condition was computed from. */
  readonly observedGeneration?: number | undefined;
}

/** Returns the condition of `type`, if present. */
export function findCondition(
  conditions: readonly Condition[] | undefined,
  type: string,
): Condition | undefined {
  return conditions?.find((condition) => condition.type === type);
}

/**
 * Returns `conditions` with `desired` set. The transition time is kept when the status is
 * unchanged, and set to `timestamp` otherwise. Other types keep their place; a new type goes
 * last.
 *
 * @param conditions the current conditions
 * @param desired the condition to set
 * @param timestamp the current time, RFC 3339 (`2026-01-02T15:04:05Z`)
 * @returns a new array; the input is not modified
 */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  desired: DesiredCondition,
  timestamp: string,
): Condition[] {
  const current = findCondition(conditions, desired.type);
  const next: Condition = {
    type: desired.type,
    status: desired.status,
    reason: desired.reason,
    message: desired.message,
    lastTransitionTime: current !== undefined && current.status === desired.status
      ? current.lastTransitionTime
      : timestamp,
    ...(desired.observedGeneration === undefined
      ? {}
      : { observedGeneration: desired.observedGeneration }),
  };
  const list = [...(conditions ?? [])];
  const index = list.findIndex((condition) => condition.type === desired.type);
  if (index === -1) list.push(next);
  else list[index] = next;
  return list;
}

/**
 * Sets several conditions in order.
 *
 * @returns a new array
 */
export function setConditions(
  conditions: readonly Condition[] | undefined,
  desired: readonly DesiredCondition[],
  timestamp: string,
): Condition[] {
  let list = [...(conditions ?? [])];
  for (const condition of desired) list = setCondition(list, condition, timestamp);
  return list;
}

/**
 * Whether a condition moved to another status or reason: the moment to record an Event, so
 * an Event marks a transition and not every reconcile.
 */
export function conditionChanged(
  conditions: readonly Condition[] | undefined,
  desired: DesiredCondition,
): boolean {
  const current = findCondition(conditions, desired.type);
  return current === undefined || current.status !== desired.status ||
    current.reason !== desired.reason;
}

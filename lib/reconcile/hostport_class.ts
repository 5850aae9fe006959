/**
 * The HostPortClass planner: finalizer, deletion protection while HostPorts of the class exist
 * (like `pvc-protection`), and the usage status, written at most once per interval.
 *
 * @module
 */
import { CONDITION_REASON, CONDITION_STATUS, CONDITION_TYPE, MESSAGE } from "../api/constants.ts";
import { type HostPortClass, type HostPortClassStatus, jsonEqual } from "../api/types.ts";
import type { ClassUsage } from "../allocator/port_registry.ts";
import {
  awaitChange,
  conditionChanged,
  type DesiredCondition,
  done,
  EVENT_REASON,
  type EventStep,
  eventStep,
  hasFinalizer,
  isDeleting,
  type Plan,
  requeueAfter,
  setConditions,
} from "./outcome.ts";

/** What the class planner reads (from the caches, unless said otherwise). */
export interface ClassInput {
  readonly hostPortClass: HostPortClass;
  readonly hostPortCount: number;
  /** Port counts of the class's pools over every held port. */
  readonly usage: ClassUsage;
  readonly nowMs: number;
  /** When this process last wrote the class's status (ms), if ever. */
  readonly lastStatusWriteMs: number | undefined;
}

/** Least time between two status writes of one class, so a burst of changes costs few writes. */
const STATUS_INTERVAL_MS = 1_000;

/** One write (or Event) of a class reconcile. */
export type ClassStep =
  | { readonly type: "addFinalizer" }
  | { readonly type: "removeFinalizer" }
  | { readonly type: "setStatus"; readonly status: HostPortClassStatus }
  | EventStep;

/** The plan of one reconcile. */
export type ClassPlan = Plan<ClassStep>;

/** Plans one reconcile of a HostPortClass. */
export function planHostPortClass(input: ClassInput): ClassPlan {
  const { hostPortClass, hostPortCount: count } = input;
  if (isDeleting(hostPortClass)) {
    if (!hasFinalizer(hostPortClass)) return { steps: [], outcome: done() };
    if (count === 0) return { steps: [{ type: "removeFinalizer" }], outcome: done() };
    const blocked: DesiredCondition = {
      type: CONDITION_TYPE.DeletionBlocked,
      status: CONDITION_STATUS.True,
      reason: CONDITION_REASON.HostPortsExist,
      message: `${count} HostPort${count === 1 ? "" : "s"} of this class still exist; ` +
        "the class is deleted once they are gone",
      observedGeneration: hostPortClass.metadata.generation,
    };
    const plan = statusPlan(input, [blocked]);
    const steps: ClassStep[] = [...plan.steps];
    // The Event goes with the write that sets the condition, so a deferred write repeats none.
    if (steps.length > 0 && conditionChanged(hostPortClass.status?.conditions, blocked)) {
      steps.push(eventStep("Warning", EVENT_REASON.ClassInUse, blocked.message));
    }
    // A deferred status write looks again sooner than the HostPorts' deletion.
    const outcome = plan.outcome.type === "requeueAfter"
      ? plan.outcome
      : awaitChange(blocked.message);
    return { steps, outcome };
  }
  const steps: ClassStep[] = hasFinalizer(hostPortClass) ? [] : [{ type: "addFinalizer" }];
  const plan = statusPlan(input, []);
  return { steps: [...steps, ...plan.steps], outcome: plan.outcome };
}

/**
 * The write of the status a class should show for its usage, plus `extra` conditions, if it
 * differs and the last write is at least {@linkcode STATUS_INTERVAL_MS} old.
 */
function statusPlan(input: ClassInput, extra: readonly DesiredCondition[]): ClassPlan {
  const { hostPortClass, usage } = input;
  const observedGeneration = hostPortClass.metadata.generation;
  const free = usage.free > 0;
  const available: DesiredCondition = {
    type: CONDITION_TYPE.Available,
    status: free ? CONDITION_STATUS.True : CONDITION_STATUS.False,
    reason: free ? CONDITION_REASON.PortsAvailable : CONDITION_REASON.PoolExhausted,
    message: free ? "At least one port of the pools is free" : MESSAGE.noFreePorts,
    observedGeneration,
  };
  const conditions = [available, ...extra];
  const status: HostPortClassStatus = {
    ...hostPortClass.status,
    capacity: usage.capacity,
    allocated: usage.allocated,
    free: usage.free,
    pools: usage.pools.map((pool) => ({ ...pool })),
    conditions: setConditions(hostPortClass.status?.conditions, conditions, input.nowMs),
    ...(observedGeneration === undefined ? {} : { observedGeneration }),
  };
  if (jsonEqual(status, hostPortClass.status ?? {})) return { steps: [], outcome: done() };
  const since = input.nowMs - (input.lastStatusWriteMs ?? -Infinity);
  if (since < STATUS_INTERVAL_MS) {
    return { steps: [], outcome: requeueAfter(STATUS_INTERVAL_MS - since) };
  }
  return { steps: [{ type: "setStatus", status }], outcome: done() };
}

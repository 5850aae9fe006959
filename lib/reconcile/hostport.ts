/**
 * The HostPort planner: finalizer, orphan collection, deletion protection, and when to allocate
 * (docs/architecture.md). The reservation is I/O, made while gathering when {@linkcode needsPort}
 * says so; its result is an input of the one plan.
 *
 * @module
 */
import {
  CONDITION_REASON,
  CONDITION_STATUS,
  CONDITION_TYPE,
  HOST_PORT_PHASE,
  hostPortNameForClaim,
  MESSAGE,
} from "../api/constants.ts";
import {
  claimRefMatches,
  hasClaimRef,
  type HostPort,
  type HostPortClaim,
  type HostPortClass,
  type HostPortStatus,
  jsonEqual,
  type ObjectReference,
} from "../api/types.ts";
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
  type Outcome,
  type Plan,
  requeueAfter,
  setConditions,
} from "./outcome.ts";
import type { PodSummary } from "./pods.ts";
import { inRanges } from "../allocator/port_bitmap.ts";

/** What the HostPort planner reads (from the caches, unless said otherwise). */
export interface HostPortInput {
  readonly hostPort: HostPort;
  readonly hostPortClass: HostPortClass | undefined;
  /** The claim its `claimRef` names, looked up by namespace and name. */
  readonly claim: HostPortClaim | undefined;
  readonly nowMs: number;
  /** Names of every HostPort holding this HostPort's port, itself included. */
  readonly portHolders?: readonly string[];
  readonly release: ReleaseFacts;
  /** The reservation made while gathering; required when {@linkcode needsPort} is true. */
  readonly allocation?: AllocationResult;
}

/**
 * When the port of a deleted HostPort whose claim is gone may be released: no pod that can still
 * run holds it, and a claim this process did not finalize may still have pods in admission, so
 * the deletion window runs from when its absence was first seen.
 */
export interface ReleaseFacts {
  /** Cached pods that hold the port (`podsHoldingPort`). */
  readonly holdingPods: readonly PodSummary[];
  /** Whether this process removed the claim's finalizer itself, after its window and pod check. */
  readonly claimFinalizedHere: boolean;
  readonly claimGoneSeenMs: number;
  readonly deletionWindowMs: number;
}

/** One write (or Event) of a HostPort reconcile, executed in order. */
export type HostPortStep =
  | { readonly type: "addFinalizer" }
  /**
   * Remove the finalizer, then release `releasePort` (rule 3: only the winning removal releases).
   * With `podsOf` (the gone claim), a live pod list of its namespace first confirms no pod that
   * can still run holds the port (the cache may miss a pod stored a moment ago).
   */
  | {
    readonly type: "removeFinalizer";
    readonly releasePort: number | undefined;
    readonly podsOf: ObjectReference | undefined;
  }
  /** Delete the HostPort: its claim is gone. Confirm with a live read of the claim first. */
  | { readonly type: "deleteOrphan" }
  /** Replace the status; with `allocates`, it writes the port reserved while gathering (rule 2). */
  | { readonly type: "setStatus"; readonly status: HostPortStatus; readonly allocates?: number }
  | EventStep;

/** The plan of one reconcile. */
export type HostPortPlan = Plan<HostPortStep>;

/**
 * The reservation made while gathering: a port, no free port, or `unavailable` with why and
 * when to look again (`retryInMs`; 0 or absent: {@linkcode UNAVAILABLE_POLL_MS}).
 */
export type AllocationResult =
  | { readonly ok: true; readonly port: number }
  | { readonly ok: false; readonly unavailable?: string; readonly retryInMs?: number };

/** How often a HostPort looks again while allocation is unavailable (record being rebuilt). */
const UNAVAILABLE_POLL_MS = 1_000;

/**
 * Whether a reconcile of `hostPort` must reserve a port while gathering: it is live, holds no
 * port, its class exists, and it is not a dynamic HostPort whose claim is gone (collected).
 */
export function needsPort(
  hostPort: HostPort,
  hostPortClass: HostPortClass | undefined,
  claim: HostPortClaim | undefined,
): hostPortClass is HostPortClass {
  return !isDeleting(hostPort) && (hostPort.status?.port ?? 0) <= 0 &&
    hostPortClass !== undefined && !(isDynamicHostPort(hostPort) && isClaimGone(hostPort, claim));
}

/** Plans one reconcile of a HostPort. */
export function planHostPort(input: HostPortInput): HostPortPlan {
  return isDeleting(input.hostPort) ? planDeletion(input) : planLive(input);
}

function planDeletion(input: HostPortInput): HostPortPlan {
  const { hostPort, claim, release, nowMs } = input;
  if (!hasFinalizer(hostPort)) return { steps: [], outcome: done() };
  const port = hostPort.status?.port ?? 0;
  const ref = hostPort.spec.claimRef;
  const deleting = { phase: HOST_PORT_PHASE.Deleting };
  const waiting = (outcome: Outcome) => ({
    steps: statusSteps(hostPort, deleting, [], nowMs),
    outcome,
  });
  // Without a claim no pod can use it (the webhook admits pods by claim).
  if (!hasClaimRef(ref)) return finalize(port, undefined);
  if (!isClaimGone(hostPort, claim)) return waiting(awaitChange("its HostPortClaim still exists"));
  if (port <= 0) return finalize(port, undefined);
  // The claim is gone: the port is released only once no pod that can still run holds it.
  if (release.holdingPods.length > 0) {
    const names = release.holdingPods.map(({ metadata: m }) => `${m.namespace}/${m.name}`).sort();
    const shown = names.length > 3 ? [...names.slice(0, 3), `${names.length - 3} more`] : names;
    const blocked: DesiredCondition = {
      type: CONDITION_TYPE.DeletionBlocked,
      status: CONDITION_STATUS.True,
      reason: CONDITION_REASON.PodsHoldPort,
      message: `Port ${port} stays held: HostPortClaim "${ref.namespace}/${ref.name}" is gone ` +
        `but pod ${shown.join(", ")} can still run with it`,
      observedGeneration: hostPort.metadata.generation,
    };
    const event = eventStep("Warning", EVENT_REASON.PortStillInUse, blocked.message);
    const steps = statusSteps(hostPort, deleting, [{ condition: blocked, event }], nowMs);
    return { steps, outcome: awaitChange(blocked.message) };
  }
  // Removed by someone else (or before a restart): a pod admitted before may still be stored.
  const left = release.claimFinalizedHere
    ? 0
    : release.claimGoneSeenMs + release.deletionWindowMs - nowMs;
  return left > 0 ? waiting(requeueAfter(left)) : finalize(port, ref);
}

/** Removes the finalizer and releases `port`; with `podsOf`, after a live pod list agrees. */
function finalize(port: number, podsOf: ObjectReference | undefined): HostPortPlan {
  const releasePort = port > 0 ? port : undefined;
  return { steps: [{ type: "removeFinalizer", releasePort, podsOf }], outcome: done() };
}

function planLive(input: HostPortInput): HostPortPlan {
  const { hostPort, hostPortClass, nowMs } = input;
  const steps: HostPortStep[] = [];
  if (!hasFinalizer(hostPort)) steps.push({ type: "addFinalizer" });
  if (isDynamicHostPort(hostPort) && isClaimGone(hostPort, input.claim)) {
    steps.push({ type: "deleteOrphan" });
    return { steps, outcome: done() };
  }
  const port = hostPort.status?.port ?? 0;
  if (port > 0) {
    const conflict = portConflict(input, port);
    if (conflict !== undefined) {
      const event = eventStep("Warning", EVENT_REASON.PortConflict, conflict.message);
      steps.push(...statusSteps(hostPort, {}, [{ condition: conflict, event }], nowMs));
      return { steps, outcome: awaitChange(conflict.message) };
    }
    steps.push(...allocatedSteps(hostPort, hostPortClass, port, nowMs));
    return { steps, outcome: done() };
  }
  const pending = (reason: PendingReason, message: string, outcome: Outcome) => {
    steps.push(...pendingSteps(hostPort, reason, message, nowMs));
    return { steps, outcome };
  };
  if (hostPortClass === undefined) {
    const message = `HostPortClass "${hostPort.spec.hostPortClassName}" does not exist`;
    return pending("ClassNotFound", message, awaitChange("its HostPortClass to be created"));
  }
  const result = input.allocation;
  if (result === undefined) {
    throw new TypeError("Cannot plan a HostPort that needs a port without a reservation result");
  }
  if (result.ok) {
    steps.push(...allocatedSteps(hostPort, hostPortClass, result.port, nowMs));
    return { steps, outcome: done() };
  }
  if (result.unavailable === undefined) {
    const outcome = awaitChange("a port of the class to be released");
    return pending("PoolExhausted", MESSAGE.noFreePorts, outcome);
  }
  const outcome = requeueAfter(result.retryInMs || UNAVAILABLE_POLL_MS);
  return pending("AllocationUnavailable", result.unavailable, outcome);
}

/**
 * A port another HostPort holds too is never adopted as `Allocated=True` unless this HostPort
 * already showed it allocated (then it is the original holder: never take back a running port).
 * It stays as written, `Allocated=False` / `PortConflict` naming the other holders.
 */
function portConflict(input: HostPortInput, port: number): DesiredCondition | undefined {
  const { hostPort } = input;
  const name = hostPort.metadata.name ?? "";
  const others = (input.portHolders ?? []).filter((holder) => holder !== name);
  if (others.length === 0) return undefined;
  const allocated = hostPort.status?.conditions?.find((c) => c.type === CONDITION_TYPE.Allocated);
  if (allocated?.status === CONDITION_STATUS.True) return undefined;
  return {
    type: CONDITION_TYPE.Allocated,
    status: CONDITION_STATUS.False,
    reason: CONDITION_REASON.PortConflict,
    message: `Port ${port} is also held by HostPort ${others.map((o) => `"${o}"`).join(", ")}; ` +
      "it was not allocated by the operator",
    observedGeneration: hostPort.metadata.generation,
  };
}

type PendingReason = "ClassNotFound" | "PoolExhausted" | "AllocationUnavailable";

/** `Pending` with port 0 and `Allocated=False` for `reason`, and its Warning Event. */
function pendingSteps(
  hostPort: HostPort,
  reason: PendingReason,
  message: string,
  nowMs: number,
): HostPortStep[] {
  const condition: DesiredCondition = {
    type: CONDITION_TYPE.Allocated,
    status: CONDITION_STATUS.False,
    reason,
    message,
    observedGeneration: hostPort.metadata.generation,
  };
  const eventMessage = reason === CONDITION_REASON.PoolExhausted
    ? `HostPortClass "${hostPort.spec.hostPortClassName}" has ${MESSAGE.noFreePorts}`
    : message;
  const event = eventStep("Warning", EVENT_REASON[reason], eventMessage);
  const fields = { phase: HOST_PORT_PHASE.Pending, port: 0 };
  return statusSteps(hostPort, fields, [{ condition, event }], nowMs);
}

/**
 * The status with `fields` and the `changes`' conditions set, written if it differs, then the
 * Event of each condition that moved to another status or reason.
 */
function statusSteps(
  hostPort: HostPort,
  fields: Partial<HostPortStatus>,
  changes: readonly { condition: DesiredCondition; event?: EventStep | undefined }[],
  nowMs: number,
): HostPortStep[] {
  const conditions = hostPort.status?.conditions;
  const desired = changes.map(({ condition }) => condition);
  const status: HostPortStatus = {
    ...hostPort.status,
    ...fields,
    ...(changes.length === 0 ? {} : { conditions: setConditions(conditions, desired, nowMs) }),
  };
  const steps: HostPortStep[] = [];
  if (!jsonEqual(status, hostPort.status ?? {})) steps.push({ type: "setStatus", status });
  for (const { condition, event } of changes) {
    if (event !== undefined && conditionChanged(conditions, condition)) steps.push(event);
  }
  return steps;
}

function allocatedSteps(
  hostPort: HostPort,
  hostPortClass: HostPortClass | undefined,
  port: number,
  nowMs: number,
): HostPortStep[] {
  const generation = hostPort.metadata.generation;
  const allocated: DesiredCondition = {
    type: CONDITION_TYPE.Allocated,
    status: CONDITION_STATUS.True,
    reason: CONDITION_REASON.Allocated,
    message: `Port ${port} allocated from HostPortClass "${hostPort.spec.hostPortClassName}"`,
    observedGeneration: generation,
  };
  const outOfPool = hostPortClass && outOfPoolCondition(hostPortClass, port, generation);
  const outOfPoolEvent = outOfPool?.status === CONDITION_STATUS.True
    ? eventStep("Warning", EVENT_REASON.PortOutOfPool, outOfPool.message)
    : undefined;
  const steps = statusSteps(hostPort, { phase: HOST_PORT_PHASE.Allocated, port }, [
    { condition: allocated },
    ...(outOfPool === undefined ? [] : [{ condition: outOfPool, event: outOfPoolEvent }]),
  ], nowMs);
  if ((hostPort.status?.port ?? 0) > 0) return steps;
  // A new port: its write carries the reservation, and is announced.
  const announced = eventStep("Normal", EVENT_REASON.PortAllocated, allocated.message);
  return steps.flatMap((step): HostPortStep[] =>
    step.type === "setStatus" ? [{ ...step, allocates: port }, announced] : [step]
  );
}

function outOfPoolCondition(
  hostPortClass: HostPortClass,
  port: number,
  observedGeneration: number | undefined,
): DesiredCondition {
  const inPools = inRanges(hostPortClass.spec.pools, port);
  const className = hostPortClass.metadata.name ?? "";
  return {
    type: CONDITION_TYPE.OutOfPool,
    status: inPools ? CONDITION_STATUS.False : CONDITION_STATUS.True,
    reason: inPools ? CONDITION_REASON.InPools : CONDITION_REASON.PortOutsidePools,
    message: inPools
      ? `Port ${port} lies in the pools of HostPortClass "${className}"`
      : `Port ${port} lies outside every pool of HostPortClass "${className}"; ` +
        "it stays held until the HostPort is deleted",
    observedGeneration,
  };
}

/**
 * Whether the HostPort was provisioned for its `claimRef`'s claim (`hpc-<claim uid>`); only such
 * HostPorts are deleted when their claim is gone, hand-made ones are kept.
 */
export function isDynamicHostPort(hostPort: HostPort): boolean {
  const uid = hostPort.spec.claimRef?.uid;
  return uid !== undefined && uid !== "" && hostPort.metadata.name === hostPortNameForClaim(uid);
}

/** Whether the claim a HostPort's `claimRef` names is gone: absent, or recreated (other uid). */
export function isClaimGone(hostPort: HostPort, claim: HostPortClaim | undefined): boolean {
  if (!hasClaimRef(hostPort.spec.claimRef)) return false;
  return claim === undefined || !claimRefMatches(hostPort.spec.claimRef, claim);
}

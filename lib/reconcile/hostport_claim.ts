/**
 * The HostPortClaim planner (docs/architecture.md, "Claim lifecycle", "Binding rules"): create
 * `hpc-<uid>` and set `spec.hostPortName` in one reconcile, write `Bound` once the HostPort holds
 * a port, and `Pending` once unbound for `pendingStatusDelayMs`.
 *
 * @module
 */
import {
  API_VERSION,
  CLAIM_PHASE,
  CONDITION_REASON,
  CONDITION_STATUS,
  CONDITION_TYPE,
  FINALIZER,
  hostPortNameForClaim,
  KIND,
} from "../api/constants.ts";
import {
  claimRefMatches,
  hasClaimRef,
  type HostPort,
  type HostPortClaim,
  type HostPortClaimStatus,
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
  requeueAfter,
  setConditions,
  withFinalizer,
} from "./outcome.ts";
import { type QuotaExceeded, quotaExceededMessage } from "../quota/claim_quota.ts";

/** Timings of the claim lifecycle. */
export interface ClaimTimings {
  /**
   * How long after first seeing a deletion the finalizer may go, so pods admitted before it are
   * stored (or failed) first; it must exceed the API server's request timeout.
   */
  readonly deletionGraceMs: number;
  /** How long an unbound claim without a phase may wait before `Pending` is written. */
  readonly pendingStatusDelayMs: number;
}

/** What the claim planner reads (from the caches, unless said otherwise). */
export interface ClaimInput {
  readonly claim: HostPortClaim;
  /** The HostPort `spec.hostPortName` names, if set and cached. */
  readonly hostPort: HostPort | undefined;
  readonly classExists: boolean;
  /** Names of every HostPort holding the HostPort's port, itself included. */
  readonly portHolders?: readonly string[];
  /** How many cached pods name the claim and can still run. */
  readonly blockingPods: number;
  /** The current time, ms since the epoch. */
  readonly nowMs: number;
  /** The current time, RFC 3339, for condition transitions. */
  readonly timestamp: string;
  /** When the controller first reconciled this claim (ms). */
  readonly firstSeenMs: number;
  /** When the controller first saw the deletion (ms), if the claim is being deleted. */
  readonly deletionSeenMs: number | undefined;
  readonly timings: ClaimTimings;
  /** The quota holding the claim back: it then neither creates nor binds a HostPort. */
  readonly quotaExceeded?: QuotaExceeded | undefined;
}

/** One write (or Event) of a claim reconcile, executed in order; a failed write stops the rest. */
export type ClaimStep =
  /** Create the claim's dynamic HostPort; `AlreadyExists` counts as success. */
  | { readonly type: "createHostPort"; readonly hostPort: HostPort }
  /** Update the claim (`spec.hostPortName`, finalizer) with its resourceVersion. */
  | { readonly type: "updateClaim"; readonly claim: HostPortClaim }
  /** Claim a free HostPort: update it with `claimRef` set, with its resourceVersion. */
  | { readonly type: "bindHostPort"; readonly hostPort: HostPort }
  /** Replace the claim's status. */
  | { readonly type: "setStatus"; readonly status: HostPortClaimStatus }
  /**
   * Remove the finalizer, but only if a live pod list confirms that no pod that can still run
   * names the claim (the cache may miss a pod admitted a moment ago).
   */
  | { readonly type: "removeFinalizer" }
  | EventStep;

/** The writes of one reconcile, in order, and when to look again. */
export interface ClaimPlan {
  readonly steps: readonly ClaimStep[];
  readonly outcome: Outcome;
}

/** Plans one reconcile of a HostPortClaim. */
export function planHostPortClaim(input: ClaimInput): ClaimPlan {
  if (isDeleting(input.claim)) return planDeletion(input);
  const named = (input.claim.spec.hostPortName ?? "") !== "";
  if (input.quotaExceeded === undefined && !named) return planProvisioning(input.claim);
  return planBinding(input);
}

/** The HostPort provisioned for a claim: `hpc-<uid>`, bound to it, with the finalizer. */
function dynamicHostPortFor(claim: HostPortClaim): HostPort {
  return {
    apiVersion: API_VERSION,
    kind: KIND.HostPort,
    metadata: { name: hostPortNameForClaim(claim.metadata.uid ?? ""), finalizers: [FINALIZER] },
    spec: { claimRef: claimRefFor(claim), hostPortClassName: claim.spec.hostPortClassName },
  };
}

function planDeletion(input: ClaimInput): ClaimPlan {
  const { claim } = input;
  if (!hasFinalizer(claim)) return { steps: [], outcome: done() };
  const steps: ClaimStep[] = [];
  if (claim.status?.phase !== CLAIM_PHASE.Deleting) {
    steps.push({ type: "setStatus", status: { ...claim.status, phase: CLAIM_PHASE.Deleting } });
  }
  if (input.blockingPods > 0) {
    return { steps, outcome: awaitChange(`${input.blockingPods} pod(s) still use the claim`) };
  }
  const elapsed = input.nowMs - (input.deletionSeenMs ?? input.nowMs);
  if (elapsed < input.timings.deletionGraceMs) {
    return { steps, outcome: requeueAfter(input.timings.deletionGraceMs - elapsed) };
  }
  steps.push({ type: "removeFinalizer" });
  return { steps, outcome: done() };
}

function planProvisioning(claim: HostPortClaim): ClaimPlan {
  const hostPort = dynamicHostPortFor(claim);
  const updated = withFinalizer({
    ...claim,
    spec: { ...claim.spec, hostPortName: hostPort.metadata.name },
  });
  return {
    steps: [{ type: "createHostPort", hostPort }, { type: "updateClaim", claim: updated }],
    outcome: awaitChange("the HostPort to be allocated a port"),
  };
}

function planBinding(input: ClaimInput): ClaimPlan {
  const { claim } = input;
  const steps: ClaimStep[] = [];
  if (!hasFinalizer(claim)) steps.push({ type: "updateClaim", claim: withFinalizer(claim) });
  if (input.quotaExceeded !== undefined) {
    // Held back: no HostPort is created or bound until usage drops.
    const message = quotaExceededMessage(input.quotaExceeded);
    return statusSteps(input, waiting(CONDITION_REASON.QuotaExceeded, message), steps);
  }
  let decision = decideBinding(input);
  if (decision.kind === "create") {
    steps.push({ type: "createHostPort", hostPort: dynamicHostPortFor(claim) });
    decision = decideBinding({ ...input, hostPort: dynamicHostPortFor(claim) });
  } else if (decision.kind === "bind" && input.hostPort !== undefined) {
    const bound = {
      ...input.hostPort,
      spec: { ...input.hostPort.spec, claimRef: claimRefFor(claim) },
    };
    steps.push({ type: "bindHostPort", hostPort: bound });
    decision = decideBinding({ ...input, hostPort: bound });
  }
  return statusSteps(input, decision, steps);
}

function statusSteps(input: ClaimInput, decision: BindingDecision, steps: ClaimStep[]): ClaimPlan {
  const { claim } = input;
  const condition = boundCondition(claim, decision);
  const conditions = setConditions(claim.status?.conditions, [condition], input.timestamp);
  const desired = desiredStatus(claim, decision, conditions);
  const waitingQuietly = decision.kind === "waiting" &&
    decision.reason === CONDITION_REASON.WaitingForAllocation &&
    (claim.status?.phase ?? "") === "";
  if (waitingQuietly) {
    const left = input.firstSeenMs + input.timings.pendingStatusDelayMs - input.nowMs;
    if (left > 0) return { steps, outcome: requeueAfter(left) };
  }
  if (!jsonEqual(desired, claim.status ?? {})) steps.push({ type: "setStatus", status: desired });
  const event = bindingEvent(claim, decision, condition);
  if (event !== undefined) steps.push(event);
  const outcome = decision.kind === "bound" ? done() : awaitChange(condition.message);
  return { steps, outcome };
}

function boundCondition(claim: HostPortClaim, decision: BindingDecision): DesiredCondition {
  const { reason, message } = decision.kind === "bound"
    ? {
      reason: CONDITION_REASON.Allocated,
      message: `Bound to HostPort "${claim.spec.hostPortName}" with port ${decision.port}`,
    }
    : decision.kind === "waiting" || decision.kind === "refused"
    ? decision
    : { reason: CONDITION_REASON.WaitingForAllocation, message: "Waiting for the HostPort" };
  return {
    type: CONDITION_TYPE.Bound,
    status: decision.kind === "bound" ? CONDITION_STATUS.True : CONDITION_STATUS.False,
    reason,
    message,
    observedGeneration: claim.metadata.generation,
  };
}

function desiredStatus(
  claim: HostPortClaim,
  decision: BindingDecision,
  conditions: HostPortClaimStatus["conditions"],
): HostPortClaimStatus {
  const { port: _port, phase: _phase, conditions: _c, ...rest } = claim.status ?? {};
  if (decision.kind === "bound") {
    return { ...rest, phase: CLAIM_PHASE.Bound, port: decision.port, conditions };
  }
  // Once Bound, a claim stays Bound (pods may run with its port); the condition says what is wrong.
  const wasBound = claim.status?.phase === CLAIM_PHASE.Bound;
  const keepPort = wasBound && decision.kind === "waiting" &&
    decision.reason === CONDITION_REASON.HostPortDeleting && (claim.status?.port ?? 0) > 0;
  return {
    ...rest,
    phase: wasBound ? CLAIM_PHASE.Bound : CLAIM_PHASE.Pending,
    ...(keepPort ? { port: claim.status?.port } : {}),
    conditions,
  };
}

function bindingEvent(
  claim: HostPortClaim,
  decision: BindingDecision,
  condition: DesiredCondition,
): EventStep | undefined {
  if (!conditionChanged(claim.status?.conditions, condition)) return undefined;
  if (decision.kind === "refused") {
    const reason = decision.reason === CONDITION_REASON.PortConflict
      ? EVENT_REASON.PortConflict
      : EVENT_REASON.BindingRefused;
    return eventStep("Warning", reason, condition.message);
  }
  const { reason } = condition;
  if (reason === CONDITION_REASON.HostPortNotFound || reason === CONDITION_REASON.QuotaExceeded) {
    return eventStep("Warning", reason, condition.message);
  }
  return undefined;
}

/** How a claim relates to the HostPort it names. */
type BindingDecision =
  /** The HostPort names this claim and holds a port. */
  | { readonly kind: "bound"; readonly port: number }
  /** The HostPort is free: claim it by setting `claimRef` (CAS on its resourceVersion). */
  | { readonly kind: "bind" }
  /** The claim's own dynamic HostPort is missing: create it. */
  | { readonly kind: "create" }
  /** Not usable yet, for a reason that may pass by itself. */
  | { readonly kind: "waiting"; readonly reason: string; readonly message: string }
  /** Refused: the HostPort belongs to another claim or class; only the user can fix it. */
  | { readonly kind: "refused"; readonly reason: string; readonly message: string };

/** The `claimRef` a HostPort gets when bound to `claim`. */
function claimRefFor(claim: HostPortClaim): ObjectReference {
  return {
    apiVersion: API_VERSION,
    kind: KIND.HostPortClaim,
    namespace: claim.metadata.namespace,
    name: claim.metadata.name,
    uid: claim.metadata.uid,
  };
}

/** Decides how `input.claim` (with `spec.hostPortName` set) relates to the HostPort it names. */
function decideBinding(input: ClaimInput): BindingDecision {
  const { claim, hostPort } = input;
  const name = claim.spec.hostPortName ?? "";
  if (hostPort === undefined) {
    if (claim.metadata.uid !== undefined && name === hostPortNameForClaim(claim.metadata.uid)) {
      return { kind: "create" };
    }
    return waiting(CONDITION_REASON.HostPortNotFound, `HostPort "${name}" does not exist`);
  }
  const ref = hostPort.spec.claimRef;
  if (hasClaimRef(ref) && !claimRefMatches(ref, claim)) {
    return refused(
      CONDITION_REASON.HostPortClaimedByOther,
      `HostPort "${name}" is bound to HostPortClaim "${ref.namespace}/${ref.name}"`,
    );
  }
  if (hostPort.spec.hostPortClassName !== claim.spec.hostPortClassName) {
    return refused(
      CONDITION_REASON.ClassMismatch,
      `HostPort "${name}" belongs to HostPortClass "${hostPort.spec.hostPortClassName}", ` +
        `not "${claim.spec.hostPortClassName}"`,
    );
  }
  if (hostPort.metadata.deletionTimestamp !== undefined) {
    return waiting(CONDITION_REASON.HostPortDeleting, `HostPort "${name}" is being deleted`);
  }
  if (!hasClaimRef(ref)) return { kind: "bind" };
  const port = hostPort.status?.port ?? 0;
  if (port > 0) return portConflict(input, name, port) ?? { kind: "bound", port };
  return waitingForPort(name, hostPort, input.classExists, claim.spec.hostPortClassName);
}

/** Refuses binding to a port another HostPort also holds, unless already Bound with it. */
function portConflict(input: ClaimInput, name: string, port: number): BindingDecision | undefined {
  const others = (input.portHolders ?? []).filter((holder) => holder !== name);
  if (others.length === 0) return undefined;
  const status = input.claim.status;
  if (status?.phase === CLAIM_PHASE.Bound && status.port === port) return undefined;
  return refused(
    CONDITION_REASON.PortConflict,
    `Port ${port} of HostPort "${name}" is also held by HostPort ` +
      `${others.map((other) => `"${other}"`).join(", ")}`,
  );
}

function waitingForPort(
  name: string,
  hostPort: HostPort,
  classExists: boolean,
  className: string,
): BindingDecision {
  if (!classExists) {
    return waiting(CONDITION_REASON.ClassNotFound, `HostPortClass "${className}" does not exist`);
  }
  const allocated = hostPort.status?.conditions?.find((c) => c.type === CONDITION_TYPE.Allocated);
  if (allocated?.reason === CONDITION_REASON.PoolExhausted) {
    return waiting(
      CONDITION_REASON.PoolExhausted,
      `HostPortClass "${className}" has no free port for HostPort "${name}"`,
    );
  }
  if (allocated?.reason === CONDITION_REASON.AllocationUnavailable) {
    return waiting(
      CONDITION_REASON.AllocationUnavailable,
      `HostPort "${name}" waits for allocation: ${allocated.message}`,
    );
  }
  return waiting(
    CONDITION_REASON.WaitingForAllocation,
    `Waiting for HostPort "${name}" to be allocated a port`,
  );
}

function waiting(reason: string, message: string): BindingDecision {
  return { kind: "waiting", reason, message };
}

function refused(reason: string, message: string): BindingDecision {
  return { kind: "refused", reason, message };
}

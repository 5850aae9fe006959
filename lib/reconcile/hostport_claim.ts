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
  type EventReason,
  type EventStep,
  eventStep,
  hasFinalizer,
  isDeleting,
  type Plan,
  requeueAfter,
  setConditions,
  withFinalizer,
} from "./outcome.ts";
import { type QuotaExceeded, quotaExceededMessage } from "../quota/claim_quota.ts";

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
  readonly nowMs: number;
  /** When the controller first reconciled this claim (ms). */
  readonly firstSeenMs: number;
  /** When the controller first saw the deletion (ms), if the claim is being deleted. */
  readonly deletionSeenMs: number | undefined;
  /** The deletion window: the finalizer waits this long after the deletion was first seen. */
  readonly deletionGraceMs: number;
  /** How long an unbound claim without a phase may wait before `Pending` is written. */
  readonly pendingStatusDelayMs: number;
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
  | { readonly type: "setStatus"; readonly status: HostPortClaimStatus }
  /**
   * Remove the finalizer, but only if a live pod list confirms that no pod that can still run
   * names the claim (the cache may miss a pod admitted a moment ago).
   */
  | { readonly type: "removeFinalizer" }
  | EventStep;

/** The plan of one reconcile. */
export type ClaimPlan = Plan<ClaimStep>;

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
  if (elapsed < input.deletionGraceMs) {
    return { steps, outcome: requeueAfter(input.deletionGraceMs - elapsed) };
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
    return statusPlan(input, { reason: CONDITION_REASON.QuotaExceeded, message }, steps);
  }
  const provision = provisionStep(claim, input.hostPort);
  if (provision !== undefined) steps.push(provision);
  const hostPort = provision?.hostPort ?? input.hostPort;
  return statusPlan(input, decideBinding({ ...input, hostPort }), steps);
}

/**
 * The write that gives the claim its HostPort, if one does: create its own dynamic HostPort when
 * missing, or claim a free HostPort of its class (CAS on the HostPort's resourceVersion).
 */
function provisionStep(
  claim: HostPortClaim,
  hostPort: HostPort | undefined,
): Extract<ClaimStep, { hostPort: HostPort }> | undefined {
  const uid = claim.metadata.uid;
  if (hostPort === undefined) {
    const own = uid !== undefined && claim.spec.hostPortName === hostPortNameForClaim(uid);
    return own ? { type: "createHostPort", hostPort: dynamicHostPortFor(claim) } : undefined;
  }
  const free = !hasClaimRef(hostPort.spec.claimRef) && !isDeleting(hostPort) &&
    hostPort.spec.hostPortClassName === claim.spec.hostPortClassName;
  if (!free) return undefined;
  const spec = { ...hostPort.spec, claimRef: claimRefFor(claim) };
  return { type: "bindHostPort", hostPort: { ...hostPort, spec } };
}

/** How a claim relates to the HostPort it names: bound with `port`, or why it is not. */
interface Binding {
  readonly reason: string;
  readonly message: string;
  readonly port?: number;
}

/**
 * The Warning Event of each reason a claim is refused or waits on something only a user fixes,
 * recorded when its `Bound` condition moves to it.
 */
const BINDING_EVENTS: Readonly<Record<string, EventReason>> = {
  [CONDITION_REASON.HostPortClaimedByOther]: EVENT_REASON.BindingRefused,
  [CONDITION_REASON.ClassMismatch]: EVENT_REASON.BindingRefused,
  [CONDITION_REASON.PortConflict]: EVENT_REASON.PortConflict,
  [CONDITION_REASON.HostPortNotFound]: EVENT_REASON.HostPortNotFound,
  [CONDITION_REASON.QuotaExceeded]: EVENT_REASON.QuotaExceeded,
};

function statusPlan(input: ClaimInput, binding: Binding, steps: ClaimStep[]): ClaimPlan {
  const { claim } = input;
  const status = claim.status;
  const bound = binding.port !== undefined;
  const condition: DesiredCondition = {
    type: CONDITION_TYPE.Bound,
    status: bound ? CONDITION_STATUS.True : CONDITION_STATUS.False,
    reason: binding.reason,
    message: binding.message,
    observedGeneration: claim.metadata.generation,
  };
  if (binding.reason === CONDITION_REASON.WaitingForAllocation && !status?.phase) {
    const left = input.firstSeenMs + input.pendingStatusDelayMs - input.nowMs;
    if (left > 0) return { steps, outcome: requeueAfter(left) };
  }
  // Once Bound, a claim stays Bound (pods may run with its port); the condition says what is
  // wrong, and while its HostPort is being deleted it still shows the port.
  const wasBound = status?.phase === CLAIM_PHASE.Bound;
  const keepsPort = wasBound && binding.reason === CONDITION_REASON.HostPortDeleting;
  const port = binding.port ?? (keepsPort && (status?.port ?? 0) > 0 ? status?.port : undefined);
  const { port: _port, phase: _phase, conditions: _c, ...rest } = status ?? {};
  const desired: HostPortClaimStatus = {
    ...rest,
    phase: wasBound || bound ? CLAIM_PHASE.Bound : CLAIM_PHASE.Pending,
    ...(port === undefined ? {} : { port }),
    conditions: setConditions(status?.conditions, [condition], input.nowMs),
  };
  if (!jsonEqual(desired, status ?? {})) steps.push({ type: "setStatus", status: desired });
  const event = BINDING_EVENTS[binding.reason];
  if (event !== undefined && conditionChanged(status?.conditions, condition)) {
    steps.push(eventStep("Warning", event, condition.message));
  }
  return { steps, outcome: bound ? done() : awaitChange(condition.message) };
}

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

/**
 * How `input.claim` (with `spec.hostPortName` set) relates to the HostPort it names, once any
 * {@linkcode provisionStep} is planned.
 */
function decideBinding(input: ClaimInput): Binding {
  const { claim, hostPort } = input;
  const name = claim.spec.hostPortName ?? "";
  const className = claim.spec.hostPortClassName;
  const unbound = (reason: string, message: string): Binding => ({ reason, message });
  if (hostPort === undefined) {
    return unbound(CONDITION_REASON.HostPortNotFound, `HostPort "${name}" does not exist`);
  }
  const ref = hostPort.spec.claimRef;
  if (hasClaimRef(ref) && !claimRefMatches(ref, claim)) {
    return unbound(
      CONDITION_REASON.HostPortClaimedByOther,
      `HostPort "${name}" is bound to HostPortClaim "${ref.namespace}/${ref.name}"`,
    );
  }
  if (hostPort.spec.hostPortClassName !== className) {
    return unbound(
      CONDITION_REASON.ClassMismatch,
      `HostPort "${name}" belongs to HostPortClass "${hostPort.spec.hostPortClassName}", ` +
        `not "${className}"`,
    );
  }
  if (isDeleting(hostPort)) {
    return unbound(CONDITION_REASON.HostPortDeleting, `HostPort "${name}" is being deleted`);
  }
  const port = hostPort.status?.port ?? 0;
  if (port > 0) {
    const message = `Bound to HostPort "${name}" with port ${port}`;
    return portConflict(input, name, port) ?? { reason: CONDITION_REASON.Allocated, message, port };
  }
  if (!input.classExists) {
    return unbound(CONDITION_REASON.ClassNotFound, `HostPortClass "${className}" does not exist`);
  }
  const allocated = hostPort.status?.conditions?.find((c) => c.type === CONDITION_TYPE.Allocated);
  if (allocated?.reason === CONDITION_REASON.PoolExhausted) {
    return unbound(
      CONDITION_REASON.PoolExhausted,
      `HostPortClass "${className}" has no free port for HostPort "${name}"`,
    );
  }
  if (allocated?.reason === CONDITION_REASON.AllocationUnavailable) {
    return unbound(
      CONDITION_REASON.AllocationUnavailable,
      `HostPort "${name}" waits for allocation: ${allocated.message}`,
    );
  }
  return unbound(
    CONDITION_REASON.WaitingForAllocation,
    `Waiting for HostPort "${name}" to be allocated a port`,
  );
}

/** Refuses binding to a port another HostPort also holds, unless already Bound with it. */
function portConflict(input: ClaimInput, name: string, port: number): Binding | undefined {
  const others = (input.portHolders ?? []).filter((holder) => holder !== name);
  if (others.length === 0) return undefined;
  const status = input.claim.status;
  if (status?.phase === CLAIM_PHASE.Bound && status.port === port) return undefined;
  return {
    reason: CONDITION_REASON.PortConflict,
    message: `Port ${port} of HostPort "${name}" is also held by HostPort ` +
      `${others.map((other) => `"${other}"`).join(", ")}`,
  };
}

/**
 * The binding rules between a claim and a HostPort (docs/architecture.md, "Binding rules"): a
 * claim binds only to a HostPort of its class whose `claimRef` is empty (then claimed by a CAS
 * update) or already names this claim.
 *
 * Controller-side defence against a forged status (issue #9, item 8): a claim becomes Bound to
 * its HostPort's port only if no other HostPort holds the same port, so that a port written into
 * a HostPort's status by someone other than the allocator (an admin through `hostports/status`)
 * never reaches a second claim's pods. A claim already Bound with exactly that port stays Bound
 * (pods may run with it; never unbind a running claim); repair keeps reporting the duplicate.
 *
 * @module
 */
import {
  API_VERSION,
  CLAIM_PHASE,
  CONDITION_REASON,
  CONDITION_TYPE,
  hostPortNameForClaim,
  KIND,
} from "../api/constants.ts";
import { claimRefMatches, hasClaimRef, type HostPort } from "../api/types.ts";
import { type HostPortClaim } from "../api/types.ts";
import { type ObjectReference } from "../api/types.ts";

/** How a claim relates to the HostPort it names. */
export type BindingDecision =
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

/** The facts the binding decision reads. */
export interface BindingInput {
  /** The claim, with `spec.hostPortName` set. */
  readonly claim: HostPortClaim;
  /** The HostPort named by `spec.hostPortName`, if it exists (cache). */
  readonly hostPort: HostPort | undefined;
  /** Whether the claim's class exists (cache). */
  readonly classExists: boolean;
  /** Names of every HostPort holding the HostPort's port (cache, by port), itself included. */
  readonly portHolders?: readonly string[];
}

/** The `claimRef` a HostPort gets when bound to `claim`. */
export function claimRefFor(claim: HostPortClaim): ObjectReference {
  return {
    apiVersion: API_VERSION,
    kind: KIND.HostPortClaim,
    namespace: claim.metadata.namespace,
    name: claim.metadata.name,
    uid: claim.metadata.uid,
  };
}

/**
 * Whether the HostPort was provisioned for the claim its `claimRef` names (`hpc-<claim uid>`).
 * Only such HostPorts are deleted when their claim is gone; HostPorts made by hand are kept.
 */
export function isDynamicHostPort(hostPort: HostPort): boolean {
  const uid = hostPort.spec.claimRef?.uid;
  return uid !== undefined && uid !== "" && hostPort.metadata.name === hostPortNameForClaim(uid);
}

/**
 * Whether the claim a HostPort's `claimRef` names is gone: no such claim, or one with another
 * uid (deleted and recreated under the same name).
 */
export function isClaimGone(hostPort: HostPort, claim: HostPortClaim | undefined): boolean {
  if (!hasClaimRef(hostPort.spec.claimRef)) return false;
  return claim === undefined || !claimRefMatches(hostPort.spec.claimRef, claim);
}

/** Decides how `input.claim` relates to the HostPort it names. */
export function decideBinding(input: BindingInput): BindingDecision {
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
function portConflict(
  input: BindingInput,
  name: string,
  port: number,
): BindingDecision | undefined {
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

/**
 * Deciding, from looked-up objects, which port a claim gives a pod (seed 3.5 step 3, with the
 * fixes noted inline). Pure: the objects are fetched elsewhere (`claim_lookup.ts`).
 *
 * @module
 */
import {
  claimRefMatches,
  FINALIZER,
  hasClaimRef,
  HOST_PORT_PHASE,
  type HostPort,
  type HostPortClaim,
  POD_MESSAGE,
} from "../lib/api/mod.ts";
import { goQuote } from "./go_quote.ts";
import type { BadValue, FieldErrorType } from "./field_errors.ts";

/** The outcome of one lookup: the object (`undefined` when it does not exist) or the failure. */
export type LookupResult<T> = { ok: true; value: T | undefined } | { ok: false; error: unknown };

/** What was looked up for one claim name: the claim and, if it names one, its HostPort. */
export interface ClaimState {
  /** The claim in the pod's namespace. */
  readonly claim: LookupResult<HostPortClaim>;
  /** The HostPort `claim.spec.hostPortName`; absent when the claim names none. */
  readonly hostPort?: LookupResult<HostPort>;
}

/** Why a claim gives no port, as a field error without its path. */
export interface ClaimProblem {
  /** `claim`: at the annotation; `hostPort`: at `<annotation>.hostPort`. */
  readonly at: "claim" | "hostPort";
  /** The error type. */
  readonly type: FieldErrorType;
  /** The bad value (claim or HostPort name). */
  readonly value?: BadValue;
  /** The detail, or the lookup error's message for internal errors. */
  readonly detail: string;
  /** Whether the problem may clear up by itself shortly (worth a bounded wait). */
  readonly transient: boolean;
}

/** A claim's port, or why there is none. */
export type ClaimResolution = { ok: true; port: number } | { ok: false; problem: ClaimProblem };

/** Detail when a HostPort's `claimRef` names another claim. */
export const HOST_PORT_CLAIMED_BY_OTHER = "hostport is bound to another hostPortClaim";

/**
 * Resolves a claim for a new pod.
 *
 * @param claimName the claim name from the annotation
 * @param namespace the pod's namespace
 * @param state what was looked up
 * @returns the port, or the problem
 */
export function resolveClaim(
  claimName: string,
  namespace: string,
  state: ClaimState,
): ClaimResolution {
  if (!state.claim.ok) {
    // A failed read may succeed on the next attempt (the API server was busy): retryable.
    return fail("claim", "InternalError", undefined, messageOf(state.claim.error), true);
  }
  const claim = state.claim.value;
  // Lookups go to the pod's namespace only; anything else is treated as absent.
  if (claim === undefined || (claim.metadata.namespace ?? namespace) !== namespace) {
    return fail("claim", "FieldValueNotFound", claimName, "");
  }
  // Fix (architecture.md "Release", seed 5.3 #16): a deleting claim takes no new pods, so its
  // finalizer can be removed once its pods are gone without racing new admissions.
  if (claim.metadata.deletionTimestamp !== undefined) {
    return fail("claim", "FieldValueInvalid", claimName, POD_MESSAGE.claimDeleting);
  }
  const hostPortName = claim.spec.hostPortName ?? "";
  // Without our finalizer nothing would stop the claim's deletion while pods use it; the
  // operator adds it when it first reconciles the claim, so this is "not bound yet".
  if (!(claim.metadata.finalizers ?? []).includes(FINALIZER) || hostPortName === "") {
    return fail("claim", "FieldValueInvalid", claimName, POD_MESSAGE.claimNotBound, true);
  }
  const inNamespace = { ...claim, metadata: { ...claim.metadata, namespace } };
  return resolveHostPort(inNamespace, hostPortName, state.hostPort);
}

function resolveHostPort(
  claim: HostPortClaim,
  hostPortName: string,
  lookup: LookupResult<HostPort> | undefined,
): ClaimResolution {
  if (lookup === undefined) {
    return fail("hostPort", "InternalError", undefined, "the HostPort was not looked up");
  }
  if (!lookup.ok) {
    return fail("hostPort", "InternalError", undefined, messageOf(lookup.error), true);
  }
  const hostPort = lookup.value;
  if (hostPort === undefined) return fail("hostPort", "FieldValueNotFound", hostPortName, "");
  // Fix (seed 5.2 #10, claim hijacking): the HostPort must point back at this claim, or at no
  // claim yet (a HostPort created by hand, before the operator binds it).
  if (!claimRefAllows(hostPort, claim)) {
    return fail("hostPort", "FieldValueInvalid", hostPortName, HOST_PORT_CLAIMED_BY_OTHER);
  }
  if (hostPort.spec.hostPortClassName !== claim.spec.hostPortClassName) {
    const detail = `hostport is of hostPortClass ${goQuote(hostPort.spec.hostPortClassName)}, ` +
      `not ${goQuote(claim.spec.hostPortClassName)}`;
    return fail("hostPort", "FieldValueInvalid", hostPortName, detail);
  }
  const port = hostPort.status?.port ?? 0;
  const deleting = hostPort.metadata.deletionTimestamp !== undefined;
  if (deleting || hostPort.status?.phase !== HOST_PORT_PHASE.Allocated || port <= 0) {
    // Bound but not written yet is worth a short wait; a deleting HostPort is not (seed S6).
    const detail = POD_MESSAGE.hostPortNotAllocated;
    return fail("hostPort", "FieldValueInvalid", hostPortName, detail, !deleting);
  }
  return { ok: true, port };
}

/**
 * Whether a HostPort lets `claim` use it: it names no claim yet (made by hand, before the
 * operator binds it), or its `claimRef` names this claim ({@linkcode claimRefMatches}).
 *
 * @param hostPort the HostPort
 * @param claim the claim
 * @returns true when the claim may use the HostPort
 */
export function claimRefAllows(hostPort: HostPort, claim: HostPortClaim): boolean {
  const ref = hostPort.spec.claimRef;
  return !hasClaimRef(ref) || claimRefMatches(ref, claim);
}

function fail(
  at: ClaimProblem["at"],
  type: FieldErrorType,
  value: BadValue | undefined,
  detail: string,
  transient = false,
): ClaimResolution {
  const problem: ClaimProblem = value === undefined
    ? { at, type, detail, transient }
    : { at, type, value, detail, transient };
  return { ok: false, problem };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

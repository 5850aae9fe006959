/**
 * Test helpers for the claim planner tables: input defaults, step summaries and row shape.
 *
 * @module
 */
import type { HostPortClaim } from "../lib/api/mod.ts";
import { claimStatus, condition, DYNAMIC_NAME, hostPortStatus, T1 } from "./reconcile_fixtures.ts";
import type { ClaimInput, ClaimPlan } from "../lib/reconcile/hostport_claim.ts";
import type { Outcome } from "../lib/reconcile/outcome.ts";

/** "Now" in the claim tables. */
export const NOW = Date.parse(T1);

/** A claim planner input with defaults: long seen, grace 5 s, pending delay 2 s. */
export function claimInput(
  claimObject: HostPortClaim,
  overrides: Partial<ClaimInput> = {},
): ClaimInput {
  return {
    claim: claimObject,
    hostPort: undefined,
    classExists: true,
    blockingPods: 0,
    nowMs: NOW,
    firstSeenMs: NOW - 60_000,
    deletionSeenMs: claimObject.metadata.deletionTimestamp ? NOW - 60_000 : undefined,
    deletionGraceMs: 5_000,
    pendingStatusDelayMs: 2_000,
    ...overrides,
  };
}

/** The step types of a plan, Events as `event:<reason>`. */
export function claimStepTypes(plan: ClaimPlan): string[] {
  return plan.steps.map((step) => step.type === "event" ? `event:${step.reason}` : step.type);
}

/** The status a plan writes, if any. */
export function plannedClaimStatus(plan: ClaimPlan): HostPortClaim["status"] {
  const step = plan.steps.find((s) => s.type === "setStatus");
  return step?.type === "setStatus" ? step.status : undefined;
}

/** A HostPort status holding port 9000. */
export const allocated = hostPortStatus({
  phase: "Allocated",
  port: 9000,
  conditions: [condition("Allocated", "True", "Allocated", "Port 9000 allocated")],
});

/** A claim status Bound to the dynamic HostPort with port 9000. */
export const bound = claimStatus({
  phase: "Bound",
  port: 9000,
  conditions: [
    condition("Bound", "True", "Allocated", `Bound to HostPort "${DYNAMIC_NAME}" with port 9000`),
  ],
});

/** One row of a claim planner table. */
export interface ClaimCase {
  /** What the row shows. */
  name: string;
  /** The planner input. */
  input: ClaimInput;
  /** The expected step types. */
  steps: string[];
  /** The expected outcome type. */
  outcome: Outcome["type"];
  /** More checks of the plan. */
  check?: (plan: ClaimPlan) => void;
}

/**
 * What a reconcile asks of the runtime once its writes are done, as a value (kube-rs `Action`):
 * nothing more, a later look, or nothing until something changes.
 *
 * Errors are not outcomes: a reconcile that throws is retried with per-key backoff.
 *
 * @module
 */

/** The result of one reconcile. */
export type Outcome =
  /** The object is where it should be; only the slow resync looks at it again. */
  | { readonly type: "done" }
  /** Look again after `ms` milliseconds (a timer is running out, such as a grace period). */
  | { readonly type: "requeueAfter"; readonly ms: number }
  /** Waiting for another object to change; its watch event brings the key back. */
  | { readonly type: "awaitChange"; readonly reason: string };

/** The object is done; nothing is scheduled. */
export function done(): Outcome {
  return { type: "done" };
}

/**
 * Look again after `ms` milliseconds (at least 1 ms, so a caller never spins).
 *
 * @param ms the delay in milliseconds
 */
export function requeueAfter(ms: number): Outcome {
  return { type: "requeueAfter", ms: Math.max(1, Math.ceil(ms)) };
}

/**
 * Wait for a change of another object, whose event re-queues this key.
 *
 * @param reason what is awaited, for logs (for example `pods still use the claim`)
 */
export function awaitChange(reason: string): Outcome {
  return { type: "awaitChange", reason };
}

/**
 * Combines two outcomes: the earliest requeue wins, then waiting, then done.
 *
 * @returns the outcome that looks again soonest
 */
export function soonest(a: Outcome, b: Outcome): Outcome {
  if (a.type === "requeueAfter" && b.type === "requeueAfter") return a.ms <= b.ms ? a : b;
  if (a.type === "requeueAfter") return a;
  if (b.type === "requeueAfter") return b;
  return a.type === "awaitChange" ? a : b;
}

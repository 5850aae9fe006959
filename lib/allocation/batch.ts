/**
 * The pure heart of the group commit: given the record's content and the pending reserve and
 * release operations, decide which ones are settled now (taken, outcome unknown) and what the
 * next write must contain for the rest.
 *
 * @module
 */

import type { PortBitmap } from "../allocator/mod.ts";

/**
 * The outcome of a reservation:
 * - `{ ok: true }`: committed; the port is reserved for the caller.
 * - `{ ok: false, reason: "taken" }`: the record shows the port reserved by someone else.
 * - `{ ok: false, reason: "unknown" }`: a write that carried it may or may not have landed. The
 *   caller must not use the port (it may be someone else's) and must not release it (it may be
 *   its own): it stays reserved until repair frees it.
 */
export type ReserveOutcome =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: "taken" | "unknown" };

/**
 * The outcome of a release:
 * - `{ ok: true }`: committed (or the port was not reserved at all).
 * - `{ ok: false, reason: "unknown" }`: a write that carried it may or may not have landed, and
 *   the port is reserved now (possibly by someone who reserved it after the release landed, so
 *   it is left alone). The caller must assume the port is still reserved; repair frees it.
 */
export type ReleaseOutcome =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: "unknown" };

/** One pending reserve or release. */
export interface PendingOp {
  /** What to do. */
  readonly kind: "reserve" | "release";
  /** The port. */
  readonly port: number;
  /** Whether a write that carried this op ended with an unknown outcome. */
  maybeLanded: boolean;
}

/** What {@linkcode decideBatch} decided. */
export interface BatchDecision<Op extends PendingOp> {
  /** The content to write for the carried ops. */
  readonly next: PortBitmap;
  /** Whether `next` differs from the base (no write is needed otherwise). */
  readonly changed: boolean;
  /** Ops settled now, with their outcome. */
  readonly settled: readonly (readonly [Op, ReserveOutcome | ReleaseOutcome])[];
  /** Ops that succeed if and only if `next` is committed. */
  readonly carried: readonly Op[];
}

/**
 * Applies `ops` in order to a copy of `base` (the record as last read or written).
 *
 * - reserve of a set port: `unknown` if an earlier write of ours may have set it, else `taken`.
 * - reserve of a clear port: set it, carried.
 * - release of a set port: `unknown` if an earlier write of ours may have cleared it already
 *   (someone may have reserved it since; clearing it again could free their port), else clear
 *   it, carried.
 * - release of a clear port: nothing to change, carried.
 */
export function decideBatch<Op extends PendingOp>(
  ops: readonly Op[],
  base: PortBitmap,
): BatchDecision<Op> {
  const next = base.clone();
  const settled: (readonly [Op, ReserveOutcome | ReleaseOutcome])[] = [];
  const carried: Op[] = [];
  for (const op of ops) {
    const inNext = next.has(op.port);
    const ambiguous = op.maybeLanded && base.has(op.port);
    if (op.kind === "reserve") {
      if (inNext) {
        settled.push([op, { ok: false, reason: ambiguous ? "unknown" : "taken" }]);
        continue;
      }
      next.set(op.port);
    } else if (inNext) {
      if (ambiguous) {
        settled.push([op, { ok: false, reason: "unknown" }]);
        continue;
      }
      next.clear(op.port);
    }
    carried.push(op);
  }
  return { next, changed: !base.equals(next), settled, carried };
}

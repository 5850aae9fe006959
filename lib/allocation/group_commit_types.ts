/**
 * Types of the group-commit engine (`group_commit.ts`) and of its counters. Internal to
 * lib/allocation, except {@linkcode RecordStats}.
 *
 * @module
 */

import type { BackoffOptions } from "../kube/mod.ts";
import type { PendingOp, ReleaseOutcome, ReserveOutcome } from "./batch.ts";

/** Retry policy and injected effects of the engine. */
export interface GroupCommitPolicy {
  /** Names this writer in `writeId`. */
  writerId: string;
  /** Attempts per batch for failures other than conflicts. */
  maxAttempts: number;
  /** Conflicts tolerated per batch. */
  maxConflicts: number;
  /** Backoff after failures other than conflicts. */
  backoff: BackoffOptions;
  /** Waits `ms`. */
  sleep: (ms: number) => Promise<void>;
  /** Random numbers in [0, 1). */
  random: () => number;
}

/** Counters of the record's I/O. */
export interface RecordStats {
  /** Successful reads. */
  reads: number;
  /** Writes sent (create or replace), whatever their outcome. */
  writes: number;
  /** Writes that committed. */
  commits: number;
  /** Writes refused with a conflict. */
  conflicts: number;
  /** Writes whose outcome is unknown. */
  unknownOutcomes: number;
}

/** What a reserve or release settles with. */
export type Outcome = ReserveOutcome | ReleaseOutcome;
/** How a step of a batch ended. */
export type Step = "done" | "retry" | "given-up";

/** A queued reserve or release with its promise. */
export interface QueuedOp extends PendingOp {
  /** Index of the first write attempt of its batch that carried it; -1 before any. */
  firstAttempt: number;
  resolve(outcome: Outcome): void;
  reject(error: unknown): void;
}

/** A queued read. */
export interface Reader {
  resolve(): void;
  reject(error: unknown): void;
}

/** The state of one batch while it is retried. */
export interface BatchRun {
  ops: QueuedOp[];
  readers: Reader[];
  /** writeId of each write attempt of this batch, to the attempt index. */
  attempts: Map<string, number>;
  failures: number;
  conflicts: number;
  needRead: boolean;
}

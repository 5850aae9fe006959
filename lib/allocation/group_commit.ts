/**
 * The group-commit engine behind {@linkcode AllocationRecord}: a queue of reserve and release
 * calls drained one batch at a time. Each batch is decided by the pure {@linkcode decideBatch}
 * (which calls are settled now, what the next write must contain), written by compare-and-swap,
 * re-read and re-applied on conflict, and retried with backoff on other failures. Internal to
 * lib/allocation, except the outcome types and {@linkcode RecordStats}.
 *
 * @module
 */

import { backoffDelay, type BackoffOptions } from "../kube/backoff.ts";
import { PortBitmap } from "../allocator/port_bitmap.ts";
import {
  AllocationRecordError,
  AllocationRecordFormatError,
  AllocationRecordMissingError,
} from "./errors.ts";
import { classifyWriteError, type RecordStore, type StoredRecord } from "./record_store.ts";

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
interface PendingOp {
  /** What to do. */
  readonly kind: "reserve" | "release";
  /** The port. */
  readonly port: number;
  /** Whether a write that carried this op ended with an unknown outcome. */
  maybeLanded: boolean;
}

/** What {@linkcode decideBatch} decided. */
interface BatchDecision<Op extends PendingOp> {
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
function decideBatch<Op extends PendingOp>(
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

/** Retry policy and injected effects of the engine. */
interface GroupCommitPolicy {
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
type Outcome = ReserveOutcome | ReleaseOutcome;
/** How a step of a batch ended. */
type Step = "done" | "retry" | "given-up";

/** A queued reserve or release with its promise. */
interface QueuedOp extends PendingOp {
  /** Index of the first write attempt of its batch that carried it; -1 before any. */
  firstAttempt: number;
  resolve(outcome: Outcome): void;
  reject(error: unknown): void;
}

/** A queued read. */
interface Reader {
  resolve(): void;
  reject(error: unknown): void;
}

/** The state of one batch while it is retried. */
interface BatchRun {
  ops: QueuedOp[];
  readers: Reader[];
  /** writeId of each write attempt of this batch, to the attempt index. */
  attempts: Map<string, number>;
  failures: number;
  conflicts: number;
  needRead: boolean;
}

const CONFLICT_BACKOFF: BackoffOptions = { initialMs: 2, maxMs: 100, jitter: 1 };

/** See the module documentation. `adopt` is called with every record read or committed. */
export class GroupCommit {
  /** undefined: never read; null: known not to exist. */
  known: StoredRecord | null | undefined;
  /** Whether the last read found the record deleted after this process had seen it exist. */
  missing = false;
  /** The I/O counters. */
  readonly stats: RecordStats = {
    reads: 0,
    writes: 0,
    commits: 0,
    conflicts: 0,
    unknownOutcomes: 0,
  };
  #store: RecordStore;
  #policy: GroupCommitPolicy;
  #adopt: (record: StoredRecord | null) => void;
  #sequence = 0;
  /** Whether this process has seen the record exist (it is then never re-created). */
  #existed = false;
  /** Whether the next batch must read first (a batch gave up, maybe after an unknown write). */
  #stale = false;
  #queue: QueuedOp[] = [];
  #readers: Reader[] = [];
  #draining = false;
  #idle: (() => void)[] = [];

  /** Creates an engine; nothing happens until the first call. */
  constructor(
    store: RecordStore,
    policy: GroupCommitPolicy,
    adopt: (record: StoredRecord | null) => void,
  ) {
    this.#store = store;
    this.#policy = policy;
    this.#adopt = adopt;
  }

  /** Queues a reserve or release; it joins the next write. */
  enqueue(kind: "reserve" | "release", port: number): Promise<Outcome> {
    const { promise, resolve, reject } = Promise.withResolvers<Outcome>();
    this.#queue.push({ kind, port, maybeLanded: false, firstAttempt: -1, resolve, reject });
    this.#kick();
    return promise;
  }

  /** Queues a consistent read, ordered with the writes. */
  read(): Promise<void> {
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    this.#readers.push({ resolve, reject });
    this.#kick();
    return promise;
  }

  /** Resolves once nothing is queued or in flight. */
  idle(): Promise<void> {
    if (!this.#draining) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /**
   * Re-creates a record that was deleted while in use, reserving `bits`. Runs alone: it waits
   * until no batch is in flight and holds the queue meanwhile, so no queued call joins the
   * creation. Resolves true when created, false when someone else created it first (reserve
   * the ports in it through `enqueue` then).
   *
   * @throws {AllocationRecordError} (rejection) the create certainly failed; retry later
   */
  async recreate(bits: PortBitmap): Promise<boolean> {
    while (this.#draining) await this.idle();
    this.#draining = true;
    try {
      const content = { bits, writeId: `${this.#policy.writerId}/${++this.#sequence}` };
      this.stats.writes++;
      let stored: StoredRecord;
      try {
        stored = await this.#store.create(content);
      } catch (error) {
        this.#stale = true;
        if (classifyWriteError(error) === "conflict") return false;
        const detail = error instanceof Error ? error.message : String(error);
        throw new AllocationRecordError("re-create the allocation record", detail, {
          cause: error,
        });
      }
      this.stats.commits++;
      this.known = stored;
      this.#existed = true;
      this.missing = false;
      this.#stale = false;
      this.#adopt(stored);
      return true;
    } finally {
      this.#draining = false;
      for (const resolve of this.#idle.splice(0)) resolve();
      if (this.#queue.length > 0 || this.#readers.length > 0) this.#kick();
    }
  }

  #kick(): void {
    if (this.#draining) return;
    this.#draining = true;
    // A microtask, so every call made in the same synchronous run joins the first write.
    queueMicrotask(() => void this.#drain());
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0 || this.#readers.length > 0) await this.#runBatch();
    } finally {
      this.#draining = false;
      for (const resolve of this.#idle.splice(0)) resolve();
    }
  }

  async #runBatch(): Promise<void> {
    const run: BatchRun = {
      ops: [],
      readers: [],
      attempts: new Map(),
      failures: 0,
      conflicts: 0,
      needRead: this.known === undefined || this.#stale,
    };
    while (true) {
      // Newcomers join the batch at every attempt, so a retry after a conflict carries them too.
      run.ops.push(...this.#queue.splice(0));
      if (this.#readers.length > 0) run.needRead = true;
      run.readers.push(...this.#readers.splice(0));
      if (run.needRead) {
        const step = await this.#read(run);
        if (step === "given-up") return;
        if (step === "retry") continue;
      }
      if (run.ops.length === 0 || await this.#write(run) !== "retry") return;
    }
  }

  async #read(run: BatchRun): Promise<Step> {
    let fresh: StoredRecord | undefined;
    try {
      fresh = await this.#store.read();
    } catch (error) {
      const fatal = error instanceof AllocationRecordFormatError;
      return await this.#failed(run, error, fatal, "read the allocation record");
    }
    if (fresh === undefined && this.#existed) {
      // Starting afresh would forget every reservation: refuse; the repair pass rebuilds it
      // (`recreate`) from every port anyone may hold, and allocation pauses meanwhile.
      this.missing = true;
      const error = new AllocationRecordMissingError("use the allocation record");
      return await this.#failed(run, error, true, "read the allocation record");
    }
    this.stats.reads++;
    this.missing = false;
    run.needRead = false;
    this.#stale = false;
    this.known = fresh ?? null;
    if (fresh !== undefined) this.#existed = true;
    this.#adopt(this.known);
    for (const reader of run.readers.splice(0)) reader.resolve();
    // The record names its last write: if it is one of ours, every op that write carried landed.
    const proven = fresh?.writeId === undefined ? undefined : run.attempts.get(fresh.writeId);
    if (proven !== undefined) {
      const landed = (op: QueuedOp) => op.firstAttempt >= 0 && op.firstAttempt <= proven;
      for (const op of run.ops.filter(landed)) op.resolve({ ok: true });
      run.ops = run.ops.filter((op) => !landed(op));
    }
    return "done";
  }

  async #write(run: BatchRun): Promise<Step> {
    const known = this.known ?? null;
    const decision = decideBatch(run.ops, known?.bits ?? new PortBitmap());
    for (const [op, outcome] of decision.settled) op.resolve(outcome);
    run.ops = [...decision.carried];
    if (!decision.changed) return this.#settleAll(run);
    const writeId = `${this.#policy.writerId}/${++this.#sequence}`;
    const attempt = run.attempts.size;
    run.attempts.set(writeId, attempt);
    for (const op of run.ops) if (op.firstAttempt < 0) op.firstAttempt = attempt;
    const content = { bits: decision.next, writeId };
    this.stats.writes++;
    let stored: StoredRecord;
    try {
      stored = known === null
        ? await this.#store.create(content)
        : await this.#store.replace(content, known.resourceVersion);
    } catch (error) {
      return await this.#writeFailed(run, error);
    }
    this.stats.commits++;
    this.known = stored;
    this.#existed = true;
    this.#adopt(stored);
    return this.#settleAll(run);
  }

  #settleAll(run: BatchRun): Step {
    for (const op of run.ops.splice(0)) op.resolve({ ok: true });
    return "done";
  }

  async #writeFailed(run: BatchRun, error: unknown): Promise<Step> {
    run.needRead = true;
    const failure = classifyWriteError(error);
    if (failure === "conflict") {
      this.stats.conflicts++;
      if (++run.conflicts > this.#policy.maxConflicts) {
        this.#giveUp(run, error, `it changed under ${this.#policy.maxConflicts} writes in a row`);
        return "given-up";
      }
      await this.#policy.sleep(
        backoffDelay(run.conflicts - 1, CONFLICT_BACKOFF, this.#policy.random),
      );
      return "retry";
    }
    if (failure === "unknown") {
      this.stats.unknownOutcomes++;
      for (const op of run.ops) op.maybeLanded = true;
    }
    return await this.#failed(run, error, false, "write the allocation record");
  }

  /** Counts a failure, then backs off ("retry") or gives the batch up. */
  async #failed(run: BatchRun, error: unknown, fatal: boolean, what: string): Promise<Step> {
    if (fatal || ++run.failures >= this.#policy.maxAttempts) {
      const detail = error instanceof Error ? error.message : String(error);
      this.#giveUp(run, error, `the last attempt to ${what} failed: ${detail}`);
      return "given-up";
    }
    const delay = backoffDelay(run.failures - 1, this.#policy.backoff, this.#policy.random);
    await this.#policy.sleep(delay);
    return "retry";
  }

  #giveUp(run: BatchRun, cause: unknown, detail: string): void {
    this.#stale = true;
    for (const op of run.ops.splice(0)) {
      // Never report failed what may have landed: that settles as "unknown" instead.
      if (op.maybeLanded) op.resolve({ ok: false, reason: "unknown" });
      else op.reject(new AllocationRecordError(`${op.kind} port ${op.port}`, detail, { cause }));
    }
    for (const reader of run.readers.splice(0)) {
      reader.reject(
        cause instanceof AllocationRecordFormatError
          ? cause
          : new AllocationRecordError("read the allocation record", detail, { cause }),
      );
    }
  }
}

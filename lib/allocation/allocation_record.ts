/**
 * `AllocationRecord`: the cluster-wide reserved-port bitmap, changed only by compare-and-swap,
 * with group commit (docs/architecture.md, "The invariant and who guarantees it", rules 1, 4, 5):
 * a queue of reserve and release calls drained one batch at a time. Each batch is decided by the
 * pure {@linkcode decideBatch} (which calls are settled now, what the next write must contain),
 * written by compare-and-swap, re-read and re-applied on conflict, and retried with backoff on
 * other failures.
 *
 * @module
 */

import { backoffDelay, type BackoffOptions } from "../kube/clock.ts";
import type { RestClient } from "../kube/rest_client.ts";
import { PortBitmap } from "../allocator/port_bitmap.ts";
import { isPort } from "../allocator/port_bitmap.ts";
import {
  AllocationRecordFormatError,
  classifyWriteError,
  ConfigMapRecordStore,
  type ConfigMapRecordStoreOptions,
  type RecordStore,
  type StoredRecord,
} from "./record_store.ts";

/**
 * A reservation or release was certainly not committed: every attempt was refused, or the record
 * could not be read. Operations that may have landed are never rejected with this error; they
 * settle as `{ ok: false, reason: "unknown" }` instead.
 */
export class AllocationRecordError extends Error {
  /** Builds `Cannot <action> as <detail>`, keeping the last failure as `cause`. */
  constructor(action: string, detail: string, options?: ErrorOptions) {
    super(`Cannot ${action} as ${detail}`, options);
    this.name = "AllocationRecordError";
  }
}

/**
 * The record was found missing after this process had seen it exist (someone deleted it). Nothing
 * is re-created silently: the repair pass rebuilds it from every port anyone may hold, then
 * allocation pauses for the leak holdoff.
 */
export class AllocationRecordMissingError extends AllocationRecordError {
  /** Builds the error for `action`. */
  constructor(action: string, options?: ErrorOptions) {
    super(action, "the allocation record was deleted; repair is rebuilding it", options);
    this.name = "AllocationRecordMissingError";
  }
}

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

/** Retry policy and injected effects. */
interface Policy {
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

/** Tuning of {@linkcode AllocationRecord}. */
export interface AllocationRecordOptions {
  /** Names this writer in the record's `writeId`; random by default. */
  writerId?: string;
  /** Attempts per batch for failures other than conflicts; default 6. */
  maxAttempts?: number;
  /** Conflicts (409) tolerated per batch before giving up; default 100. */
  maxConflicts?: number;
  /** Backoff after failures other than conflicts; default 50 ms doubling to 2 s, half jitter. */
  backoff?: BackoffOptions;
  /** Waits `ms`; injectable for tests. */
  sleep?: (ms: number) => Promise<void>;
  /** Random numbers in [0, 1) for jitter; injectable for tests. */
  random?: () => number;
}

/** The record as last read or written by this process. */
export interface RecordSnapshot {
  /** The reserved ports (a copy). */
  readonly bits: PortBitmap;
  /** The storage version, or undefined when the record does not exist yet. */
  readonly resourceVersion: string | undefined;
}

const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 50, maxMs: 2_000, jitter: 0.5 };

/**
 * The reserved-port bitmap shared by every operator process, arbitrated by the API server.
 *
 * Guarantees:
 * - Every change is a compare-and-swap on the stored version (created when missing, tolerating
 *   AlreadyExists by re-reading), so of two processes reserving one port at most one gets
 *   `{ ok: true }`.
 * - Group commit: calls that arrive while a write is in flight go into the next write; after a
 *   conflict the record is re-read and every pending call (newcomers too) is re-applied. Each
 *   call settles when the write carrying it commits.
 * - Unknown outcome = maybe committed: after a timeout, connection error or 5xx, a reservation is
 *   never reported failed if it may have landed and a release is never reported done if it may
 *   not have; both settle as `{ ok: false, reason: "unknown" }` unless a later read proves the
 *   write landed (the record names its last write in `writeId`).
 * - Only certainly-uncommitted calls reject, with `AllocationRecordError`, after bounded retries
 *   with backoff. A record this code cannot read (`AllocationRecordFormatError`) is never
 *   overwritten, and a record deleted while in use is never silently re-created empty: calls
 *   reject with `AllocationRecordMissingError` until `recreate` (the repair pass) rebuilds it.
 *
 * Assumptions: a release is requested only by the owner of the reservation (rule 3).
 *
 * @example
 * ```ts ignore
 * const record = new AllocationRecord(new ConfigMapRecordStore(client, { namespace: "ops" }));
 * const outcome = await record.reserve(9000);
 * if (outcome.ok) console.log("9000 is ours; write it into the HostPort now");
 * ```
 */
export class AllocationRecord {
  /** undefined: never read; null: known not to exist. */
  #known: StoredRecord | null | undefined;
  /** Whether the last read found the record deleted after this process had seen it exist. */
  #missing = false;
  #store: RecordStore;
  #policy: Policy;
  #last = new PortBitmap();
  #version = 0;
  /** Port to the `version` at which this process last saw it released. */
  #releasedAt = new Map<number, number>();
  #sequence = 0;
  /** Whether this process has seen the record exist (it is then never re-created). */
  #existed = false;
  /** Whether the next batch must read first (a batch gave up, maybe after an unknown write). */
  #stale = false;
  #queue: QueuedOp[] = [];
  #readers: Reader[] = [];
  #draining = false;
  #idle: (() => void)[] = [];

  /** Creates a record over `store`; nothing is read until the first call. */
  constructor(store: RecordStore, options: AllocationRecordOptions = {}) {
    this.#store = store;
    this.#policy = {
      writerId: options.writerId ?? crypto.randomUUID().slice(0, 8),
      maxAttempts: options.maxAttempts ?? 6,
      maxConflicts: options.maxConflicts ?? 100,
      backoff: options.backoff ?? DEFAULT_BACKOFF,
      sleep: options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
      random: options.random ?? Math.random,
    };
  }

  /**
   * Reserves `port`; see {@linkcode ReserveOutcome} for what each outcome obliges the caller to.
   *
   * @throws {RangeError} `port` is not an integer from 1 to 65535
   * @throws {AllocationRecordError} (rejection) the reservation was certainly not committed
   */
  reserve(port: number): Promise<ReserveOutcome> {
    checkPort(port);
    return this.#enqueue("reserve", port) as Promise<ReserveOutcome>;
  }

  /**
   * Clears the reservation of `port`; idempotent. Call it only for a port you own (rule 3). See
   * {@linkcode ReleaseOutcome}: on "unknown", assume the port is still reserved.
   *
   * @throws {RangeError} `port` is not an integer from 1 to 65535
   * @throws {AllocationRecordError} (rejection) the release was certainly not committed
   */
  release(port: number): Promise<ReleaseOutcome> {
    checkPort(port);
    return this.#enqueue("release", port) as Promise<ReleaseOutcome>;
  }

  /**
   * Reads the record now (a consistent read, ordered with this process's writes). A missing
   * record reads as empty; the first write creates it.
   *
   * @throws {AllocationRecordError} (rejection) it could not be read after the retries
   * @throws {AllocationRecordFormatError} (rejection) its content is not understood
   */
  async refresh(): Promise<RecordSnapshot> {
    await this.#queueRead();
    return this.snapshot() as RecordSnapshot;
  }

  /** Whether the last read found the record deleted after this process had seen it exist. */
  get missing(): boolean {
    return this.#missing;
  }

  /** The record as last read or committed, or undefined before the first read. */
  snapshot(): RecordSnapshot | undefined {
    const known = this.#known;
    if (known === undefined) return undefined;
    return { bits: this.#last.clone(), resourceVersion: known?.resourceVersion };
  }

  /** Whether `port` is reserved in the record as last read or committed. */
  has(port: number): boolean {
    return isPort(port) && this.#last.has(port);
  }

  /** Every reserved port as last read or committed, ascending. */
  reservedPorts(): number[] {
    return this.#last.toArray();
  }

  /**
   * Counts the changes of the record as this process knows it (its own commits and fresh reads):
   * readers compare it with the version they last looked at, and pull; the record never calls
   * back into its users.
   */
  get version(): number {
    return this.#version;
  }

  /** Ports this process saw released in the record after `version`, ascending. */
  releasedSince(version: number): number[] {
    const ports: number[] = [];
    for (const [port, at] of this.#releasedAt) if (at > version) ports.push(port);
    return ports.sort((a, b) => a - b);
  }

  #adopt(record: StoredRecord | null): void {
    const next = record?.bits.clone() ?? new PortBitmap();
    if (next.equals(this.#last)) return;
    this.#version++;
    for (const port of this.#last.toArray()) {
      if (!next.has(port)) this.#releasedAt.set(port, this.#version);
    }
    this.#last = next;
  }

  /** Queues a reserve or release; it joins the next write. */
  #enqueue(kind: "reserve" | "release", port: number): Promise<Outcome> {
    const { promise, resolve, reject } = Promise.withResolvers<Outcome>();
    this.#queue.push({ kind, port, maybeLanded: false, firstAttempt: -1, resolve, reject });
    this.#kick();
    return promise;
  }

  /** Queues a consistent read, ordered with the writes. */
  #queueRead(): Promise<void> {
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    this.#readers.push({ resolve, reject });
    this.#kick();
    return promise;
  }

  /** Resolves once nothing is queued or in flight. */
  #whenIdle(): Promise<void> {
    if (!this.#draining) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /**
   * Re-creates the record after it was deleted while in use, reserving `ports` (the repair pass
   * passes every port anyone may hold). Runs alone: it waits until no batch is in flight and
   * holds the queue meanwhile, so no queued call joins the creation. Never merges into a record
   * that exists: resolves false when someone else re-created it first; reserve the ports in it
   * then.
   *
   * @throws {AllocationRecordError} (rejection) the create certainly failed; retry later
   */
  async recreate(ports: Iterable<number>): Promise<boolean> {
    const bits = PortBitmap.of(ports);
    while (this.#draining) await this.#whenIdle();
    this.#draining = true;
    try {
      const content = { bits, writeId: `${this.#policy.writerId}/${++this.#sequence}` };
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
      this.#known = stored;
      this.#existed = true;
      this.#missing = false;
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
      needRead: this.#known === undefined || this.#stale,
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
      this.#missing = true;
      const error = new AllocationRecordMissingError("use the allocation record");
      return await this.#failed(run, error, true, "read the allocation record");
    }
    this.#missing = false;
    run.needRead = false;
    this.#stale = false;
    this.#known = fresh ?? null;
    if (fresh !== undefined) this.#existed = true;
    this.#adopt(this.#known);
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
    const known = this.#known ?? null;
    const decision = decideBatch(run.ops, known?.bits ?? new PortBitmap());
    for (const [op, outcome] of decision.settled) op.resolve(outcome);
    run.ops = [...decision.carried];
    if (!decision.changed) return this.#settleAll(run);
    const writeId = `${this.#policy.writerId}/${++this.#sequence}`;
    const attempt = run.attempts.size;
    run.attempts.set(writeId, attempt);
    for (const op of run.ops) if (op.firstAttempt < 0) op.firstAttempt = attempt;
    const content = { bits: decision.next, writeId };
    let stored: StoredRecord;
    try {
      stored = known === null
        ? await this.#store.create(content)
        : await this.#store.replace(content, known.resourceVersion);
    } catch (error) {
      return await this.#writeFailed(run, error);
    }
    this.#known = stored;
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

function checkPort(port: number): void {
  if (!isPort(port)) throw new RangeError(`Port must be an integer from 1 to 65535, got ${port}`);
}

/**
 * The record in ConfigMap `namespace/name` (default {@linkcode DEFAULT_RECORD_NAME}), as the
 * operator uses it.
 *
 * @example
 * ```ts ignore
 * const record = openAllocationRecord(client, { namespace: "hostport-allocator-system" });
 * ```
 */
export function openAllocationRecord(
  client: RestClient,
  options: ConfigMapRecordStoreOptions & AllocationRecordOptions,
): AllocationRecord {
  return new AllocationRecord(new ConfigMapRecordStore(client, options), options);
}

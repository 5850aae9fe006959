/**
 * `AllocationRecord`: the cluster-wide reserved-port bitmap, changed only by compare-and-swap,
 * with group commit (docs/architecture.md, "The invariant and who guarantees it", rules 1, 4, 5).
 *
 * @module
 */

import type { BackoffOptions } from "../kube/backoff.ts";
import { PortBitmap } from "../allocator/port_bitmap.ts";
import { isPort } from "../allocator/port_range.ts";
import {
  GroupCommit,
  type RecordStats,
  type ReleaseOutcome,
  type ReserveOutcome,
} from "./group_commit.ts";

import type { RestClient } from "../kube/rest_contract.ts";
import {
  ConfigMapRecordStore,
  type ConfigMapRecordStoreOptions,
  type RecordStore,
  type StoredRecord,
} from "./record_store.ts";

export type { RecordStats } from "./group_commit.ts";

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
  #engine: GroupCommit;
  #last = new PortBitmap();
  #version = 0;
  /** Port to the `version` at which this process last saw it released. */
  #releasedAt = new Map<number, number>();

  /** Creates a record over `store`; nothing is read until the first call. */
  constructor(store: RecordStore, options: AllocationRecordOptions = {}) {
    this.#engine = new GroupCommit(store, {
      writerId: options.writerId ?? crypto.randomUUID().slice(0, 8),
      maxAttempts: options.maxAttempts ?? 6,
      maxConflicts: options.maxConflicts ?? 100,
      backoff: options.backoff ?? DEFAULT_BACKOFF,
      sleep: options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
      random: options.random ?? Math.random,
    }, (record) => this.#adopt(record));
  }

  /**
   * Reserves `port`; see {@linkcode ReserveOutcome} for what each outcome obliges the caller to.
   *
   * @throws {RangeError} `port` is not an integer from 1 to 65535
   * @throws {AllocationRecordError} (rejection) the reservation was certainly not committed
   */
  reserve(port: number): Promise<ReserveOutcome> {
    checkPort(port);
    return this.#engine.enqueue("reserve", port) as Promise<ReserveOutcome>;
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
    return this.#engine.enqueue("release", port) as Promise<ReleaseOutcome>;
  }

  /**
   * Reads the record now (a consistent read, ordered with this process's writes). A missing
   * record reads as empty; the first write creates it.
   *
   * @throws {AllocationRecordError} (rejection) it could not be read after the retries
   * @throws {AllocationRecordFormatError} (rejection) its content is not understood
   */
  async refresh(): Promise<RecordSnapshot> {
    await this.#engine.read();
    return this.snapshot() as RecordSnapshot;
  }

  /**
   * Re-creates the record after it was deleted while in use, reserving `ports` (the repair pass
   * passes every port anyone may hold). Never merges into a record that exists: resolves false
   * when someone else re-created it first; reserve the ports in it then.
   *
   * @throws {AllocationRecordError} (rejection) the create certainly failed; retry later
   */
  recreate(ports: Iterable<number>): Promise<boolean> {
    return this.#engine.recreate(PortBitmap.of(ports));
  }

  /** Whether the last read found the record deleted after this process had seen it exist. */
  get missing(): boolean {
    return this.#engine.missing;
  }

  /** The record as last read or committed, or undefined before the first read. */
  snapshot(): RecordSnapshot | undefined {
    const known = this.#engine.known;
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

  /** A copy of the I/O counters (`writes` / reservations is the "writes per claim"). */
  get stats(): RecordStats {
    return { ...this.#engine.stats };
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

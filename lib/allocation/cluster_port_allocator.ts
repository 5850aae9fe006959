/**
 * `ClusterPortAllocator`: the fast path the controllers call. It picks ports in memory
 * (`PortRegistry`) and makes each pick real by reserving it in the {@linkcode AllocationRecord}
 * (docs/architecture.md, rules 1-3).
 *
 * @module
 */

import { type PortRange, PortRegistry } from "../allocator/mod.ts";
import type { ClassUsage } from "../allocator/mod.ts";
import type { AllocationRecord, RecordChange } from "./allocation_record.ts";
import type { ReserveOutcome } from "./batch.ts";
import { API_SERVER_REQUEST_TIMEOUT_MS, DEFAULT_RESERVATION_TTL_MS } from "./constants.ts";
import {
  type AllocateOutcome,
  type AllocateRequestedOutcome,
  type ClusterPortAllocatorOptions,
  type ReleasePortOutcome,
  ReservationBook,
} from "./reservation_book.ts";

/**
 * Cluster-wide port allocation for one operator process.
 *
 * Guarantees: a port is returned by `allocate` only after the record committed its reservation,
 * so two processes (or two calls) never get the same port. The in-memory registry holds every
 * port the record reserves as this process last saw it, plus ports being reserved, plus ports
 * whose reservation outcome is unknown; it never offers a port the record shows reserved.
 *
 * Assumptions: run repair (`AllocationRepair`) once before serving allocations, so that ports held
 * by HostPorts of the original operator are reserved; `onReleased` listeners do not throw.
 */
export class ClusterPortAllocator {
  #record: AllocationRecord;
  #registry = new PortRegistry();
  #book: ReservationBook;
  #picking = new Set<number>();
  #listeners = new Set<(port: number) => void>();
  #portHeld: ((port: number) => boolean | Promise<boolean>) | undefined;
  #unsubscribe: () => void;

  /** Creates the allocator and follows the record's changes; call `start` before use. */
  constructor(options: ClusterPortAllocatorOptions) {
    this.#record = options.record;
    this.#portHeld = options.portHeld;
    const ttlMs = options.reservationTtlMs ?? DEFAULT_RESERVATION_TTL_MS;
    this.#book = new ReservationBook(
      options.now ?? (() => performance.now()),
      ttlMs,
      ttlMs + API_SERVER_REQUEST_TIMEOUT_MS,
    );
    this.#unsubscribe = this.#record.onChange((change) => this.#follow(change));
  }

  /**
   * Reads the record and seeds the registry from it and from `heldPorts` (every port a HostPort
   * holds, from a live list or a synced cache).
   *
   * @throws {AllocationRecordError} (rejection) the record cannot be read
   */
  async start(heldPorts: Iterable<number>): Promise<void> {
    await this.#record.refresh();
    this.resync(heldPorts);
  }

  /**
   * Rebuilds the registry from the record as last read plus `heldPorts` plus ports being
   * reserved, e.g. after a repair pass; calls `onReleased` listeners for ports that became free
   * (released by another process, or freed by repair).
   */
  resync(heldPorts: Iterable<number>): void {
    const before = new Set(this.#registry.snapshot());
    const ports = new Set([...this.#record.reservedPorts(), ...heldPorts, ...this.#picking]);
    this.#registry.restore([...ports].map((port) => ({ holder: undefined, port })));
    for (const port of before) if (!ports.has(port)) this.#emit(port);
  }

  /**
   * Allocates the first free port of `pools` (in order) for the HostPort `hostPortKey`: picks it
   * in memory, reserves it in the record, and moves on to the next port when the record says it
   * is taken. Asking again for the same key while its reservation is fresh returns the same port.
   *
   * @returns the port and `reservedAt` (pass it to `isReservationFresh` right before
   * writing the HostPort's status), or `{ ok: false, reason: "exhausted" }`
   * @throws {AllocationRecordError} (rejection) the record could not be written
   */
  async allocate(hostPortKey: string, pools: readonly PortRange[]): Promise<AllocateOutcome> {
    const existing = this.#book.fresh(hostPortKey);
    if (existing && pools.some((p) => existing.port >= p.start && existing.port <= p.end)) {
      return { ok: true, ...existing };
    }
    while (true) {
      const next = this.#registry.allocateNext(pools);
      if (!next.ok) return { ok: false, reason: "exhausted" };
      const outcome = await this.#reserve(next.port);
      // Taken or unknown: the port stays held in memory, so the next pick is another one.
      if (outcome.ok) return { ok: true, ...this.#book.add(hostPortKey, next.port) };
    }
  }

  /**
   * Allocates the requested `port` for `hostPortKey`, refusing it when it lies outside `pools`
   * (when given) or is reserved.
   *
   * @throws {AllocationRecordError} (rejection) the record could not be written
   */
  async allocateRequested(
    hostPortKey: string,
    port: number,
    pools?: readonly PortRange[],
  ): Promise<AllocateRequestedOutcome> {
    const existing = this.#book.fresh(hostPortKey);
    if (existing?.port === port) return { ok: true, ...existing };
    const picked = this.#registry.allocate(port, pools);
    if (!picked.ok) {
      return { ok: false, reason: picked.reason === "held" ? "taken" : "outside-pools" };
    }
    const outcome = await this.#reserve(port);
    if (!outcome.ok) return outcome;
    return { ok: true, ...this.#book.add(hostPortKey, port) };
  }

  /** Rule 2: whether a reservation committed at `reservedAt` may still be written. */
  isReservationFresh(reservedAt: number): boolean {
    return this.#book.isFresh(reservedAt);
  }

  /** Forgets the reservation of `hostPortKey` once its status write committed (the port stays reserved). */
  forget(hostPortKey: string): void {
    this.#book.remove(hostPortKey);
  }

  /**
   * Rule 3, first case: releases `port` after this process removed the finalizer of the
   * HostPort that held it, unless another live HostPort holds it too (`heldElsewhere`, else
   * asked of the `portHeld` option).
   *
   * @throws {TypeError} neither `heldElsewhere` nor the `portHeld` option is given
   * @throws {AllocationRecordError} (rejection) the release certainly did not commit; retry
   */
  async releaseAfterFinalizerRemoved(
    port: number,
    options: { heldElsewhere?: boolean } = {},
  ): Promise<ReleasePortOutcome> {
    if (await this.#heldElsewhere(port, options.heldElsewhere)) {
      return { ok: false, reason: "held" };
    }
    return await this.#record.release(port);
  }

  /**
   * Rule 3, second case: releases the port this process reserved for `hostPortKey` when its
   * status write was refused and a fresh read shows the HostPort holds another port or is gone.
   * Refused as `"not-owned"` when this process holds no fresh reservation of `port` for that
   * key (an abandoned reservation stays until repair frees it), and as `"held"` when another
   * live HostPort holds the port (`heldElsewhere`, else the `portHeld` option if given).
   *
   * @throws {AllocationRecordError} (rejection) the release certainly did not commit; retry
   */
  async releaseUnused(
    hostPortKey: string,
    port: number,
    options: { heldElsewhere?: boolean } = {},
  ): Promise<ReleasePortOutcome> {
    const reservation = this.#book.fresh(hostPortKey);
    if (reservation?.port !== port) return { ok: false, reason: "not-owned" };
    if (options.heldElsewhere ?? await this.#portHeld?.(port) ?? false) {
      this.#book.remove(hostPortKey);
      return { ok: false, reason: "held" };
    }
    const outcome = await this.#record.release(port); // a rejection keeps the entry for a retry
    this.#book.remove(hostPortKey);
    return outcome;
  }

  /** Calls `listener` with every port that becomes free. Returns a function that unsubscribes. */
  onReleased(listener: (port: number) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Ports this process reserved recently enough that a write carrying them may be in flight. */
  recentlyReserved(): number[] {
    return this.#book.recent();
  }

  /** Whether `port` is held or reserved as far as this process knows. */
  has(port: number): boolean {
    return this.#registry.has(port);
  }

  /** Usage counts of a class's pools (see `PortRegistry.usage`). */
  usage(pools: readonly PortRange[]): ClassUsage {
    return this.#registry.usage(pools);
  }

  /** Stops following the record. */
  close(): void {
    this.#unsubscribe();
  }

  async #reserve(port: number): Promise<ReserveOutcome> {
    this.#picking.add(port);
    try {
      return await this.#record.reserve(port);
    } catch (error) {
      // Certainly not committed: offer it again unless someone else reserved it meanwhile.
      if (!this.#record.has(port)) this.#registry.release(port);
      throw error;
    } finally {
      this.#picking.delete(port);
    }
  }

  async #heldElsewhere(port: number, given: boolean | undefined): Promise<boolean> {
    if (given !== undefined) return given;
    if (this.#portHeld === undefined) {
      throw new TypeError("Cannot release a port as neither heldElsewhere nor portHeld is given");
    }
    return await this.#portHeld(port);
  }

  #follow(change: RecordChange): void {
    for (const port of change.reserved) this.#registry.allocate(port);
    for (const port of change.released) {
      if (this.#picking.has(port)) continue;
      if (this.#registry.release(port)) this.#emit(port);
    }
  }

  #emit(port: number): void {
    for (const listener of this.#listeners) listener(port);
  }
}

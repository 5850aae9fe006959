/** `ClusterPortAllocator`, the controllers' fast path (docs/architecture.md, rules 0-3). @module */

import { inRanges, PortBitmap, type PortRange } from "../allocator/port_bitmap.ts";
import { PortRegistry } from "../allocator/port_registry.ts";
import {
  type AllocationRecord,
  AllocationRecordError,
  AllocationRecordMissingError,
  type ReserveOutcome,
} from "./allocation_record.ts";

/** Rule 2: a reserved port is not written into a HostPort later than this after it committed. */
export const DEFAULT_RESERVATION_TTL_MS = 30_000;

/** The API server's default request timeout: a write sent before it can still land this late. */
const API_SERVER_REQUEST_TIMEOUT_MS = 60_000;

/**
 * Rule 6: a leak candidate is freed only once its sightings span more than this (no status write
 * carrying it can still be in flight); also the pause after repair re-created a deleted record.
 */
export const DEFAULT_LEAK_HOLDOFF_MS = DEFAULT_RESERVATION_TTL_MS + API_SERVER_REQUEST_TIMEOUT_MS;

/** Allocation refused for now; look again in `retryInMs` (0: once repair rebuilt the record). */
export class AllocationUnavailableError extends Error {
  constructor(readonly reason: string, readonly retryInMs: number) {
    super(`Allocation is unavailable: ${reason}`);
    this.name = "AllocationUnavailableError";
  }
}

/** A committed reservation of this process; `reservedAt` is on the allocator's clock. */
export interface Reservation {
  readonly port: number;
  readonly reservedAt: number;
}

/**
 * A release: committed, or `"held"` (by another live HostPort), `"not-owned"` (no fresh
 * reservation of ours), `"unknown"` (assume it is still reserved; repair frees it).
 */
export type ReleasePortOutcome =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: "held" | "not-owned" | "unknown" };

/** A port held by a live HostPort, only by HostPorts being deleted, or not held (undefined). */
export type PortHolding = "held" | "releasing" | undefined;

/**
 * Cluster-wide port allocation for one operator process: ports are picked in memory (the record's
 * ports as last seen, plus ports being reserved or of unknown outcome) and returned only once the
 * record committed their reservation, so two processes (or calls) never get the same port. Repair
 * must run once before serving (`resync`). `onReleased` listeners must not throw.
 */
export class ClusterPortAllocator {
  #record: AllocationRecord;
  #registry = new PortRegistry();
  #now: () => number;
  /** This process's fresh reservations by HostPort key; insertion order is commit order. */
  #reservations = new Map<string, Reservation>();
  /** Reservations of the last request-timeout window (a write carrying them may be in flight). */
  #recent: Reservation[] = [];
  #picking = new Set<number>();
  /** Ports of releases this process has in flight (a port may repeat). */
  #releasing: number[] = [];
  #restoring = new Set<number>();
  #holding: (port: number) => PortHolding = () => undefined;
  #releasedListeners = new Set<(port: number) => void>();
  #restoredListeners = new Set<(ports: readonly number[]) => void>();
  #missingListeners = new Set<() => void>();
  #missing = false;
  #pausedUntil = -Infinity;
  #lastError: string | undefined;
  /** The record as last applied to the registry, and its version. */
  #seen = new PortBitmap();
  #seenVersion = -1;

  /** Creates the allocator over `record`, on a monotonic clock (default `performance.now()`). */
  constructor(options: { record: AllocationRecord; now?: () => number }) {
    this.#record = options.record;
    this.#now = options.now ?? (() => performance.now());
  }

  /**
   * Sets the held source (the HostPort cache): ports it names are never offered, and `"held"` ones
   * are reserved again when the record shows them released. `"releasing"` ones are not: that
   * release is most likely their finalizer-removal winner's, seen before our cache shows the
   * deletion (repair reserves them if they are still held).
   */
  useHeldSource(holding: (port: number) => PortHolding): void {
    this.#holding = holding;
  }

  /** Why allocation is refused now (the record is missing, or paused), or undefined. */
  #unavailable(): AllocationUnavailableError | undefined {
    if (this.awaitingRebuild()) {
      const reason = "the allocation record was deleted; repair is rebuilding it";
      return new AllocationUnavailableError(reason, 0);
    }
    const left = this.#pausedUntil - this.#now();
    if (left <= 0) return undefined;
    return new AllocationUnavailableError(
      `the allocation record was rebuilt; allocation resumes in ${Math.ceil(left / 1000)} s, ` +
        "once no write of a port reserved before the rebuild can still land",
      left,
    );
  }

  /** Whether the record was found deleted and repair has not re-created it yet. */
  awaitingRebuild(): boolean {
    return this.#missing || this.#pausedUntil === Infinity;
  }

  /** The readiness check "allocation": true, or why allocation cannot proceed. */
  readiness(): true | string {
    const reason = this.#unavailable()?.reason;
    if (reason !== undefined || this.#lastError === undefined) return reason ?? true;
    return `the allocation record failed: ${this.#lastError}`;
  }

  /** Refuses allocation for `ms` (repair: `Infinity` while it rebuilds, then the holdoff). */
  pauseAfterRebuild(ms: number): void {
    this.#missing = false;
    this.#pausedUntil = this.#now() + ms;
  }

  /** Calls `listener` when the record is found deleted (to run repair now). */
  onRecordMissing(listener: () => void): () => void {
    this.#missingListeners.add(listener);
    return () => this.#missingListeners.delete(listener);
  }

  /** Calls `listener` with held ports the record showed released and that were reserved again. */
  onRestored(listener: (ports: readonly number[]) => void): () => void {
    this.#restoredListeners.add(listener);
    return () => this.#restoredListeners.delete(listener);
  }

  /** Calls `listener` with every port that becomes free. */
  onReleased(listener: (port: number) => void): () => void {
    this.#releasedListeners.add(listener);
    return () => this.#releasedListeners.delete(listener);
  }

  /** After repair: rebuilds the registry from the record and `heldPorts`, telling `onReleased`. */
  resync(heldPorts: Iterable<number>): void {
    this.#lastError = undefined; // the record was just read
    const before = new Set(this.#registry.snapshot());
    this.#seen = this.#record.reserved();
    this.#seenVersion = this.#record.version;
    const ports = new Set([...this.#seen.toArray(), ...heldPorts, ...this.#picking]);
    this.#registry.restore([...ports].map((port) => ({ holder: undefined, port })));
    for (const port of before) if (!ports.has(port)) this.#emit(port);
  }

  /**
   * Reserves the first free port of `pools` (in order) for the HostPort `hostPortKey`; asking again
   * while its reservation is fresh returns the same port.
   *
   * @returns the port and `reservedAt` (for `isReservationFresh` right before the status write)
   * @throws {AllocationRecordError} or {AllocationUnavailableError} (rejection)
   */
  async allocate(
    hostPortKey: string,
    pools: readonly PortRange[],
  ): Promise<({ ok: true } & Reservation) | { ok: false; reason: "exhausted" }> {
    const existing = this.#fresh(hostPortKey);
    if (existing && inRanges(pools, existing.port)) return { ok: true, ...existing };
    while (true) {
      const unavailable = this.#unavailable();
      if (unavailable !== undefined) throw unavailable;
      this.#sync();
      const next = this.#registry.allocateNext(pools);
      if (!next.ok) return { ok: false, reason: "exhausted" };
      // Held ports beat the record: a port some HostPort holds stays marked and is skipped.
      if (this.#holding(next.port) !== undefined) continue;
      // Taken or unknown: the port stays held in memory, so the next pick is another one.
      if (!(await this.#reserve(next.port)).ok) continue;
      const reservation = { port: next.port, reservedAt: this.#now() };
      this.#reservations.delete(hostPortKey);
      this.#reservations.set(hostPortKey, reservation);
      this.#recent.push(reservation);
      return { ok: true, ...reservation };
    }
  }

  /** Rule 2: whether a reservation committed at `reservedAt` may still be written. */
  isReservationFresh(reservedAt: number): boolean {
    return this.#now() - reservedAt <= DEFAULT_RESERVATION_TTL_MS;
  }

  /** Forgets the reservation of `hostPortKey` once its status write committed. */
  forget(hostPortKey: string): void {
    this.#reservations.delete(hostPortKey);
  }

  /**
   * Rule 3, first case: releases `port` after this process removed the finalizer of the HostPort
   * that held it, unless another live HostPort holds it too (`heldElsewhere`).
   *
   * @throws {AllocationRecordError} (rejection) the release certainly did not commit; retry
   */
  async releaseAfterFinalizerRemoved(
    port: number,
    options: { heldElsewhere: boolean },
  ): Promise<ReleasePortOutcome> {
    if (options.heldElsewhere) return { ok: false, reason: "held" };
    return await this.#ownRelease(port);
  }

  /**
   * Rule 3, second case: releases the port reserved for `hostPortKey` when its status write was
   * refused and a fresh read shows the HostPort holds another port or is gone. `"not-owned"` when
   * no fresh reservation of `port` for that key is ours (an abandoned one waits for repair).
   *
   * @throws {AllocationRecordError} (rejection) the release certainly did not commit; retry
   */
  async releaseUnused(
    hostPortKey: string,
    port: number,
    options: { heldElsewhere: boolean },
  ): Promise<ReleasePortOutcome> {
    if (this.#fresh(hostPortKey)?.port !== port) return { ok: false, reason: "not-owned" };
    if (options.heldElsewhere) {
      this.#reservations.delete(hostPortKey);
      return { ok: false, reason: "held" };
    }
    const outcome = await this.#ownRelease(port); // a rejection keeps the entry for a retry
    this.#reservations.delete(hostPortKey);
    return outcome;
  }

  /** Ports this process reserved recently enough that a write carrying them may be in flight. */
  recentlyReserved(): number[] {
    this.#prune();
    return [...new Set(this.#recent.map((r) => r.port))].sort((a, b) => a - b);
  }

  /** The fresh reservation of `key`; stale ones are dropped first (abandoned, rule 2). */
  #fresh(key: string): Reservation | undefined {
    this.#prune();
    return this.#reservations.get(key);
  }

  #prune(): void {
    for (const [key, reservation] of this.#reservations) {
      if (this.isReservationFresh(reservation.reservedAt)) break;
      this.#reservations.delete(key);
    }
    const cutoff = this.#now() - DEFAULT_RESERVATION_TTL_MS - API_SERVER_REQUEST_TIMEOUT_MS;
    const stale = this.#recent.findIndex((r) => r.reservedAt >= cutoff);
    this.#recent.splice(0, stale === -1 ? this.#recent.length : stale);
  }

  async #reserve(port: number): Promise<ReserveOutcome> {
    this.#picking.add(port);
    try {
      const outcome = await this.#record.reserve(port);
      this.#lastError = undefined;
      return outcome;
    } catch (error) {
      // Certainly not committed: offer it again unless someone else reserved it meanwhile.
      if (!this.#record.has(port)) this.#registry.release(port);
      this.#recordFailed(error);
      throw error;
    } finally {
      this.#sync();
      this.#picking.delete(port);
    }
  }

  /** A release this process asked for: the cache may still show the port's last holder. */
  async #ownRelease(port: number): Promise<ReleasePortOutcome> {
    this.#releasing.push(port);
    try {
      return await this.#record.release(port);
    } catch (error) {
      this.#recordFailed(error);
      throw error;
    } finally {
      this.#sync();
      this.#releasing.splice(this.#releasing.indexOf(port), 1);
    }
  }

  #recordFailed(error: unknown): void {
    if (error instanceof AllocationRecordMissingError || this.#record.missing) {
      if (!this.#missing) {
        this.#missing = true;
        for (const listener of this.#missingListeners) listener();
      }
    } else if (error instanceof AllocationRecordError) {
      this.#lastError = error.message;
    }
  }

  /**
   * Reserves again ports the record showed released while a HostPort holds them; any other
   * outcome is left to repair. The ports stay held in memory either way.
   */
  async #restore(ports: readonly number[]): Promise<void> {
    for (const port of ports) this.#restoring.add(port);
    try {
      const reserve = (port: number) =>
        this.#record.reserve(port).then(({ ok }) => ok, () => false);
      const reserved = await Promise.all(ports.map(reserve));
      const restored = ports.filter((_, i) => reserved[i]);
      if (restored.length > 0) {
        for (const listener of this.#restoredListeners) listener(restored);
      }
    } finally {
      this.#sync();
      for (const port of ports) this.#restoring.delete(port);
    }
  }

  /** Applies what changed in the record since this process last looked. */
  #sync(): void {
    if (this.#record.version === this.#seenVersion) return;
    const record = this.#record.reserved();
    const seen = this.#seen;
    this.#seen = record;
    this.#seenVersion = this.#record.version;
    for (const port of record.toArray()) if (!seen.has(port)) this.#registry.allocate(port);
    const restore: number[] = [];
    for (const port of seen.toArray()) {
      if (record.has(port)) continue;
      if (this.#picking.has(port) || this.#restoring.has(port)) continue;
      // Held ports beat the record, unless this process released the port itself (its holder's
      // finalizer was removed, and the cache may not show the deletion yet).
      if (!this.#releasing.includes(port) && this.#holding(port) === "held") {
        this.#registry.allocate(port);
        restore.push(port);
        continue;
      }
      if (this.#registry.release(port)) this.#emit(port);
    }
    if (restore.length > 0) void this.#restore(restore);
  }

  #emit(port: number): void {
    for (const listener of this.#releasedListeners) listener(port);
  }
}

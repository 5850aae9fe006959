/**
 * Types of {@linkcode ClusterPortAllocator}, and `ReservationBook`: which HostPort each of this
 * process's fresh reservations is for, and which ports it reserved recently (rule 2). Pure: time
 * comes from an injected monotonic clock.
 *
 * @module
 */

import type { AllocationRecord } from "./allocation_record.ts";

/** Options of `ClusterPortAllocator`. */
export interface ClusterPortAllocatorOptions {
  /** The cluster-wide record that arbitrates every reservation. */
  record: AllocationRecord;
  /** Rule 2: how long after its commit a reservation may still be written; default 30 s. */
  reservationTtlMs?: number;
  /** A monotonic clock in milliseconds; default `performance.now()`. */
  now?: () => number;
  /**
   * Whether some live HostPort holds `port` (rule 3), for releases whose caller does not say.
   * The HostPort whose finalizer was just removed must not count.
   */
  portHeld?: (port: number) => boolean | Promise<boolean>;
}

/** A committed reservation of this process. */
export interface Reservation {
  /** The reserved port. */
  readonly port: number;
  /** When the reservation committed, on the allocator's monotonic clock. */
  readonly reservedAt: number;
}

/** The result of `ClusterPortAllocator.allocate`. */
export type AllocateOutcome =
  | ({ readonly ok: true } & Reservation)
  | { readonly ok: false; readonly reason: "exhausted" };

/**
 * The result of `ClusterPortAllocator.allocateRequested`: the reservation, or why not:
 * `"outside-pools"`, `"taken"` (reserved by someone), or `"unknown"` (the reservation may have
 * landed: do not use the port; it stays reserved until repair frees it).
 */
export type AllocateRequestedOutcome =
  | ({ readonly ok: true } & Reservation)
  | { readonly ok: false; readonly reason: "outside-pools" | "taken" | "unknown" };

/**
 * The result of a release: `{ ok: true }` once the record committed it (listeners of
 * `onReleased` have then been called), or why not: `"held"` (another live HostPort holds the
 * port, so it stays reserved), `"not-owned"` (no fresh reservation of this process), or
 * `"unknown"` (assume it is still reserved; repair frees it).
 */
export type ReleasePortOutcome =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: "held" | "not-owned" | "unknown" };

/** See the module documentation. */
export class ReservationBook {
  #now: () => number;
  #ttlMs: number;
  #recentMs: number;
  /** Insertion order is commit order, so stale entries are at the front. */
  #byKey = new Map<string, Reservation>();
  #recent: Reservation[] = [];
  /** Index of the first entry of `#recent` still in the window. */
  #head = 0;

  /**
   * @param now the monotonic clock
   * @param ttlMs how long a reservation stays fresh
   * @param recentMs how long a reservation counts as recent (a write may still be in flight)
   */
  constructor(now: () => number, ttlMs: number, recentMs: number) {
    this.#now = now;
    this.#ttlMs = ttlMs;
    this.#recentMs = recentMs;
  }

  /** Whether a reservation committed at `reservedAt` is still fresh. */
  isFresh(reservedAt: number): boolean {
    return this.#now() - reservedAt <= this.#ttlMs;
  }

  /** Records a reservation committed now for `key`, replacing any earlier one. */
  add(key: string, port: number): Reservation {
    const reservation = { port, reservedAt: this.#now() };
    this.#byKey.delete(key);
    this.#byKey.set(key, reservation);
    this.#recent.push(reservation);
    this.#prune();
    return reservation;
  }

  /** The fresh reservation of `key`; a stale one is dropped (abandoned, rule 2). */
  fresh(key: string): Reservation | undefined {
    const reservation = this.#byKey.get(key);
    if (reservation === undefined || this.isFresh(reservation.reservedAt)) return reservation;
    this.#byKey.delete(key);
    return undefined;
  }

  /** Forgets the reservation of `key`. */
  remove(key: string): void {
    this.#byKey.delete(key);
  }

  /** Ports reserved within the recent window, ascending, without duplicates. */
  recent(): number[] {
    this.#prune();
    const ports = this.#recent.slice(this.#head).map((r) => r.port);
    return [...new Set(ports)].sort((a, b) => a - b);
  }

  #prune(): void {
    for (const [key, reservation] of this.#byKey) {
      if (this.isFresh(reservation.reservedAt)) break;
      this.#byKey.delete(key);
    }
    const now = this.#now();
    const recent = this.#recent;
    while (this.#head < recent.length && now - recent[this.#head]!.reservedAt > this.#recentMs) {
      this.#head++;
    }
    if (this.#head > 1024 && this.#head * 2 > recent.length) {
      this.#recent = recent.slice(this.#head);
      this.#head = 0;
    }
  }
}

/**
 * What every controller is given (clients, caches, the allocator, Events, metrics, logs, time and
 * timings) and the small bookkeeping they share: when this process first saw a key, and which of
 * its own writes the cache has not caught up with yet.
 *
 * @module
 */
import type { Clock } from "../kube/clock.ts";
import type { EventRecorder, EventSubject, Logger } from "../ops/contracts.ts";
import type { ClusterPortAllocator } from "../allocation/cluster_port_allocator.ts";
import type { ControllerCaches, ControllerClients } from "./caches.ts";
import type { ControllerMetrics } from "./metrics.ts";

/** Resolved timings and sizes of the controllers. */
export interface ControllerSettings {
  /** Claim finalizer removal waits this long after the deletion was first seen (ms). */
  readonly claimDeletionGraceMs: number;
  /** An unbound claim without a phase is written `Pending` after this long (ms). */
  readonly pendingStatusDelayMs: number;
  /** Least time between two status writes of one HostPortClass (ms). */
  readonly classStatusIntervalMs: number;
}

/** The shared dependencies of the per-kind controllers. */
export interface ControllerContext {
  /** Typed clients for writes and live reads. */
  readonly clients: ControllerClients;
  /** Informer caches for reads. */
  readonly caches: ControllerCaches;
  /** Allocation through the cluster-wide record. */
  readonly allocator: ClusterPortAllocator;
  readonly recorder: EventRecorder;
  readonly metrics: ControllerMetrics;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly settings: ControllerSettings;
}

/** The Event subject of an object of ours. */
export function subjectOf(object: {
  apiVersion?: string | undefined;
  kind?: string | undefined;
  metadata: { name?: string | undefined; namespace?: string | undefined; uid?: string | undefined };
}): EventSubject {
  return {
    apiVersion: object.apiVersion ?? "",
    kind: object.kind ?? "",
    metadata: {
      name: object.metadata.name,
      namespace: object.metadata.namespace,
      uid: object.metadata.uid,
    },
  };
}

/** First-seen times by key. */
export class FirstSeen {
  #times = new Map<string, number>();

  /** Returns when `key` was first marked, marking it now (`nowMs`) if it never was. */
  mark(key: string, nowMs: number): number {
    const seen = this.#times.get(key);
    if (seen !== undefined) return seen;
    this.#times.set(key, nowMs);
    return nowMs;
  }

  /** Whether `key` was marked and not forgotten since. */
  has(key: string): boolean {
    return this.#times.has(key);
  }

  /** Forgets `key` (its object is gone). */
  forget(key: string): void {
    this.#times.delete(key);
  }

  /** How many keys are remembered. */
  get size(): number {
    return this.#times.size;
  }
}

/** Formats ms since the epoch as RFC 3339 with whole seconds, as the API server writes times. */
export function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** The cached versions that this process's writes have made stale, by key. */
export class OwnWrites {
  #staleVersions = new Map<string, string>();

  /** Notes that a write of `key`, planned from the cached `resourceVersion`, succeeded. */
  note(key: string, resourceVersion: string | undefined): void {
    if (resourceVersion) this.#staleVersions.set(key, resourceVersion);
  }

  /**
   * Whether the cache still shows `key` at a version this process has since written over; once
   * it shows any other version the key is forgotten (versions never repeat).
   */
  isBehind(key: string, cachedResourceVersion: string | undefined): boolean {
    const stale = this.#staleVersions.get(key);
    if (stale === undefined) return false;
    if (stale === cachedResourceVersion) return true;
    this.#staleVersions.delete(key);
    return false;
  }

  /** Forgets `key` (its object is gone). */
  forget(key: string): void {
    this.#staleVersions.delete(key);
  }

  /** How many keys are remembered. */
  get size(): number {
    return this.#staleVersions.size;
  }
}

/**
 * What every per-kind controller shares: clients, caches, the allocator, Events, metrics, logs,
 * the clock and the resolved settings.
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
  /** Events. */
  readonly recorder: EventRecorder;
  /** Metrics. */
  readonly metrics: ControllerMetrics;
  /** Logs. */
  readonly logger: Logger;
  /** Time. */
  readonly clock: Clock;
  /** Timings. */
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

/**
 * What every controller is given (clients, caches, allocator, Events, metrics, logs, clock,
 * timings) and the bookkeeping they share. Classes, HostPorts, claims and ResourceQuotas are the
 * {@linkcode SharedCaches} every replica keeps for its webhook; pods are watched only with the
 * label the pod webhook sets ({@linkcode POD_LABEL_KEY}), as summaries.
 *
 * @module
 */
import type { ResourceQuota } from "kubernetes-types/core/v1.d.ts";
import type { ClusterPortAllocator } from "../allocation/cluster_port_allocator.ts";
import { POD_LABEL_KEY } from "../api/constants.ts";
import {
  type HostPort,
  type HostPortClaim,
  type HostPortClass,
  isPlainObject,
  type ObjectReference,
} from "../api/types.ts";
import type { Clock } from "../kube/clock.ts";
import { Informer, type InformerOptions } from "../kube/informer.ts";
import {
  createKubeClients,
  type KubeClients,
  type KubeObject,
  POD_RESOURCE,
  ResourceClient,
  type ResourceDescriptor,
} from "../kube/resource.ts";
import type { RestClient } from "../kube/rest_client.ts";
import type { EventRecorder, EventSubject, Logger, MetricsRegistry } from "../ops/contracts.ts";
import { claimNamesOfPod, type PodSummary, summarizePod } from "../reconcile/pods.ts";
import { type ControllerMetrics, createControllerMetrics, describe } from "./controller.ts";

/** The shared dependencies of the per-kind controllers. */
export interface ControllerContext {
  /** For writes and live reads. */
  readonly clients: ControllerClients;
  readonly caches: ControllerCaches;
  readonly allocator: ClusterPortAllocator;
  readonly recorder: EventRecorder;
  readonly metrics: ControllerMetrics;
  readonly logger: Logger;
  readonly clock: Clock;
  /** Resolved timings in ms (`ControllersOptions` says what each is). */
  readonly claimDeletionGraceMs: number;
  readonly pendingStatusDelayMs: number;
}

/** Index names of the caches. */
export const INDEX = {
  /** HostPorts and claims by `spec.hostPortClassName`. */
  byClass: "byClass",
  /** HostPorts by the `namespace/name` their `claimRef` names. */
  byClaim: "byClaim",
  /** HostPorts by `status.port` (held ports only). */
  byPort: "byPort",
  /** Claims by `spec.hostPortName`. */
  byHostPort: "byHostPort",
  /** Pods by the `namespace/claim` of each claim they name. */
  byPodClaim: "byPodClaim",
} as const;

/** The `namespace/name` of the claim a `claimRef` names, if it names one. */
export function claimRefKey(ref: ObjectReference | undefined): string | undefined {
  return ref?.name ? `${ref.namespace ?? ""}/${ref.name}` : undefined;
}

/** The names of the HostPorts the cache shows holding `port` (none for port 0). */
export function portHolders(caches: Pick<ControllerCaches, "hostPorts">, port: number): string[] {
  if (port <= 0) return [];
  return caches.hostPorts.store.byIndex(INDEX.byPort, String(port))
    .map((holder) => holder.metadata.name ?? "");
}

/** The typed clients the controllers write with: the operator's, and pods as summaries. */
export interface ControllerClients extends KubeClients {
  readonly podSummaries: ResourceClient<PodSummary>;
}

/** The informers every replica keeps for its webhook, which the leader's controllers share. */
export interface SharedCaches {
  readonly classes: Informer<HostPortClass>;
  readonly claims: Informer<HostPortClaim>;
  readonly hostPorts: Informer<HostPort>;
  readonly quotas: Informer<ResourceQuota>;
}

/** The informers, one per kind (pods: those labelled {@linkcode POD_LABEL_KEY}). */
export type ControllerCaches = SharedCaches & { readonly pods: Informer<PodSummary> };

/** Builds the clients over one REST client. */
export function createControllerClients(rest: RestClient): ControllerClients {
  return {
    ...createKubeClients(rest),
    podSummaries: new ResourceClient(rest, POD_SUMMARY_RESOURCE),
  };
}

/** Where an informer reports retried list and watch failures and objects it cannot decode. */
type Reporting = Pick<ControllerContext, "logger" | "recorder" | "metrics">;

/**
 * Informer options reporting under `kind`: a warning per retried list or watch failure; per
 * undecodable object a warning, a Warning Event on it, and the quarantine size as a gauge.
 */
function reportingAs<T extends KubeObject>(kind: string, reporting: Reporting): InformerOptions<T> {
  const { logger, recorder, metrics } = reporting;
  metrics.undecodableObjects.set({ kind }, 0);
  return {
    onError: (error, context) =>
      logger.warn("Watch failed, retrying", { kind, ...context, error: describe(error) }),
    onUndecodable: (object, error) => {
      const subject = subjectOf(object, kind);
      logger.warn("Ignoring an object that cannot be decoded", {
        kind,
        name: subject.metadata.name,
        ...(subject.metadata.namespace ? { namespace: subject.metadata.namespace } : {}),
        error: error.message,
      });
      const message = `${error.message}. The operator ignores this object until it is fixed`;
      recorder.record(subject, "Warning", "UndecodableObject", message);
    },
    onQuarantineChanged: (quarantined) =>
      metrics.undecodableObjects.set({ kind }, quarantined.size),
  };
}

/** The controllers' caches: `shared`, and a (stopped) pod informer reporting through `reporting`. */
export function createControllerCaches(
  clients: ControllerClients,
  shared: SharedCaches,
  reporting: Reporting,
): ControllerCaches {
  const pods = new Informer(clients.podSummaries, {
    labelSelector: POD_LABEL_KEY,
    indexers: {
      [INDEX.byPodClaim]: (pod) =>
        claimNamesOfPod(pod).map((claim) => `${pod.metadata.namespace ?? ""}/${claim}`),
    },
    ...reportingAs("Pod", reporting),
  });
  const { classes, hostPorts, claims, quotas } = shared; // not the rest of a RunningSharedCaches
  return { classes, hostPorts, claims, quotas, pods };
}

/** Shared caches that run, from {@linkcode startSharedCaches}. */
export interface RunningSharedCaches extends SharedCaches {
  /** Resolves true once every one has listed; false if stopped first. */
  readonly synced: Promise<boolean>;
  stop(): Promise<void>;
}

/**
 * Builds and starts, with the controllers' indexes, the informers a replica keeps for its whole
 * life: its webhook reads them, and its controllers share them while it leads.
 */
export function startSharedCaches(
  rest: RestClient,
  deps: { logger: Logger; recorder: EventRecorder; metrics: MetricsRegistry },
): RunningSharedCaches {
  const reporting = {
    logger: deps.logger.child({ component: "caches" }),
    recorder: deps.recorder,
    metrics: createControllerMetrics(deps.metrics),
  };
  const clients = createControllerClients(rest);
  const caches: SharedCaches = {
    classes: new Informer(clients.hostPortClasses, reportingAs("HostPortClass", reporting)),
    hostPorts: new Informer(clients.hostPorts, {
      indexers: {
        [INDEX.byClass]: (hostPort) => [hostPort.spec.hostPortClassName],
        [INDEX.byClaim]: (hostPort) => {
          const key = claimRefKey(hostPort.spec.claimRef);
          return key === undefined ? [] : [key];
        },
        [INDEX.byPort]: (hostPort) => {
          const port = hostPort.status?.port ?? 0;
          return port > 0 ? [String(port)] : [];
        },
      },
      ...reportingAs("HostPort", reporting),
    }),
    claims: new Informer(clients.hostPortClaims, {
      indexers: {
        [INDEX.byClass]: (claim) => [claim.spec.hostPortClassName],
        [INDEX.byHostPort]: (claim) => claim.spec.hostPortName ? [claim.spec.hostPortName] : [],
      },
      ...reportingAs("HostPortClaim", reporting),
    }),
    quotas: new Informer(clients.quotas, reportingAs("ResourceQuota", reporting)),
  };
  const informers = Object.values(caches);
  for (const informer of informers) informer.start();
  return {
    ...caches,
    synced: cachesSynced(caches),
    stop: async () => void await Promise.all(informers.map((informer) => informer.stop())),
  };
}

/** Resolves once every informer has listed; false if one was stopped first. */
export async function cachesSynced(caches: SharedCaches): Promise<boolean> {
  const results = await Promise.all(Object.values(caches).map((informer) => informer.synced));
  return results.every(Boolean);
}

/** `v1` Pods, checked as `POD_RESOURCE` checks them, then summarised (lists, watches, gets). */
const POD_SUMMARY_RESOURCE: ResourceDescriptor<PodSummary> = {
  ...POD_RESOURCE,
  decode: (value) => summarizePod(POD_RESOURCE.decode(value) as Parameters<typeof summarizePod>[0]),
};

/** The Event subject of an object, whatever its fields hold; `kind` when it names none. */
export function subjectOf(
  object: { apiVersion?: unknown; kind?: unknown; metadata?: unknown },
  kind = "",
): EventSubject {
  const metadata = isPlainObject(object.metadata) ? object.metadata : {};
  const text = (value: unknown) => typeof value === "string" && value !== "" ? value : undefined;
  return {
    apiVersion: text(object.apiVersion) ?? "",
    kind: text(object.kind) ?? kind,
    metadata: {
      name: text(metadata.name),
      namespace: text(metadata.namespace),
      uid: text(metadata.uid),
    },
  };
}

/** First-seen times (ms) by key. */
export class FirstSeen extends Map<string, number> {
  /** Returns when `key` was first marked, marking it now (`nowMs`) if it never was. */
  mark(key: string, nowMs: number): number {
    if (!this.has(key)) this.set(key, nowMs);
    return this.get(key)!;
  }
}

/** The cached versions that this process's writes have made stale, by key. */
export class OwnWrites extends Map<string, string> {
  /** Notes that a write of `key`, planned from the cached `resourceVersion`, succeeded. */
  note(key: string, resourceVersion: string | undefined): void {
    if (resourceVersion) this.set(key, resourceVersion);
  }

  /** Whether the cache still shows `key` at a version since written over (versions never repeat). */
  isBehind(key: string, cachedResourceVersion: string | undefined): boolean {
    const stale = this.get(key);
    if (stale === undefined) return false;
    if (stale === cachedResourceVersion) return true;
    this.delete(key);
    return false;
  }
}

/**
 * The informers the controllers read from, with the indexes they look things up by. Classes,
 * HostPorts, claims and ResourceQuotas can come from {@linkcode SharedCaches} that every replica
 * keeps for its webhook, so the leader watches each kind once; pods are watched only if they carry the label the pod
 * webhook sets ({@linkcode POD_LABEL_KEY}), and cached as summaries.
 *
 * @module
 */
import { POD_LABEL_KEY } from "../api/constants.ts";
import { isPlainObject } from "../api/types.ts";
import { type HostPort } from "../api/types.ts";
import { type HostPortClaim } from "../api/types.ts";
import { type HostPortClass } from "../api/types.ts";
import {
  HOST_PORT_CLAIM_RESOURCE,
  HOST_PORT_CLASS_RESOURCE,
  HOST_PORT_RESOURCE,
  RESOURCE_QUOTA_RESOURCE,
} from "../kube/resource.ts";
import { Informer, type InformerErrorContext, type InformerOptions } from "../kube/informer.ts";
import {
  defineResource,
  type KubeObject,
  ResourceClient,
  type ResourceDescriptor,
} from "../kube/resource.ts";
import { type RestClient } from "../kube/rest_client.ts";
import type { ResourceQuota } from "kubernetes-types/core/v1.d.ts";
import type { EventRecorder, EventSubject, Logger, MetricsRegistry } from "../ops/contracts.ts";
import { describe } from "./controller.ts";
import { type ControllerMetrics, createControllerMetrics } from "./metrics.ts";
import { claimNamesOfPod, type PodSummary, summarizePod } from "../reconcile/pods.ts";

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

/** The names of the HostPorts the cache shows holding `port` (none for port 0). */
export function portHolders(caches: Pick<ControllerCaches, "hostPorts">, port: number): string[] {
  if (port <= 0) return [];
  return caches.hostPorts.store.byIndex(INDEX.byPort, String(port))
    .map((holder) => holder.metadata.name ?? "");
}

/** The typed clients the controllers write with. */
export interface ControllerClients {
  readonly classes: ResourceClient<HostPortClass>;
  readonly claims: ResourceClient<HostPortClaim>;
  readonly hostPorts: ResourceClient<HostPort>;
  /** Pods, as summaries (live lists before a claim's finalizer is removed). */
  readonly pods: ResourceClient<PodSummary>;
  /** ResourceQuotas (claim quotas: usage written into their status). */
  readonly quotas: ResourceClient<ResourceQuota>;
}

/** The informers, one per kind. */
export interface ControllerCaches {
  readonly classes: Informer<HostPortClass>;
  /** HostPortClaims, indexed by class and HostPort name. */
  readonly claims: Informer<HostPortClaim>;
  /** HostPorts, indexed by class and claim. */
  readonly hostPorts: Informer<HostPort>;
  /** Summaries of the pods labelled {@linkcode POD_LABEL_KEY}, indexed by the claims they name. */
  readonly pods: Informer<PodSummary>;
  /** ResourceQuotas of every namespace (claim quotas, lib/quota). */
  readonly quotas: Informer<ResourceQuota>;
}

/** The informers every replica keeps for its webhook, which the leader's controllers share. */
export type SharedCaches = Pick<ControllerCaches, "classes" | "hostPorts" | "claims" | "quotas">;

/** Builds the clients over one REST client. */
export function createControllerClients(rest: RestClient): ControllerClients {
  return {
    classes: new ResourceClient(rest, HOST_PORT_CLASS_RESOURCE),
    claims: new ResourceClient(rest, HOST_PORT_CLAIM_RESOURCE),
    hostPorts: new ResourceClient(rest, HOST_PORT_RESOURCE),
    pods: new ResourceClient(rest, POD_SUMMARY_RESOURCE),
    quotas: new ResourceClient(rest, RESOURCE_QUOTA_RESOURCE),
  };
}

/** Where the caches report objects they cannot decode. */
export interface UndecodableReporting {
  /** Gets a warning per undecodable object version. */
  readonly logger: Logger;
  /** Gets a Warning Event per undecodable object version. */
  readonly recorder: EventRecorder;
  /** `undecodableObjects` is kept equal to each cache's quarantine size. */
  readonly metrics: Pick<ControllerMetrics, "undecodableObjects">;
}

/**
 * The informer options that report undecodable objects of `kind`: a warning log naming the
 * object and the decode error, a Warning Event on the object, and the gauge
 * `hostport_allocator_undecodable_objects{kind}` set to the quarantine size.
 */
function undecodableReporting<T extends KubeObject>(
  kind: string,
  reporting: UndecodableReporting,
): Pick<InformerOptions<T>, "onUndecodable" | "onQuarantineChanged"> {
  reporting.metrics.undecodableObjects.set({ kind }, 0);
  return {
    onUndecodable: (object, error) => {
      const subject = rawSubject(object, kind);
      reporting.logger.warn("Ignoring an object that cannot be decoded", {
        kind,
        name: subject.metadata.name,
        ...(subject.metadata.namespace ? { namespace: subject.metadata.namespace } : {}),
        error: error.message,
      });
      const message = `${error.message}. The operator ignores this object until it is fixed`;
      reporting.recorder.record(subject, "Warning", "UndecodableObject", message);
    },
    onQuarantineChanged: (quarantined) =>
      reporting.metrics.undecodableObjects.set({ kind }, quarantined.size),
  };
}

/** The Event subject of a raw object (whatever its fields hold). */
function rawSubject(object: Record<string, unknown>, kind: string): EventSubject {
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

/**
 * Builds the (stopped) informers; `onError` hears about retried list and watch failures, and
 * `reporting` (when given) about objects that do not decode. With `shared`, its informers are
 * used as they are (their owner starts and stops them).
 */
export function createControllerCaches(
  clients: ControllerClients,
  onError: (kind: string, error: unknown, context: InformerErrorContext) => void,
  reporting?: UndecodableReporting,
  shared?: SharedCaches,
): ControllerCaches {
  const options = <T extends KubeObject>(kind: string) =>
    informerOptions<T>(kind, onError, reporting);
  const { classes, hostPorts, claims, quotas } = shared ??
    createSharedCaches(clients, onError, reporting);
  return {
    classes,
    hostPorts,
    claims,
    quotas,
    pods: new Informer(clients.pods, {
      labelSelector: POD_LABEL_KEY,
      indexers: {
        [INDEX.byPodClaim]: (pod) =>
          claimNamesOfPod(pod).map((claim) => `${pod.metadata.namespace ?? ""}/${claim}`),
      },
      ...options("Pod"),
    }),
  };
}

/**
 * Builds the (stopped) class, HostPort, claim and ResourceQuota informers with the controllers'
 * indexes, for {@linkcode createControllerCaches} and for the webhook of every replica to share.
 */
export function createSharedCaches(
  clients: Pick<ControllerClients, "classes" | "hostPorts" | "claims" | "quotas">,
  onError: (kind: string, error: unknown, context: InformerErrorContext) => void,
  reporting?: UndecodableReporting,
): SharedCaches {
  const options = <T extends KubeObject>(kind: string) =>
    informerOptions<T>(kind, onError, reporting);
  return {
    classes: new Informer(clients.classes, options("HostPortClass")),
    hostPorts: new Informer(clients.hostPorts, {
      indexers: {
        [INDEX.byClass]: (hostPort) => [hostPort.spec.hostPortClassName],
        [INDEX.byClaim]: (hostPort) => {
          const ref = hostPort.spec.claimRef;
          return ref?.name ? [`${ref.namespace ?? ""}/${ref.name}`] : [];
        },
        [INDEX.byPort]: (hostPort) => {
          const port = hostPort.status?.port ?? 0;
          return port > 0 ? [String(port)] : [];
        },
      },
      ...options("HostPort"),
    }),
    claims: new Informer(clients.claims, {
      indexers: {
        [INDEX.byClass]: (claim) => [claim.spec.hostPortClassName],
        [INDEX.byHostPort]: (claim) => claim.spec.hostPortName ? [claim.spec.hostPortName] : [],
      },
      ...options("HostPortClaim"),
    }),
    quotas: new Informer(clients.quotas, options("ResourceQuota")),
  };
}

/** Shared caches that run, from {@linkcode startSharedCaches}. */
export interface RunningSharedCaches extends SharedCaches {
  /** Resolves true once every one has listed; false if stopped first. */
  readonly synced: Promise<boolean>;
  /** Stops the informers. */
  stop(): Promise<void>;
}

/**
 * Builds and starts the class, HostPort, claim and ResourceQuota informers a replica keeps for
 * its whole life: its webhook reads them, and its controllers share them while it leads. Watch failures and objects
 * that do not decode are reported through `deps`.
 */
export function startSharedCaches(
  rest: RestClient,
  deps: { logger: Logger; recorder: EventRecorder; metrics: MetricsRegistry },
): RunningSharedCaches {
  const logger = deps.logger.child({ component: "caches" });
  const { pods: _pods, ...clients } = createControllerClients(rest);
  const caches = createSharedCaches(
    clients,
    (kind, error, context) =>
      logger.warn("Watch failed, retrying", { kind, ...context, error: describe(error) }),
    { logger, recorder: deps.recorder, metrics: createControllerMetrics(deps.metrics) },
  );
  startCaches(caches);
  return { ...caches, synced: cachesSynced(caches), stop: () => stopCaches(caches) };
}

/** Options every cache gets: its errors and undecodable objects reported under `kind`. */
function informerOptions<T extends KubeObject>(
  kind: string,
  onError: (kind: string, error: unknown, context: InformerErrorContext) => void,
  reporting: UndecodableReporting | undefined,
): InformerOptions<T> {
  return {
    onError: (error, context) => onError(kind, error, context),
    ...(reporting ? undecodableReporting<T>(kind, reporting) : {}),
  };
}

/** Starts every informer of `caches`. */
export function startCaches(caches: Partial<ControllerCaches>): void {
  for (const informer of Object.values(caches)) informer.start();
}

/** Resolves once every informer has listed; false if one was stopped first. */
export async function cachesSynced(caches: Partial<ControllerCaches>): Promise<boolean> {
  const results = await Promise.all(Object.values(caches).map((informer) => informer.synced));
  return results.every(Boolean);
}

/** Stops every informer of `caches`. */
export async function stopCaches(caches: Partial<ControllerCaches>): Promise<void> {
  await Promise.all(Object.values(caches).map((informer) => informer.stop()));
}

/** `v1` Pods, decoded to `PodSummary` (lists, watches and gets alike). */
export const POD_SUMMARY_RESOURCE: ResourceDescriptor<PodSummary> = defineResource<PodSummary>({
  group: "",
  version: "v1",
  kind: "Pod",
  plural: "pods",
  namespaced: true,
  schema: {
    parse(value: unknown): PodSummary {
      const summary = summarizePod(value as Parameters<typeof summarizePod>[0]);
      if (!summary.metadata.name) throw new TypeError("metadata.name is missing");
      return summary;
    },
  },
});

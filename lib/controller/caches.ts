/**
 * The informers the controllers read from, with the indexes they look things up by.
 *
 * @module
 */
import type { HostPort, HostPortClaim, HostPortClass } from "../api/mod.ts";
import {
  HOST_PORT_CLAIM_RESOURCE,
  HOST_PORT_CLASS_RESOURCE,
  HOST_PORT_RESOURCE,
  Informer,
  type InformerErrorContext,
  ResourceClient,
  type RestClient,
} from "../kube/mod.ts";
import { claimNamesOfPod, type PodSummary } from "../reconcile/mod.ts";
import { POD_SUMMARY_RESOURCE } from "./pod_resource.ts";

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

/** The typed clients the controllers write with. */
export interface ControllerClients {
  /** HostPortClasses. */
  readonly classes: ResourceClient<HostPortClass>;
  /** HostPortClaims. */
  readonly claims: ResourceClient<HostPortClaim>;
  /** HostPorts. */
  readonly hostPorts: ResourceClient<HostPort>;
  /** Pods, as summaries (live lists before a claim's finalizer is removed). */
  readonly pods: ResourceClient<PodSummary>;
}

/** The informers, one per kind. */
export interface ControllerCaches {
  /** HostPortClasses. */
  readonly classes: Informer<HostPortClass>;
  /** HostPortClaims, indexed by class and HostPort name. */
  readonly claims: Informer<HostPortClaim>;
  /** HostPorts, indexed by class and claim. */
  readonly hostPorts: Informer<HostPort>;
  /** Pod summaries of every namespace, indexed by the claims they name. */
  readonly pods: Informer<PodSummary>;
}

/** Builds the clients over one REST client. */
export function createControllerClients(rest: RestClient): ControllerClients {
  return {
    classes: new ResourceClient(rest, HOST_PORT_CLASS_RESOURCE),
    claims: new ResourceClient(rest, HOST_PORT_CLAIM_RESOURCE),
    hostPorts: new ResourceClient(rest, HOST_PORT_RESOURCE),
    pods: new ResourceClient(rest, POD_SUMMARY_RESOURCE),
  };
}

/** Builds the (stopped) informers; `onError` hears about retried list and watch failures. */
export function createControllerCaches(
  clients: ControllerClients,
  onError: (kind: string, error: unknown, context: InformerErrorContext) => void,
): ControllerCaches {
  return {
    classes: new Informer(clients.classes, {
      onError: (error, context) => onError("HostPortClass", error, context),
    }),
    claims: new Informer(clients.claims, {
      indexers: {
        [INDEX.byClass]: (claim) => [claim.spec.hostPortClassName],
        [INDEX.byHostPort]: (claim) => claim.spec.hostPortName ? [claim.spec.hostPortName] : [],
      },
      onError: (error, context) => onError("HostPortClaim", error, context),
    }),
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
      onError: (error, context) => onError("HostPort", error, context),
    }),
    pods: new Informer(clients.pods, {
      indexers: {
        [INDEX.byPodClaim]: (pod) =>
          claimNamesOfPod(pod).map((claim) => `${pod.metadata.namespace ?? ""}/${claim}`),
      },
      onError: (error, context) => onError("Pod", error, context),
    }),
  };
}

/** Starts every informer. */
export function startCaches(caches: ControllerCaches): void {
  for (const informer of Object.values(caches)) informer.start();
}

/** Resolves once every informer has listed; false if one was stopped first. */
export async function cachesSynced(caches: ControllerCaches): Promise<boolean> {
  const results = await Promise.all(Object.values(caches).map((informer) => informer.synced));
  return results.every(Boolean);
}

/** Stops every informer. */
export async function stopCaches(caches: ControllerCaches): Promise<void> {
  await Promise.all(Object.values(caches).map((informer) => informer.stop()));
}

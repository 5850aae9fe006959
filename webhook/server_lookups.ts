/**
 * The admission server's lookups over the Kubernetes client: informer caches answer first, and
 * a live GET confirms every answer that would refuse a pod (object missing from the cache, claim
 * not bound, HostPort without a port). So a pod is never refused because the cache lags behind a
 * claim that was just bound (the original said `Not found` then), and the common, admitted case
 * costs no API call.
 *
 * @module
 */
import {
  CLAIM_PHASE,
  FINALIZER,
  HOST_PORT_PHASE,
  type HostPort,
  type HostPortClaim,
  type HostPortClass,
} from "../lib/api/mod.ts";
import {
  Informer,
  type KubeClients,
  NotFoundError,
  type ResourceClient,
  type StoreReader,
} from "../lib/kube/mod.ts";
import type { AdmissionLookups } from "./lookups.ts";

/** The caches the lookups read (informer stores, or any `Store`). */
export interface LookupCaches {
  /** HostPortClaims by namespace and name. */
  claims: Pick<StoreReader<HostPortClaim>, "getByName">;
  /** HostPorts by name. */
  hostPorts: Pick<StoreReader<HostPort>, "getByName">;
  /** Every HostPortClass. */
  classes: Pick<StoreReader<HostPortClass>, "list">;
}

/** Live readers that confirm what the cache would refuse; without them the cache is final. */
export interface LiveReaders {
  /** HostPortClaims. */
  claims: Pick<ResourceClient<HostPortClaim>, "get">;
  /** HostPorts. */
  hostPorts: Pick<ResourceClient<HostPort>, "get">;
}

function claimIsUsable(claim: HostPortClaim | undefined): boolean {
  return claim?.status?.phase === CLAIM_PHASE.Bound &&
    claim.metadata.deletionTimestamp === undefined &&
    (claim.metadata.finalizers ?? []).includes(FINALIZER) &&
    (claim.spec.hostPortName ?? "") !== "";
}

function hostPortIsUsable(hostPort: HostPort | undefined): boolean {
  return hostPort?.status?.phase === HOST_PORT_PHASE.Allocated && (hostPort.status.port ?? 0) > 0;
}

async function getOrUndefined<T>(read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch (error) {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  }
}

/**
 * Builds lookups over caches, confirming refusals live when `live` is given.
 *
 * @param caches where answers come from first
 * @param live readers for a fresh answer when the cached one would refuse
 */
export function cachedAdmissionLookups(caches: LookupCaches, live?: LiveReaders): AdmissionLookups {
  return {
    getClaim(namespace, name) {
      const cached = caches.claims.getByName(name, namespace);
      if (claimIsUsable(cached) || live === undefined) return Promise.resolve(cached);
      return getOrUndefined(() => live.claims.get(name, { namespace }));
    },
    getHostPort(name) {
      const cached = caches.hostPorts.getByName(name);
      if (hostPortIsUsable(cached) || live === undefined) return Promise.resolve(cached);
      return getOrUndefined(() => live.hostPorts.get(name));
    },
    listHostPortClasses() {
      return Promise.resolve(caches.classes.list());
    },
  };
}

/** Informer-backed lookups, from {@linkcode startAdmissionLookups}. */
export interface RunningLookups extends AsyncDisposable {
  /** The lookups to give the server. */
  lookups: AdmissionLookups;
  /** Resolves true once all three caches have been filled. */
  synced: Promise<boolean>;
  /** Stops the informers. */
  stop(): Promise<void>;
}

/**
 * Starts informers for claims, HostPorts and classes and returns lookups over them (with live
 * confirmation of refusals).
 *
 * @param kube the typed clients
 */
export function startAdmissionLookups(kube: KubeClients): RunningLookups {
  const claims = new Informer(kube.hostPortClaims);
  const hostPorts = new Informer(kube.hostPorts);
  const classes = new Informer(kube.hostPortClasses);
  const informers = [claims, hostPorts, classes] as const;
  for (const informer of informers) informer.start();
  const stop = async () => {
    await Promise.all(informers.map((informer) => informer.stop()));
  };
  return {
    lookups: cachedAdmissionLookups(
      { claims: claims.store, hostPorts: hostPorts.store, classes: classes.store },
      { claims: kube.hostPortClaims, hostPorts: kube.hostPorts },
    ),
    synced: Promise.all(informers.map((informer) => informer.synced)).then((all) =>
      all.every(Boolean)
    ),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/**
 * The admission server's lookups over the Kubernetes client. Claims are read live (a GET per
 * claim) whenever live readers are given: a claim turning `Deleting` must stop new pods at once,
 * and an informer whose watch stalls or lags would still show it bound (issue #9); a failed read
 * refuses the pod (fail closed). HostPorts and classes come from informer caches first: a
 * HostPort's port never changes once set and a claim that is not deleting protects its HostPort,
 * so a cached, usable HostPort is safe; a live GET confirms every HostPort answer that would
 * refuse a pod (missing from the cache, or without a port yet), so a lagging cache never refuses.
 *
 * @module
 */
import {
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
  /** HostPortClaims by namespace and name; unused (and not needed) when claims are read live. */
  claims?: Pick<StoreReader<HostPortClaim>, "getByName">;
  /** HostPorts by name. */
  hostPorts: Pick<StoreReader<HostPort>, "getByName">;
  /** Every HostPortClass. */
  classes: Pick<StoreReader<HostPortClass>, "list">;
}

/** Live readers: every claim is read live, HostPorts only to confirm a refusal; without them the cache is final. */
export interface LiveReaders {
  /** HostPortClaims. */
  claims: Pick<ResourceClient<HostPortClaim>, "get">;
  /** HostPorts. */
  hostPorts: Pick<ResourceClient<HostPort>, "get">;
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
 * Builds lookups over caches; with `live`, claims are always read live and HostPort refusals are
 * confirmed live.
 *
 * @param caches where answers come from first (claims only without `live`)
 * @param live readers for fresh answers
 */
export function cachedAdmissionLookups(caches: LookupCaches, live?: LiveReaders): AdmissionLookups {
  return {
    getClaim(namespace, name) {
      if (live === undefined) return Promise.resolve(caches.claims?.getByName(name, namespace));
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
  /** Resolves true once both caches have been filled. */
  synced: Promise<boolean>;
  /** Stops the informers it started (not shared ones). */
  stop(): Promise<void>;
}

/** Informers the process already runs (its shared caches), read instead of starting others. */
export interface SharedInformers {
  /** HostPorts. */
  hostPorts: Pick<Informer<HostPort>, "store" | "synced">;
  /** HostPortClasses. */
  classes: Pick<Informer<HostPortClass>, "store" | "synced">;
}

/**
 * Returns lookups over HostPort and class informers (`shared`, or informers started here), with
 * claims read live and HostPort refusals confirmed live.
 *
 * @param kube the typed clients
 * @param shared informers someone else starts and stops
 */
export function startAdmissionLookups(kube: KubeClients, shared?: SharedInformers): RunningLookups {
  const own = shared === undefined
    ? { hostPorts: new Informer(kube.hostPorts), classes: new Informer(kube.hostPortClasses) }
    : undefined;
  const { hostPorts, classes } = shared ?? own!;
  const owned = own ? [own.hostPorts, own.classes] : [];
  for (const informer of owned) informer.start();
  const stop = async () => {
    await Promise.all(owned.map((informer) => informer.stop()));
  };
  return {
    lookups: cachedAdmissionLookups(
      { hostPorts: hostPorts.store, classes: classes.store },
      { claims: kube.hostPortClaims, hostPorts: kube.hostPorts },
    ),
    synced: Promise.all([hostPorts.synced, classes.synced]).then((all) => all.every(Boolean)),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

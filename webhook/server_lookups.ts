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
  AlreadyExistsError,
  Informer,
  type KubeClients,
  NotFoundError,
  type ResourceClient,
  type StoreReader,
} from "../lib/kube/mod.ts";
import { retentionPolicyOf } from "./claim_templates.ts";
import type { AdmissionLookups, TemplateClaimStore } from "./lookups.ts";

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

/**
 * Per-pod claims' reads and claim create, all live: the template and StatefulSet are read once
 * per admission, and the create is the only write the webhook makes.
 *
 * @param kube the typed clients
 */
export function liveTemplateClaimStore(
  kube: Pick<KubeClients, "hostPortClaimTemplates" | "statefulSets" | "hostPortClaims">,
): TemplateClaimStore {
  return {
    getTemplate: (namespace, name) =>
      getOrUndefined(() => kube.hostPortClaimTemplates.get(name, { namespace })),
    async getStatefulSet(namespace, name) {
      const set = await getOrUndefined(() => kube.statefulSets.get(name, { namespace }));
      if (set === undefined) return undefined;
      return {
        uid: set.metadata?.uid ?? "",
        policy: retentionPolicyOf(set.spec?.persistentVolumeClaimRetentionPolicy),
      };
    },
    async createClaim(claim) {
      try {
        await kube.hostPortClaims.create(claim);
        return true;
      } catch (error) {
        if (error instanceof AlreadyExistsError) return false;
        throw error;
      }
    },
    async deleteClaim(namespace, name, uid) {
      try {
        await kube.hostPortClaims.delete(name, { namespace, preconditions: { uid } });
      } catch {
        // Best effort: the template-claim controller deletes claims no pod took.
      }
    },
  };
}

/** Informer-backed lookups, from {@linkcode startAdmissionLookups}. */
export interface RunningLookups extends AsyncDisposable {
  /** The lookups to give the server. */
  lookups: AdmissionLookups;
  /** Resolves true once both caches have been filled. */
  synced: Promise<boolean>;
  /** Stops the informers. */
  stop(): Promise<void>;
}

/**
 * Starts informers for HostPorts and classes and returns lookups over them, with claims read live
 * and HostPort refusals confirmed live.
 *
 * @param kube the typed clients
 */
export function startAdmissionLookups(kube: KubeClients): RunningLookups {
  const hostPorts = new Informer(kube.hostPorts);
  const classes = new Informer(kube.hostPortClasses);
  const informers = [hostPorts, classes] as const;
  for (const informer of informers) informer.start();
  const stop = async () => {
    await Promise.all(informers.map((informer) => informer.stop()));
  };
  return {
    lookups: {
      ...cachedAdmissionLookups(
        { hostPorts: hostPorts.store, classes: classes.store },
        { claims: kube.hostPortClaims, hostPorts: kube.hostPorts },
      ),
      templateClaims: liveTemplateClaimStore(kube),
    },
    synced: Promise.all(informers.map((informer) => informer.synced)).then((all) =>
      all.every(Boolean)
    ),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

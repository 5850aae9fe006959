/**
 * The admission server's lookups over the Kubernetes client. Claims are read live (a GET per
 * claim) whenever live readers are given: a claim turning `Deleting` must stop new pods at once,
 * and an informer whose watch stalls or lags would still show it bound (issue #9); a failed read
 * refuses the pod (fail closed). HostPorts and classes come from informer caches first: a
 * HostPort's port never changes once set and a claim that is not deleting protects its HostPort,
 * so a cached, usable HostPort is safe; a live GET confirms every HostPort answer that would
 * refuse a pod (missing from the cache, or without a port yet), so a lagging cache never refuses.
 * Claims and ResourceQuotas are cached too, for the claim quota check ({@linkcode claimQuotaAdmission}).
 *
 * @module
 */
import {
  HOST_PORT_PHASE,
  type HostPort,
  type HostPortClaim,
  type HostPortClass,
  retentionPolicyOf,
} from "../lib/api/mod.ts";
import type { ResourceQuota } from "kubernetes-types/core/v1.d.ts";
import {
  AlreadyExistsError,
  Informer,
  type KubeClients,
  NAMESPACE_INDEX,
  NotFoundError,
  RESOURCE_QUOTA_RESOURCE,
  ResourceClient,
  type StoreReader,
} from "../lib/kube/mod.ts";
import {
  admitClaim,
  classLimits,
  type QuotaExceeded,
  quotaExceededMessage,
} from "../lib/quota/mod.ts";
import type { Counter, EventRecorder, MetricsRegistry } from "../lib/ops/contracts.ts";
import { EVENT_REASON } from "../lib/reconcile/outcome.ts";
import type { AdmissionLookups, ClaimQuotaAdmission, TemplateClaimStore } from "./lookups.ts";

/**
 * How long a claim this replica admitted counts against its quota before the cache shows it: a
 * create is stored within moments of admission, or refused later in the chain (then it stops
 * counting after this). The controller's backstop covers a claim stored later still.
 */
export const PENDING_ADMISSION_TTL_MS = 30_000;

/** What the claim quota check reads: the caches, and a clock for admitted claims. */
export interface ClaimQuotaSources {
  /** HostPortClaims, by namespace. */
  claims: Pick<StoreReader<HostPortClaim>, "byIndex">;
  /** ResourceQuotas, by namespace. */
  quotas: Pick<StoreReader<ResourceQuota>, "byIndex">;
  /** Milliseconds; `Date.now` by default. */
  now?: () => number;
  /** Counts refusals: `hostport_quota_refusals_total{namespace,class}`. */
  refusals?: Counter;
  /** Hears of each refusal that is not a dry run, with the quota that refused. */
  onRefused?: (quota: ResourceQuota, exceeded: QuotaExceeded, claim: HostPortClaim) => void;
}

/**
 * The claim quota check over caches: usage is the namespace's cached claims of the class plus
 * those this replica admitted in the last {@linkcode PENDING_ADMISSION_TTL_MS} that the cache does
 * not show yet. Gather, decide and note happen with no await in between, so concurrent
 * admissions in this replica never overshoot; two replicas can (the controller holds the extra
 * claims back).
 */
export function claimQuotaAdmission(
  sources: ClaimQuotaSources,
): ClaimQuotaAdmission & { cached(claim: HostPortClaim): void } {
  const now = sources.now ?? Date.now;
  const pending = new Map<
    string,
    { namespace: string; className: string; atMs: number }
  >();
  return {
    /** The cache got this claim (an informer add or update): it counts from there now. */
    cached(claim) {
      pending.delete(`${claim.metadata.namespace ?? ""}/${claim.metadata.name ?? ""}`);
    },
    admit(claim, { dryRun }) {
      const namespace = claim.metadata.namespace ?? "";
      const className = claim.spec.hostPortClassName;
      const quotas = sources.quotas.byIndex(NAMESPACE_INDEX, namespace);
      if (classLimits(quotas, className).length === 0) return undefined;
      const nowMs = now();
      for (const [key, entry] of pending) {
        if (nowMs - entry.atMs > PENDING_ADMISSION_TTL_MS) pending.delete(key);
      }
      const key = `${namespace}/${claim.metadata.name ?? ""}`;
      const cached = sources.claims.byIndex(NAMESPACE_INDEX, namespace)
        .filter((other) => other.spec.hostPortClassName === className).length;
      const admitted =
        [...pending].filter(([other, entry]) =>
          other !== key && entry.namespace === namespace && entry.className === className
        ).length;
      const exceeded = admitClaim(quotas, className, cached + admitted);
      if (exceeded === undefined) {
        if (!dryRun) pending.set(key, { namespace, className, atMs: nowMs });
        return undefined;
      }
      sources.refusals?.inc({ namespace, class: className });
      const quota = quotas.find((q) => q.metadata?.name === exceeded.quota);
      if (!dryRun && quota !== undefined) sources.onRefused?.(quota, exceeded, claim);
      return exceeded;
    },
  };
}

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
function liveTemplateClaimStore(
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

/** A claim's name for a message (`generateName` ones have none at admission). */
function claimLabel(claim: HostPortClaim): string {
  const { namespace = "", name, generateName = "" } = claim.metadata;
  return `${namespace}/${name ?? `${generateName}*`}`;
}

/** Informer-backed lookups, from {@linkcode startAdmissionLookups}. */
export interface RunningLookups extends AsyncDisposable {
  /** The lookups to give the server. */
  lookups: AdmissionLookups;
  /** Resolves true once every cache has been filled. */
  synced: Promise<boolean>;
  /** Stops the informers it started (not shared ones). */
  stop(): Promise<void>;
}

type SharedInformer<T extends HostPort | HostPortClass | HostPortClaim | ResourceQuota> = Pick<
  Informer<T>,
  "store" | "synced" | "addEventHandler"
>;

/** Informers the process already runs (its shared caches), read instead of starting others. */
export interface SharedInformers {
  /** HostPorts. */
  hostPorts: SharedInformer<HostPort>;
  /** HostPortClasses. */
  classes: SharedInformer<HostPortClass>;
  /** HostPortClaims (the quota check counts them by namespace). */
  claims: SharedInformer<HostPortClaim>;
  /** ResourceQuotas (the quota check's limits). */
  quotas: SharedInformer<ResourceQuota>;
}

/**
 * Returns lookups over HostPort, class, claim and ResourceQuota informers (`shared`, or informers
 * started here), with claims read live for pods, HostPort refusals confirmed live, and the claim
 * quota check over the cached claims and quotas.
 *
 * @param kube the typed clients
 * @param shared informers someone else starts and stops
 * @param options `metrics`: where the quota refusal counter goes; `recorder`: where the Warning
 *   Event `QuotaExceeded` on the refusing ResourceQuota goes (the API server's own quota check
 *   records none; ours names the refused claim)
 */
export function startAdmissionLookups(
  kube: KubeClients,
  shared?: SharedInformers,
  options: { metrics?: MetricsRegistry; recorder?: EventRecorder } = {},
): RunningLookups {
  const recorder = options.recorder;
  const own = shared === undefined
    ? {
      hostPorts: new Informer(kube.hostPorts),
      classes: new Informer(kube.hostPortClasses),
      claims: new Informer(kube.hostPortClaims),
      quotas: new Informer(new ResourceClient(kube.rest, RESOURCE_QUOTA_RESOURCE)),
    }
    : undefined;
  // Only the four informers: `shared` may carry more (a running cache set's own synced and stop).
  const { hostPorts, classes, claims, quotas }: SharedInformers = shared ?? own!;
  const claimQuota = claimQuotaAdmission({
    claims: claims.store,
    quotas: quotas.store,
    ...options.metrics
      ? {
        refusals: options.metrics.counter(
          "hostport_quota_refusals_total",
          "Claim creates the webhook refused because a per-class quota was full",
          ["namespace", "class"],
        ),
      }
      : {},
    ...recorder
      ? {
        onRefused: (quota: ResourceQuota, exceeded: QuotaExceeded, claim: HostPortClaim) =>
          recorder.record(
            {
              apiVersion: "v1",
              kind: "ResourceQuota",
              metadata: {
                name: quota.metadata?.name,
                namespace: quota.metadata?.namespace,
                uid: quota.metadata?.uid,
              },
            },
            "Warning",
            EVENT_REASON.QuotaExceeded,
            `Refused claim ${claimLabel(claim)}: ${quotaExceededMessage(exceeded)}`,
          ),
      }
      : {},
  });
  // A claim this replica admitted counts from the cache once seen there, even if it goes later.
  claims.addEventHandler({
    onAdd: (claim) => claimQuota.cached(claim),
    onUpdate: (_previous, claim) => claimQuota.cached(claim),
    onDelete: () => {},
  });
  const owned = own ? Object.values(own) : [];
  for (const informer of owned) informer.start();
  const stop = async () => {
    await Promise.all(owned.map((informer) => informer.stop()));
  };
  return {
    lookups: {
      ...cachedAdmissionLookups(
        { hostPorts: hostPorts.store, classes: classes.store },
        { claims: kube.hostPortClaims, hostPorts: kube.hostPorts },
      ),
      templateClaims: liveTemplateClaimStore(kube),
      claimQuota,
    },
    synced: Promise.all([hostPorts, classes, claims, quotas].map((informer) => informer.synced))
      .then((all) => all.every(Boolean)),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

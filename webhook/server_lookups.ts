/**
 * The admission server's lookups. Claims are read live: a claim turning `Deleting` must stop new
 * pods at once, which a stalled informer would miss. A set port never changes, so a cached usable
 * HostPort is safe; a live GET confirms any HostPort answer that would refuse a pod.
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
  type KubeClients,
  NAMESPACE_INDEX,
  orUndefined,
  type ResourceClient,
  type StoreReader,
} from "../lib/kube/mod.ts";
import type { SharedCaches } from "../lib/controller/context.ts";
import {
  admitClaim,
  classLimits,
  type QuotaExceeded,
  quotaExceededMessage,
} from "../lib/quota/mod.ts";
import type { Counter, EventRecorder, MetricsRegistry } from "../lib/ops/contracts.ts";
import { EVENT_REASON } from "../lib/reconcile/outcome.ts";
import type { AdmissionLookups, ClaimQuotaAdmission } from "./lookups.ts";

/**
 * How long a claim this replica admitted counts against its quota before the cache shows it (a
 * create refused later in the chain stops counting then; the controller backstops the rest).
 */
export const PENDING_ADMISSION_TTL_MS = 30_000;

/** What the claim quota check reads, its clock, and who hears of refusals (not dry runs). */
export interface ClaimQuotaSources {
  claims: Pick<StoreReader<HostPortClaim>, "byIndex">;
  quotas: Pick<StoreReader<ResourceQuota>, "byIndex">;
  now?: () => number;
  refusals?: Counter | undefined;
  onRefused?:
    | ((quota: ResourceQuota, exceeded: QuotaExceeded, claim: HostPortClaim) => void)
    | undefined;
}

/**
 * The claim quota check over caches, counting also the claims this replica admitted that the
 * cache does not show yet. No await between gather, decide and note, so concurrent admissions
 * in one replica never overshoot; two replicas can (the controller holds the extras back).
 */
export function claimQuotaAdmission(
  sources: ClaimQuotaSources,
): ClaimQuotaAdmission & { cached(claim: HostPortClaim): void } {
  const now = sources.now ?? Date.now;
  const pending = new Map<string, { namespace: string; className: string; atMs: number }>();
  const keyOf = (claim: HostPortClaim) =>
    `${claim.metadata.namespace ?? ""}/${claim.metadata.name ?? ""}`;
  return {
    /** The cache got this claim (an informer add or update): it counts from there now. */
    cached: (claim) => pending.delete(keyOf(claim)),
    admit(claim, { dryRun }) {
      const namespace = claim.metadata.namespace ?? "";
      const className = claim.spec.hostPortClassName;
      const quotas = sources.quotas.byIndex(NAMESPACE_INDEX, namespace);
      if (classLimits(quotas, className).length === 0) return undefined;
      const nowMs = now();
      const key = keyOf(claim);
      let used = sources.claims.byIndex(NAMESPACE_INDEX, namespace)
        .filter((other) => other.spec.hostPortClassName === className).length;
      for (const [other, entry] of pending) {
        if (nowMs - entry.atMs > PENDING_ADMISSION_TTL_MS) pending.delete(other);
        else if (other !== key && entry.namespace === namespace && entry.className === className) {
          used++;
        }
      }
      const exceeded = admitClaim(quotas, className, used);
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
  hostPorts: Pick<StoreReader<HostPort>, "getByName">;
  classes: Pick<StoreReader<HostPortClass>, "list">;
}

/** Live readers: every claim is read live, HostPorts only to confirm a refusal. */
export interface LiveReaders {
  claims: Pick<ResourceClient<HostPortClaim>, "get">;
  hostPorts: Pick<ResourceClient<HostPort>, "get">;
}

/** Lookups over caches: claims are always read live, HostPort refusals are confirmed live. */
export function cachedAdmissionLookups(caches: LookupCaches, live: LiveReaders): AdmissionLookups {
  return {
    getClaim: (namespace, name) => orUndefined(live.claims.get(name, { namespace })),
    getHostPort(name) {
      const cached = caches.hostPorts.getByName(name);
      const usable = cached?.status?.phase === HOST_PORT_PHASE.Allocated &&
        (cached.status.port ?? 0) > 0;
      if (usable) return Promise.resolve(cached);
      return orUndefined(live.hostPorts.get(name));
    },
    listHostPortClasses: () => Promise.resolve(caches.classes.list()),
  };
}

/**
 * Returns lookups over the process's shared caches, with the claim quota check and the per-pod
 * claim store; each quota refusal is counted in `metrics` and recorded as a Warning Event on the
 * ResourceQuota (the API server's own quota check records none).
 */
export function admissionLookups(
  kube: KubeClients,
  caches: SharedCaches,
  { metrics, recorder }: { metrics?: MetricsRegistry; recorder?: EventRecorder } = {},
): AdmissionLookups {
  const { hostPorts, classes, claims, quotas } = caches;
  const claimQuota = claimQuotaAdmission({
    claims: claims.store,
    quotas: quotas.store,
    refusals: metrics?.counter(
      "hostport_quota_refusals_total",
      "Claim creates the webhook refused because a per-class quota was full",
      ["namespace", "class"],
    ),
    onRefused: recorder && ((quota, exceeded, claim) => {
      const { namespace = "", name, generateName = "" } = claim.metadata;
      recorder.record(
        { apiVersion: "v1", kind: "ResourceQuota", metadata: quota.metadata ?? {} },
        "Warning",
        EVENT_REASON.QuotaExceeded,
        `Refused claim ${namespace}/${name ?? `${generateName}*`}: ` +
          quotaExceededMessage(exceeded),
      );
    }),
  });
  // A claim this replica admitted counts from the cache once seen there, even if it goes later.
  claims.addEventHandler({
    onAdd: (claim) => claimQuota.cached(claim),
    onUpdate: (_previous, claim) => claimQuota.cached(claim),
  });
  return {
    ...cachedAdmissionLookups(
      { hostPorts: hostPorts.store, classes: classes.store },
      { claims: kube.hostPortClaims, hostPorts: kube.hostPorts },
    ),
    // Per-pod claims: all live; the create is the only write the webhook makes.
    templateClaims: {
      getTemplate: (namespace, name) =>
        orUndefined(kube.hostPortClaimTemplates.get(name, { namespace })),
      async getStatefulSet(namespace, name) {
        const set = await orUndefined(kube.statefulSets.get(name, { namespace }));
        if (set === undefined) return undefined;
        const policy = retentionPolicyOf(set.spec?.persistentVolumeClaimRetentionPolicy);
        return { uid: set.metadata?.uid ?? "", policy };
      },
      createClaim: (claim) =>
        kube.hostPortClaims.create(claim).then(
          () => true,
          (error) => error instanceof AlreadyExistsError ? false : Promise.reject(error),
        ),
      async deleteClaim(namespace, name, uid) {
        await kube.hostPortClaims.delete(name, { namespace, preconditions: { uid } }).catch(
          () => {}, // best effort: the template-claim controller deletes claims no pod took
        );
      },
    },
    claimQuota,
  };
}

/**
 * The ResourceQuota usage controller: writes the claims of each class a namespace holds into the
 * `status.used` of every quota with a per-class key (so `kubectl describe quota` shows used/hard),
 * fills a claim count kube-controller-manager has not computed yet, and exports both as metrics.
 *
 * @module
 */
import { NAMESPACE_INDEX } from "../kube/mod.ts";
import { done } from "../reconcile/outcome.ts";
import { isClaimQuota, needsClaimCount, planQuotaUsage } from "../quota/mod.ts";
import type { ControllerContext } from "./context.ts";
import type { ReconcileFunction } from "./controller.ts";

/** Builds the reconciler of ResourceQuotas (keys: namespace/name). */
export function createQuotaReconciler(ctx: ControllerContext): ReconcileFunction {
  // The classes each quota last exported, so their series go with the quota or its keys.
  const exported = new Map<string, string[]>();
  const exportUsage = (key: string, usage: { class: string; used: number; hard: number }[]) => {
    const [namespace = "", quota = ""] = key.split("/");
    for (const className of exported.get(key) ?? []) {
      if (usage.some((u) => u.class === className)) continue;
      ctx.metrics.quotaUsed.remove({ namespace, quota, class: className });
      ctx.metrics.quotaHard.remove({ namespace, quota, class: className });
    }
    for (const u of usage) {
      ctx.metrics.quotaUsed.set({ namespace, quota, class: u.class }, u.used);
      ctx.metrics.quotaHard.set({ namespace, quota, class: u.class }, u.hard);
    }
    if (usage.length > 0) exported.set(key, usage.map((u) => u.class));
    else exported.delete(key);
  };
  return async (key, abortSignal) => {
    const quota = ctx.caches.quotas.store.get(key);
    if (quota === undefined || !isClaimQuota(quota)) {
      exportUsage(key, []);
      return done();
    }
    const namespace = quota.metadata?.namespace ?? "";
    const name = quota.metadata?.name ?? "";
    // The count is missing only while every claim create in the namespace is refused, so a
    // live list then holds every claim there is.
    let claimsInNamespace: number | undefined;
    if (needsClaimCount(quota)) {
      const page = await ctx.clients.hostPortClaims.listAll({ namespace, abortSignal });
      claimsInNamespace = page.items.length + page.undecodable.length;
    }
    const claims = ctx.caches.claims.store.byIndex(NAMESPACE_INDEX, namespace);
    const plan = planQuotaUsage(quota, claims, claimsInNamespace);
    exportUsage(key, [...plan.classes]);
    if (Object.keys(plan.used).length === 0) return done();
    await ctx.clients.quotas.patchStatus(name, {
      metadata: { resourceVersion: quota.metadata?.resourceVersion },
      status: { used: plan.used },
    }, { namespace, abortSignal });
    return done();
  };
}

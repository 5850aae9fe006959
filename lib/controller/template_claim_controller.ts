/**
 * The template-claim controller: keeps the owners of claims made from HostPortClaimTemplates in
 * line with their pods and StatefulSets (`planTemplateClaim` decides), or deletes the claims, so
 * they go with their pods as the garbage collector would have them.
 *
 * @module
 */
import {
  type HostPortClaim,
  retentionPolicyOf,
  TEMPLATE_CLAIM_LABEL,
  TEMPLATE_CLAIM_POD_ANNOTATION,
} from "../api/mod.ts";
import { orUndefined } from "../kube/mod.ts";
import { done } from "../reconcile/outcome.ts";
import { claimNamesOfPod } from "../reconcile/pods.ts";
import { planTemplateClaim, type TemplateClaimSet } from "../reconcile/template_claim.ts";
import { type ControllerContext, subjectOf } from "./context.ts";
import type { ReconcileFunction } from "./controller.ts";

/** Whether a claim was made from a template (the pod webhook labels them). */
export function isTemplateClaim(claim: HostPortClaim): boolean {
  return claim.metadata.labels?.[TEMPLATE_CLAIM_LABEL.template] !== undefined &&
    claim.metadata.annotations?.[TEMPLATE_CLAIM_POD_ANNOTATION] !== undefined;
}

/** Builds the reconciler. */
export function createTemplateClaimReconciler(ctx: ControllerContext): ReconcileFunction {
  return async (key, abortSignal) => {
    const claim = ctx.caches.claims.store.get(key);
    if (claim === undefined || !isTemplateClaim(claim) || claim.metadata.deletionTimestamp) {
      return done();
    }
    const namespace = claim.metadata.namespace ?? "";
    const podName = claim.metadata.annotations?.[TEMPLATE_CLAIM_POD_ANNOTATION] ?? "";
    const cached = ctx.caches.pods.store.getByName(podName, namespace);
    const pod = cached?.metadata.uid
      ? {
        uid: cached.metadata.uid,
        phase: cached.status?.phase,
        namesClaim: claimNamesOfPod(cached).includes(claim.metadata.name ?? ""),
      }
      : undefined;
    const setName = claim.metadata.labels?.[TEMPLATE_CLAIM_LABEL.statefulSet];
    const ordinal = Number(claim.metadata.labels?.[TEMPLATE_CLAIM_LABEL.ordinal] ?? "NaN");
    const statefulSet = setName !== undefined && Number.isInteger(ordinal)
      ? {
        name: setName,
        ordinal,
        set: await readSet(ctx, namespace, setName, abortSignal),
      }
      : undefined;
    const plan = planTemplateClaim({
      ownerReferences: claim.metadata.ownerReferences ?? [],
      createdMs: Date.parse(claim.metadata.creationTimestamp ?? "") || ctx.clock.now(),
      nowMs: ctx.clock.now(),
      graceMs: ctx.claimDeletionGraceMs,
      podName,
      pod,
      ...statefulSet ? { statefulSet } : {},
    });
    const name = claim.metadata.name ?? "";
    const claims = ctx.clients.hostPortClaims;
    if (plan.action === "none") return plan.outcome;
    if (plan.action === "setOwners") {
      await claims.patch(name, {
        metadata: {
          ownerReferences: plan.ownerReferences,
          resourceVersion: claim.metadata.resourceVersion,
        },
      }, { namespace, abortSignal });
      return done();
    }
    const preconditions = { uid: claim.metadata.uid ?? "" };
    await orUndefined(claims.delete(name, { namespace, preconditions, abortSignal }));
    const message = `Deleted: ${plan.reason}`;
    ctx.recorder.record(subjectOf(claim), "Normal", "TemplateClaimDeleted", message);
    return done();
  };
}

async function readSet(
  ctx: ControllerContext,
  namespace: string,
  name: string,
  abortSignal: AbortSignal,
): Promise<TemplateClaimSet | undefined> {
  const set = await orUndefined(ctx.clients.statefulSets.get(name, { namespace, abortSignal }));
  // Gone, or being deleted: the garbage collector's turn.
  if (set === undefined || set.metadata?.deletionTimestamp) return undefined;
  return {
    uid: set.metadata?.uid ?? "",
    replicas: set.spec?.replicas ?? 1,
    start: set.spec?.ordinals?.start ?? 0,
    ...retentionPolicyOf(set.spec?.persistentVolumeClaimRetentionPolicy),
  };
}

/**
 * Per-pod claims at admission: for each `claim-template.hostport.rmb938.com/<portName>` of a new
 * pod, read the template (and the pod's StatefulSet), then find or create the pod's claim. The
 * claim then goes the way of every claim (the leader's controllers create its HostPort and
 * allocate through the one record); the pod webhook waits for it like for any named claim.
 * Failures are kept as field errors, never thrown.
 *
 * @module
 */
import { API_VERSION, type HostPortClaimTemplate, KIND } from "../lib/api/mod.ts";
import {
  buildTemplateClaim,
  statefulSetOwnerOf,
  type TemplateAnnotation,
  templateClaimName,
} from "./claim_templates.ts";
import { type FieldError, internalError, invalid, notFound } from "./field_errors.ts";
import type { AdmissionLookups, TemplateClaimStore, TemplateRefusal } from "./lookups.ts";
import type { Pod } from "./pod_schema.ts";

/** The claim a template annotation got. */
export interface TemplateClaim {
  /** The annotation. */
  readonly annotation: TemplateAnnotation;
  /** The claim's name. */
  readonly claimName: string;
  /** The template as read. */
  readonly template: HostPortClaimTemplate;
  /** Whether this admission created the claim (else it existed). */
  readonly created: boolean;
}

/** The outcome of {@linkcode ensureTemplateClaims}. */
export type EnsuredClaims =
  | { ok: true; claims: TemplateClaim[] }
  | { ok: false; errors: FieldError[]; templates: HostPortClaimTemplate[] };

/**
 * Finds or creates the claim of each template annotation (all at once). A StatefulSet pod's
 * claim that exists already is reused whatever made it, as the StatefulSet controller reuses a
 * PVC of the right name.
 *
 * @param store reads and the claim create
 * @param pod the pod, its name set
 * @param namespace the pod's namespace
 * @param annotations the pod's usable template annotations
 * @returns the claims, or the errors that refuse the pod
 */
export async function ensureTemplateClaims(
  store: TemplateClaimStore & Pick<AdmissionLookups, "getClaim">,
  pod: Pod,
  namespace: string,
  annotations: readonly TemplateAnnotation[],
): Promise<EnsuredClaims> {
  const owner = statefulSetOwnerOf(pod);
  const podName = pod.metadata?.name ?? "";
  const set = owner === undefined
    ? { ok: true as const, value: undefined }
    : await settle(() => store.getStatefulSet(namespace, owner.name));
  const outcomes = await Promise.all(annotations.map(async (annotation) => {
    const named = templateClaimName(podName, annotation, owner !== undefined);
    if (!named.ok) return { error: named.error };
    const template = await settle(() => store.getTemplate(namespace, annotation.templateName));
    if (!template.ok) return { error: internalError(annotation.path, template.error) };
    if (template.value === undefined) {
      return { error: notFound(annotation.path, annotation.templateName) };
    }
    if (!set.ok) return { error: internalError(annotation.path, set.error), template };
    const stored = set.value;
    if (owner !== undefined && stored?.uid !== owner.uid) {
      const detail = `the pod's StatefulSet ${owner.name} (uid ${owner.uid}) is gone`;
      return { error: invalid(annotation.path, annotation.templateName, detail) };
    }
    const claim = buildTemplateClaim({
      template: template.value,
      name: named.name,
      namespace,
      podName,
      portName: annotation.portName,
      ...owner !== undefined && stored !== undefined
        ? { statefulSet: { ...owner, policy: stored.policy } }
        : {},
    });
    const created = await settle(() => store.createClaim(claim));
    if (!created.ok) {
      return { error: invalid(annotation.path, annotation.templateName, messageOf(created.error)) };
    }
    if (!created.value && owner === undefined) {
      // Another pod's claim of this name (a pod of the same name that is still there or whose
      // claim the garbage collector has yet to delete): never share it.
      const existing = await settle(() => store.getClaim(namespace, named.name));
      const owned = existing.ok &&
        (existing.value?.metadata.ownerReferences ?? []).some((ref) =>
          ref.kind === "Pod" && ref.controller === true
        );
      if (owned) {
        const detail = `claim ${named.name} belongs to an earlier pod named ${podName}; create ` +
          "the pod again once that pod and its claim are gone";
        return { error: invalid(annotation.path, annotation.templateName, detail) };
      }
    }
    const made = { annotation, claimName: named.name, template: template.value };
    return { claim: { ...made, created: created.value } };
  }));
  const errors = outcomes.flatMap((o) => "error" in o && o.error ? [o.error] : []);
  const templates = outcomes.flatMap((o) =>
    "template" in o && o.template?.ok && o.template.value ? [o.template.value] : []
  );
  if (errors.length > 0) return { ok: false, errors, templates };
  return { ok: true, claims: outcomes.flatMap((o) => "claim" in o && o.claim ? [o.claim] : []) };
}

type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

async function settle<T>(read: () => Promise<T>): Promise<Settled<T>> {
  try {
    return { ok: true, value: await read() };
  } catch (error) {
    return { ok: false, error };
  }
}

/** The API server's own message when there is one (a quota's `exceeded quota: ...`). */
function messageOf(error: unknown): string {
  const status = (error as { status?: { message?: unknown } } | null)?.status;
  if (typeof status?.message === "string" && status.message !== "") return status.message;
  return error instanceof Error ? error.message : String(error);
}

/**
 * The Event subject of a refused pod's template.
 *
 * @param refusal the refusal
 */
export function templateSubject(refusal: TemplateRefusal): {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; uid?: string | undefined };
} {
  return {
    apiVersion: API_VERSION,
    kind: KIND.HostPortClaimTemplate,
    metadata: { name: refusal.name, namespace: refusal.namespace, uid: refusal.uid },
  };
}

/**
 * The pod webhook (`/mutate-v1-pod`): decode, gather the named claims, decide, answer.
 *
 * @module
 */
import type { ClaimState } from "./claim_resolution.ts";
import { lookupClaims } from "./claim_lookup.ts";
import {
  generatedPodName,
  readPodTemplates,
  statefulSetOwnerOf,
  type TemplateAnnotation,
  templateRefusalDetail,
} from "./claim_templates.ts";
import { type FieldError, fieldPath, invalid } from "./field_errors.ts";
import type { AdmissionLookups, AdmissionOptions } from "./lookups.ts";
import { admitPod, claimsToLookUp, type PodAdmission } from "./pod_admission.ts";
import { patchedPod, podPatch } from "./pod_patch.ts";
import { ensureTemplateClaims, type TemplateClaim } from "./template_claims.ts";
import { type Pod, PodSchema } from "./pod_schema.ts";
import {
  type AdmissionRequest,
  type AdmissionReviewResponse,
  allowReview,
  badRequestReview,
  decodeObject,
  denyReview,
} from "./review.ts";
import { podDeniedStatus } from "./status.ts";
import { claimAnnotationKey } from "../lib/api/mod.ts";

/**
 * Answers a pod admission request. CREATE resolves the pod's claims through `lookups`; while
 * every problem is a claim on its way to a port (not processed yet, or its HostPort bound but
 * not allocated yet), it looks again up to `options.waitForPort.attempts` times before
 * refusing with the original's message. UPDATE needs no lookups. Other operations are
 * admitted.
 *
 * @param request the decoded admission request
 * @param lookups read-only claim and HostPort lookups
 * @param options bounded waiting
 * @returns the review: a patch, or `allowed: false` with 403 and `Pod "<name>" is invalid: ...`
 */
export async function reviewPod(
  request: AdmissionRequest,
  lookups: AdmissionLookups,
  options: AdmissionOptions = {},
): Promise<AdmissionReviewResponse> {
  const { uid, operation } = request;
  if (operation !== "CREATE" && operation !== "UPDATE") return allowReview(uid);
  const pod = decodeObject(PodSchema, request.object, "the pod");
  if (!pod.ok) return badRequestReview(uid, pod.message);
  let decision: PodAdmission;
  if (operation === "UPDATE") {
    const oldPod = decodeObject(PodSchema, request.oldObject, "the old pod");
    if (!oldPod.ok) return badRequestReview(uid, oldPod.message);
    decision = admitPod({ operation, namespace: "", pod: pod.value, oldPod: oldPod.value });
  } else {
    const namespace = request.namespace || pod.value.metadata?.namespace || "";
    const templates = readPodTemplates(pod.value);
    const names = claimsToLookUp(pod.value);
    const withTemplates = templates.valid.length > 0 || templates.errors.length > 0;
    if (namespace === "" && (names.length > 0 || withTemplates)) {
      return badRequestReview(uid, "Cannot admit a pod with claims: its namespace is not known");
    }
    decision = withTemplates
      ? await admitTemplatePod(pod.value, namespace, templates, lookups, options)
      : (await admitNewPod(pod.value, namespace, names, lookups, options)).decision;
  }
  if (decision.allowed) {
    return allowReview(uid, { patch: decision.patch, warnings: decision.warnings });
  }
  return denyReview(uid, podDeniedStatus(pod.value.metadata ?? {}, decision.errors));
}

/** Upper bound on `waitForPort.attempts`, whatever the configuration says. */
const MAX_WAIT_ATTEMPTS = 100;

async function admitNewPod(
  pod: Pod,
  namespace: string,
  names: readonly string[],
  lookups: AdmissionLookups,
  options: AdmissionOptions,
  attempts = options.waitForPort?.attempts ?? 0,
): Promise<{ decision: PodAdmission; states: Map<string, ClaimState> }> {
  const lookUp = (): Promise<Map<string, ClaimState>> =>
    names.length === 0 ? Promise.resolve(new Map()) : lookupClaims(lookups, namespace, names);
  let states = await lookUp();
  let decision = admitPod({ operation: "CREATE", namespace, pod, claims: states });
  const wait = options.waitForPort;
  const rounds = wait === undefined ? 0 : Math.min(MAX_WAIT_ATTEMPTS, attempts);
  for (let attempt = 0; attempt < rounds && !decision.allowed && decision.retryable; attempt++) {
    await wait?.delay(wait.intervalMs);
    states = await lookUp();
    decision = admitPod({ operation: "CREATE", namespace, pod, claims: states });
  }
  return { decision, states };
}

/**
 * A new pod naming claim templates: choose its name if it has only `generateName` (its claims
 * are named after it), find or create its claims, then admit it as a pod naming those claims,
 * waiting up to `waitForPort.templateAttempts` rounds for them to be allocated. The patch also
 * writes the claim annotations (so release, the update guard and `kubectl` see the claim as for
 * any pod) and the chosen name. A refusal names the template's class: full, or not allocated yet.
 */
async function admitTemplatePod(
  submitted: Pod,
  namespace: string,
  templates: ReturnType<typeof readPodTemplates>,
  lookups: AdmissionLookups,
  options: AdmissionOptions,
): Promise<PodAdmission> {
  if (templates.errors.length > 0) {
    return { allowed: false, errors: [...templates.errors], retryable: false };
  }
  const store = lookups.templateClaims;
  if (store === undefined) {
    const errors = templates.valid.map((a) =>
      invalid(a.path, a.templateName, "this webhook does not serve hostPortClaimTemplates")
    );
    return { allowed: false, errors, retryable: false };
  }
  const named = namePod(submitted, options);
  if (!named.ok) return { allowed: false, errors: [named.error], retryable: false };
  const { pod } = named;
  const ensured = await ensureTemplateClaims(
    { ...store, getClaim: (ns, name) => lookups.getClaim(ns, name) },
    pod,
    namespace,
    templates.valid,
  );
  if (!ensured.ok) {
    for (const template of ensured.templates) {
      options.onTemplateRefusal?.({
        namespace,
        name: template.metadata.name ?? "",
        uid: template.metadata.uid,
        message: podRefusedMessage(pod, ensured.errors),
      });
    }
    return { allowed: false, errors: ensured.errors, retryable: false };
  }
  const claimValues = new Map(
    ensured.claims.map((c) => [claimAnnotationKey(c.annotation.portName), c.claimName]),
  );
  const annotations = { ...pod.metadata?.annotations, ...Object.fromEntries(claimValues) };
  const claimed: Pod = { ...pod, metadata: { ...pod.metadata, annotations } };
  const names = claimsToLookUp(claimed);
  const attempts = options.waitForPort?.templateAttempts ?? options.waitForPort?.attempts ?? 0;
  const { decision, states } = await admitNewPod(
    claimed,
    namespace,
    names,
    lookups,
    options,
    attempts,
  );
  if (decision.allowed) {
    return {
      ...decision,
      patch: podPatch(submitted, patchedPod(claimed, decision.patch)),
    };
  }
  const errors = templateErrors(decision.errors, ensured.claims, states);
  // A refused pod's own claim (not a StatefulSet's, which its next pod reuses) would otherwise
  // wait, Pending, for a port it may take from the pod's next attempt.
  if (statefulSetOwnerOf(pod) === undefined) {
    await Promise.all(
      ensured.claims.filter((claim) => claim.created).map((claim) => {
        const state = states.get(claim.claimName)?.claim;
        const uid = state?.ok ? state.value?.metadata.uid : undefined;
        return uid === undefined ? undefined : store.deleteClaim(namespace, claim.claimName, uid);
      }),
    );
  }
  for (const claim of ensured.claims) {
    if (!errors.some((e) => e.field === claim.annotation.path.toString())) continue;
    options.onTemplateRefusal?.({
      namespace,
      name: claim.template.metadata.name ?? "",
      uid: claim.template.metadata.uid,
      message: podRefusedMessage(pod, errors),
    });
  }
  return { ...decision, errors };
}

/** Sets a name on a pod created with `generateName` only (its claims are named after it). */
function namePod(
  pod: Pod,
  options: AdmissionOptions,
): { ok: true; pod: Pod } | { ok: false; error: FieldError } {
  if (pod.metadata?.name) return { ok: true, pod };
  const generateName = pod.metadata?.generateName ?? "";
  if (generateName === "" || options.random === undefined) {
    const detail = "a pod naming a hostPortClaimTemplate needs a name or generateName";
    return { ok: false, error: invalid(fieldPath("metadata", "name"), "", detail) };
  }
  const random = options.random;
  const name = generatedPodName(generateName, [random(), random(), random(), random(), random()]);
  return { ok: true, pod: { ...pod, metadata: { ...pod.metadata, name } } };
}

/**
 * Errors of a refused template pod: those about a claim made from a template move to the
 * template annotation, with a detail that names the class and says whether it is full.
 */
function templateErrors(
  errors: readonly FieldError[],
  claims: readonly TemplateClaim[],
  states: ReadonlyMap<string, ClaimState>,
): FieldError[] {
  const out: FieldError[] = [];
  const moved = new Set<TemplateAnnotation>();
  for (const error of errors) {
    const claim = claims.find((c) => {
      const key = claimAnnotationKey(c.annotation.portName);
      const path = fieldPath("metadata", "annotations", key).toString();
      return error.field === path || error.field.startsWith(`${path}.`);
    });
    if (claim === undefined) {
      out.push(error);
      continue;
    }
    if (moved.has(claim.annotation)) continue;
    moved.add(claim.annotation);
    const state = states.get(claim.claimName)?.claim;
    const stored = state?.ok ? state.value : undefined;
    const detail = templateRefusalDetail(
      stored,
      claim.claimName,
      claim.template.spec.hostPortClassName,
    );
    out.push(invalid(claim.annotation.path, claim.annotation.templateName, detail));
  }
  return out;
}

function podRefusedMessage(pod: Pod, errors: readonly FieldError[]): string {
  const name = pod.metadata?.name ?? pod.metadata?.generateName ?? "";
  return `Pod ${name} was refused: ${errors.map((e) => e.detail).join("; ")}`;
}

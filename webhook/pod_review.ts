/**
 * The pod webhook (`/mutate-v1-pod`): the I/O around its pure decision (`pod_admission.ts`).
 * Decode; for a new pod naming claim templates, find or create its own claims first (reading each
 * template and the pod's StatefulSet; the claim create is the webhook's only write, and the claim
 * then goes the way of every claim: the leader's controllers allocate it through the one record);
 * gather each named claim and the HostPort it names through the server's read-only lookups
 * (failures kept as values, never thrown); decide, waiting a bounded number of rounds for claims
 * on their way to a port; answer.
 *
 * @module
 */
import { admitPod, type ClaimState, claimsToLookUp, type PodAdmission } from "./pod_admission.ts";
import {
  buildTemplateClaim,
  generatedPodName,
  readPodTemplates,
  statefulSetOwnerOf,
  type TemplateAnnotation,
  templateClaimName,
  templateRefusalDetail,
} from "./pod_templates.ts";
import { type FieldError, fieldPath, internalError, invalid, notFound } from "./field_errors.ts";
import {
  type AdmissionLookups,
  type AdmissionOptions,
  settle,
  type TemplateClaimStore,
  type TemplateRefusal,
} from "./lookups.ts";
import { patchedPod, type Pod, podPatch, PodSchema } from "./pod_model.ts";
import {
  type AdmissionRequest,
  type AdmissionReviewResponse,
  allowReview,
  badRequestReview,
  decodeObject,
  denyReview,
  podDeniedStatus,
} from "./review.ts";
import {
  API_VERSION,
  claimAnnotationKey,
  type HostPortClaimTemplate,
  KIND,
} from "../lib/api/mod.ts";

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

/**
 * Looks up each claim `namespace/name` (all at once) and, for a claim that names a HostPort,
 * that HostPort.
 *
 * @param lookups the server's lookups
 * @param namespace the pod's namespace: claims are looked up there only
 * @param claimNames the claim names (duplicates are looked up once)
 * @returns the state of each claim, by name
 */
export async function lookupClaims(
  lookups: AdmissionLookups,
  namespace: string,
  claimNames: Iterable<string>,
): Promise<Map<string, ClaimState>> {
  const names = [...new Set(claimNames)];
  const states = await Promise.all(names.map((name) => lookupClaim(lookups, namespace, name)));
  return new Map(names.map((name, i) => [name, states[i] as ClaimState]));
}

async function lookupClaim(
  lookups: AdmissionLookups,
  namespace: string,
  name: string,
): Promise<ClaimState> {
  const claim = await settle(() => lookups.getClaim(namespace, name));
  const hostPortName = claim.ok ? claim.value?.spec.hostPortName ?? "" : "";
  if (hostPortName === "") return { claim };
  const hostPort = await settle(() => lookups.getHostPort(hostPortName));
  return { claim, hostPort };
}

/** The claim a template annotation got. */
export interface TemplateClaim {
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
async function ensureTemplateClaims(
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
      return {
        error: invalid(annotation.path, annotation.templateName, apiMessageOf(created.error)),
      };
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

/** The API server's own message when there is one (a quota's `exceeded quota: ...`). */
function apiMessageOf(error: unknown): string {
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

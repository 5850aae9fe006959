/**
 * The pod webhook (`/mutate-v1-pod`): the I/O around its pure decision (`pod_admission.ts`).
 * Decode; for a new pod naming claim templates, find or create its own claims first (the claim
 * create is the webhook's only write; the leader's controllers then allocate it like any claim);
 * gather each named claim and its HostPort through the server's read-only lookups (failures kept
 * as values); decide, waiting a bounded number of rounds for claims on their way to a port;
 * answer.
 *
 * @module
 */
import {
  admitNewPod,
  admitPodUpdate,
  type ClaimState,
  claimsToLookUp,
  type PodAdmission,
} from "./pod_admission.ts";
import {
  buildTemplateClaim,
  generatedPodName,
  readPodTemplates,
  statefulSetOwnerOf,
  type TemplateAnnotation,
  templateClaimName,
  templateRefusalDetail,
} from "./pod_templates.ts";
import {
  errorMessage,
  type FieldError,
  fieldPath,
  internalError,
  invalid,
  notFound,
} from "./field_errors.ts";
import { type AdmissionLookups, type AdmissionOptions, settle } from "./lookups.ts";
import { type Pod, podPatch, PodSchema } from "./pod_admission.ts";
import { applyJsonPatch } from "./json_patch.ts";
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
 * Answers a pod admission request. CREATE resolves the pod's claims through `lookups`, looking
 * again up to `options.waitForPort.attempts` times while every problem is a claim on its way to
 * a port; UPDATE needs no lookups; other operations are admitted.
 *
 * @returns a patch, or `allowed: false` with 403 and `Pod "<name>" is invalid: ...`
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
    decision = admitPodUpdate(pod.value, oldPod.value);
  } else {
    const namespace = request.namespace || pod.value.metadata?.namespace || "";
    const templates = readPodTemplates(pod.value);
    const withTemplates = templates.valid.length > 0 || templates.errors.length > 0;
    if (namespace === "" && (claimsToLookUp(pod.value).length > 0 || withTemplates)) {
      return badRequestReview(uid, "Cannot admit a pod with claims: its namespace is not known");
    }
    decision = withTemplates
      ? await admitTemplatePod(pod.value, namespace, templates, lookups, options)
      : (await admitWaiting(pod.value, namespace, lookups, options)).decision;
  }
  if (decision.allowed) {
    return allowReview(uid, { patch: decision.patch, warnings: decision.warnings });
  }
  return denyReview(uid, podDeniedStatus(pod.value.metadata ?? {}, decision.errors));
}

/** Upper bound on `waitForPort.attempts`, whatever the configuration says. */
const MAX_WAIT_ATTEMPTS = 100;

async function admitWaiting(
  pod: Pod,
  namespace: string,
  lookups: AdmissionLookups,
  options: AdmissionOptions,
  attempts = options.waitForPort?.attempts ?? 0,
): Promise<{ decision: PodAdmission; states: Map<string, ClaimState> }> {
  const names = claimsToLookUp(pod);
  let states = await lookupClaims(lookups, namespace, names);
  let decision = admitNewPod(pod, namespace, states);
  const wait = options.waitForPort;
  const rounds = wait === undefined ? 0 : Math.min(MAX_WAIT_ATTEMPTS, attempts);
  for (let attempt = 0; attempt < rounds && !decision.allowed && decision.retryable; attempt++) {
    await wait?.delay(wait.intervalMs);
    states = await lookupClaims(lookups, namespace, names);
    decision = admitNewPod(pod, namespace, states);
  }
  return { decision, states };
}

/**
 * A new pod naming claim templates: name it if it has only `generateName`, find or create its
 * claims, then admit it as a pod naming those claims, waiting up to
 * `waitForPort.templateAttempts` rounds. The patch also writes the claim annotations (so release,
 * the update guard and `kubectl` see the claim as for any pod) and the chosen name.
 */
async function admitTemplatePod(
  submitted: Pod,
  namespace: string,
  templates: ReturnType<typeof readPodTemplates>,
  lookups: AdmissionLookups,
  options: AdmissionOptions,
): Promise<PodAdmission> {
  const refuse = (errors: FieldError[]): PodAdmission => ({
    allowed: false,
    errors,
    retryable: false,
  });
  if (templates.errors.length > 0) return refuse([...templates.errors]);
  const store = lookups.templateClaims;
  if (store === undefined) {
    return refuse(
      templates.valid.map((a) =>
        invalid(a.path, a.templateName, "this webhook does not serve hostPortClaimTemplates")
      ),
    );
  }
  const named = namePod(submitted, options);
  if ("error" in named) return refuse([named.error]);
  const { pod } = named;
  const refused = (template: HostPortClaimTemplate, errors: readonly FieldError[]) =>
    options.onTemplateRefusal?.({
      namespace,
      name: template.metadata.name ?? "",
      uid: template.metadata.uid,
      message: `Pod ${pod.metadata?.name ?? pod.metadata?.generateName ?? ""} was refused: ${
        errors.map((e) => e.detail).join("; ")
      }`,
    });
  const ensured = await ensureTemplateClaims(lookups, pod, namespace, templates.valid);
  if (!ensured.ok) {
    for (const template of ensured.templates) refused(template, ensured.errors);
    return refuse(ensured.errors);
  }
  const claimValues = ensured.claims.map((c) => [
    claimAnnotationKey(c.annotation.portName),
    c.claimName,
  ]);
  const annotations = { ...pod.metadata?.annotations, ...Object.fromEntries(claimValues) };
  const claimed: Pod = { ...pod, metadata: { ...pod.metadata, annotations } };
  const attempts = options.waitForPort?.templateAttempts ?? options.waitForPort?.attempts ?? 0;
  const { decision, states } = await admitWaiting(claimed, namespace, lookups, options, attempts);
  if (decision.allowed) {
    return { ...decision, patch: podPatch(submitted, applyJsonPatch(claimed, decision.patch)) };
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
    if (errors.some((e) => e.field === claim.annotation.path.toString())) {
      refused(claim.template, errors);
    }
  }
  return { ...decision, errors };
}

/** Names a pod created with `generateName` only (its claims are named after it). */
function namePod(pod: Pod, options: AdmissionOptions): { pod: Pod } | { error: FieldError } {
  if (pod.metadata?.name) return { pod };
  const generateName = pod.metadata?.generateName ?? "";
  const random = options.random;
  if (generateName === "" || random === undefined) {
    const detail = "a pod naming a hostPortClaimTemplate needs a name or generateName";
    return { error: invalid(fieldPath("metadata", "name"), "", detail) };
  }
  const name = generatedPodName(generateName, [random(), random(), random(), random(), random()]);
  return { pod: { ...pod, metadata: { ...pod.metadata, name } } };
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
      const path = fieldPath("metadata", "annotations", claimAnnotationKey(c.annotation.portName));
      return error.field === path.toString() || error.field.startsWith(`${path}.`);
    });
    if (claim === undefined) {
      out.push(error);
    } else if (!moved.has(claim.annotation)) {
      moved.add(claim.annotation);
      const state = states.get(claim.claimName)?.claim;
      const className = claim.template.spec.hostPortClassName;
      const detail = templateRefusalDetail(
        state?.ok ? state.value : undefined,
        claim.claimName,
        className,
      );
      out.push(invalid(claim.annotation.path, claim.annotation.templateName, detail));
    }
  }
  return out;
}

/**
 * Looks up each claim `namespace/name` (all at once, duplicates once) and, for a claim that names
 * a HostPort, that HostPort.
 *
 * @returns the state of each claim, by name
 */
export async function lookupClaims(
  lookups: AdmissionLookups,
  namespace: string,
  claimNames: Iterable<string>,
): Promise<Map<string, ClaimState>> {
  const names = [...new Set(claimNames)];
  const states = await Promise.all(names.map(async (name): Promise<ClaimState> => {
    const claim = await settle(() => lookups.getClaim(namespace, name));
    const hostPortName = claim.ok ? claim.value?.spec.hostPortName ?? "" : "";
    if (hostPortName === "") return { claim };
    return { claim, hostPort: await settle(() => lookups.getHostPort(hostPortName)) };
  }));
  return new Map(names.map((name, i) => [name, states[i]!]));
}

/** The claim a template annotation got. */
interface TemplateClaim {
  readonly annotation: TemplateAnnotation;
  readonly claimName: string;
  readonly template: HostPortClaimTemplate;
  /** Whether this admission created the claim (else it existed). */
  readonly created: boolean;
}

type Ensured = { claim: TemplateClaim } | { error: FieldError; template?: HostPortClaimTemplate };

/**
 * Finds or creates the claim of each template annotation (all at once). A StatefulSet pod's
 * claim that exists already is reused whatever made it, as the StatefulSet controller reuses a
 * PVC of the right name.
 */
async function ensureTemplateClaims(
  lookups: AdmissionLookups,
  pod: Pod,
  namespace: string,
  annotations: readonly TemplateAnnotation[],
): Promise<
  | { ok: true; claims: TemplateClaim[] }
  | { ok: false; errors: FieldError[]; templates: HostPortClaimTemplate[] }
> {
  const store = lookups.templateClaims!;
  const owner = statefulSetOwnerOf(pod);
  const podName = pod.metadata?.name ?? "";
  const set = owner === undefined
    ? { ok: true as const, value: undefined }
    : await settle(() => store.getStatefulSet(namespace, owner.name));
  const outcomes = await Promise.all(annotations.map(async (annotation): Promise<Ensured> => {
    const { path, templateName } = annotation;
    const named = templateClaimName(podName, annotation, owner !== undefined);
    if (!named.ok) return { error: named.error };
    const read = await settle(() => store.getTemplate(namespace, templateName));
    if (!read.ok) return { error: internalError(path, read.error) };
    const template = read.value;
    if (template === undefined) return { error: notFound(path, templateName) };
    if (!set.ok) return { error: internalError(path, set.error), template };
    const stored = set.value;
    if (owner !== undefined && stored?.uid !== owner.uid) {
      const detail = `the pod's StatefulSet ${owner.name} (uid ${owner.uid}) is gone`;
      return { error: invalid(path, templateName, detail) };
    }
    const claim = buildTemplateClaim({
      template,
      name: named.name,
      namespace,
      podName,
      portName: annotation.portName,
      ...owner !== undefined && stored !== undefined
        ? { statefulSet: { ...owner, policy: stored.policy } }
        : {},
    });
    const created = await settle(() => store.createClaim(claim));
    if (!created.ok) return { error: invalid(path, templateName, apiMessageOf(created.error)) };
    if (!created.value && owner === undefined) {
      // Another pod's claim of this name (a pod of the same name that is still there or whose
      // claim the garbage collector has yet to delete): never share it.
      const existing = await settle(() => lookups.getClaim(namespace, named.name));
      const owned = existing.ok &&
        (existing.value?.metadata.ownerReferences ?? []).some((ref) =>
          ref.kind === "Pod" && ref.controller === true
        );
      if (owned) {
        const detail = `claim ${named.name} belongs to an earlier pod named ${podName}; create ` +
          "the pod again once that pod and its claim are gone";
        return { error: invalid(path, templateName, detail) };
      }
    }
    return { claim: { annotation, claimName: named.name, template, created: created.value } };
  }));
  const errors = outcomes.flatMap((o) => "error" in o ? [o.error] : []);
  if (errors.length === 0) {
    return { ok: true, claims: outcomes.flatMap((o) => "claim" in o ? [o.claim] : []) };
  }
  const templates = outcomes.flatMap((o) => "template" in o && o.template ? [o.template] : []);
  return { ok: false, errors, templates };
}

/** The API server's own message when there is one (a quota's `exceeded quota: ...`). */
function apiMessageOf(error: unknown): string {
  const status = (error as { status?: { message?: unknown } } | null)?.status;
  if (typeof status?.message === "string" && status.message !== "") return status.message;
  return errorMessage(error);
}

/** The Event subject of a refused pod's template. */
export function templateSubject(
  refusal: { namespace: string; name: string; uid?: string | undefined },
): { apiVersion: string; kind: string; metadata: typeof refusal } {
  return {
    apiVersion: API_VERSION,
    kind: KIND.HostPortClaimTemplate,
    metadata: { name: refusal.name, namespace: refusal.namespace, uid: refusal.uid },
  };
}

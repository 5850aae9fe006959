/**
 * The pod webhook (`/mutate-v1-pod`), the I/O around its pure decision (`pod_admission.ts`). A
 * pod naming claim templates gets its own claims (the webhook's only write), named and owned like
 * the PVCs of `volumeClaimTemplates`; a plain pod becomes its claim's owner only once stored (the
 * template-claim controller), since the garbage collector deletes a claim whose owner is missing.
 *
 * @module
 */
import jsonpatch from "fast-json-patch";
import {
  admitNewPod,
  admitPodUpdate,
  type ClaimState,
  mutatePod,
  type Pod,
  type PodAdmission,
  PodSchema,
  type PortAnnotation,
  readPodClaims,
  readPortAnnotations,
} from "./pod_admission.ts";
import { type FieldError, goQuote, internalError, invalid, notFound } from "./field_errors.ts";
import { type AdmissionLookups, type AdmissionOptions, settle } from "./lookups.ts";
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
  CLAIM_TEMPLATE_ANNOTATION_PREFIX,
  claimAnnotationKey,
  CONDITION_REASON,
  CONDITION_TYPE,
  errorMessage,
  type HostPortClaim,
  type HostPortClaimTemplate,
  KIND,
  type OwnerReference,
  type RetentionPolicy,
  statefulSetReference,
  TEMPLATE_CLAIM_LABEL,
  TEMPLATE_CLAIM_POD_ANNOTATION,
} from "../lib/api/mod.ts";

/** Answers a pod admission request: a patch, or 403 `Pod "<name>" is invalid: ...`. */
export async function reviewPod(
  request: AdmissionRequest,
  lookups: AdmissionLookups,
  options: AdmissionOptions = {},
): Promise<AdmissionReviewResponse> {
  const { uid, operation } = request;
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
    if (namespace === "" && (withTemplates || readPodClaims(pod.value).names.length > 0)) {
      return badRequestReview(uid, "Cannot admit a pod with claims: its namespace is not known");
    }
    decision = withTemplates
      ? await admitTemplatePod(pod.value, namespace, templates, lookups, options)
      : (await admitWaiting(pod.value, namespace, lookups, options)).decision;
  }
  if (decision.allowed) {
    // The decoded pod keeps every field the mutation writes, so its diff equals the full pod's;
    // as JSON, since a member `undefined` in memory is absent for the API server (so `add`ed).
    const original: Pod = JSON.parse(JSON.stringify(pod.value));
    const patch = jsonpatch.compare(original, mutatePod(original, decision.mutation));
    return allowReview(uid, { patch, warnings: decision.warnings });
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
  const claims = readPodClaims(pod);
  const wait = options.waitForPort;
  const rounds = wait === undefined ? 0 : Math.min(MAX_WAIT_ATTEMPTS, attempts);
  for (let attempt = 0;; attempt++) {
    const states = await lookupClaims(lookups, namespace, claims.names);
    const decision = admitNewPod(pod, claims, namespace, states);
    if (attempt >= rounds || decision.allowed || !decision.retryable) return { decision, states };
    await wait?.delay(wait.intervalMs);
  }
}

/**
 * A new pod naming claim templates: name it if it has only `generateName`, find or create its
 * claims, then admit it as a pod naming those claims; the patch also writes the claim annotations
 * (so release and the update guard treat it as any pod) and the chosen name.
 */
async function admitTemplatePod(
  submitted: Pod,
  namespace: string,
  templates: ReturnType<typeof readPodTemplates>,
  lookups: AdmissionLookups,
  options: AdmissionOptions,
): Promise<PodAdmission> {
  const refuse = (errors: FieldError[]) => ({ allowed: false as const, errors, retryable: false });
  if (templates.errors.length > 0) return refuse(templates.errors);
  const store = lookups.templateClaims;
  if (store === undefined) {
    const detail = "this webhook does not serve hostPortClaimTemplates";
    return refuse(templates.valid.map((a) => invalid(a.path, a.name, detail)));
  }
  const named = namePod(submitted, options);
  if ("error" in named) return refuse([named.error]);
  const { pod } = named;
  const refused = (template: HostPortClaimTemplate, errors: readonly FieldError[]) => {
    const detail = errors.map((e) => e.detail).join("; ");
    options.onTemplateRefusal?.(
      { ...template, metadata: { ...template.metadata, namespace } },
      `Pod ${pod.metadata?.name ?? pod.metadata?.generateName ?? ""} was refused: ${detail}`,
    );
  };
  const ensured = await ensureTemplateClaims(lookups, pod, namespace, templates.valid);
  if (ensured.errors.length > 0) {
    for (const template of ensured.templates) refused(template, ensured.errors);
    return refuse(ensured.errors);
  }
  const claimAnnotations = Object.fromEntries(
    ensured.claims.map((c) => [claimAnnotationKey(c.annotation.portName), c.claimName]),
  );
  const claimed = mutatePod(pod, { annotations: claimAnnotations });
  const attempts = options.waitForPort?.templateAttempts ?? options.waitForPort?.attempts ?? 0;
  const { decision, states } = await admitWaiting(claimed, namespace, lookups, options, attempts);
  if (decision.allowed) {
    // Patched against the submitted pod: the name and the claim annotations are written too.
    const { mutation } = decision;
    const added = { ...claimAnnotations, ...mutation.annotations };
    return { ...decision, mutation: { ...mutation, name: pod.metadata?.name, annotations: added } };
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
    if (errors.some((e) => e.field === claim.annotation.path)) refused(claim.template, errors);
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
    return { error: invalid("metadata.name", "", detail) };
  }
  const name = generatedPodName(generateName, [random(), random(), random(), random(), random()]);
  return { pod: { ...pod, metadata: { ...pod.metadata, name } } };
}

/** Errors of a refused template pod, those about a template's claim moved to its annotation. */
function templateErrors(
  errors: readonly FieldError[],
  claims: readonly TemplateClaim[],
  states: ReadonlyMap<string, ClaimState>,
): FieldError[] {
  const moved = new Set<TemplateClaim>();
  return errors.flatMap((error) => {
    const claim = claims.find((c) => {
      const path = `metadata.annotations.${claimAnnotationKey(c.annotation.portName)}`;
      return error.field === path || error.field.startsWith(`${path}.`);
    });
    if (claim === undefined) return [error];
    if (moved.has(claim)) return [];
    moved.add(claim);
    const state = states.get(claim.claimName)?.claim;
    const stored = state?.ok ? state.value : undefined;
    const className = claim.template.spec.hostPortClassName;
    const detail = templateRefusalDetail(stored, claim.claimName, className);
    return [invalid(claim.annotation.path, claim.annotation.name, detail)];
  });
}

/** Looks up each claim (at once) and the HostPort it names, by claim name (`names` are unique). */
export async function lookupClaims(
  lookups: AdmissionLookups,
  namespace: string,
  names: readonly string[],
): Promise<Map<string, ClaimState>> {
  const states = await Promise.all(names.map(async (name): Promise<ClaimState> => {
    const claim = await settle(() => lookups.getClaim(namespace, name));
    const hostPortName = claim.ok ? claim.value?.spec.hostPortName ?? "" : "";
    if (hostPortName === "") return { claim };
    return { claim, hostPort: await settle(() => lookups.getHostPort(hostPortName)) };
  }));
  return new Map(names.map((name, i) => [name, states[i]!]));
}

/** The claim a template annotation got; `created` when this admission created it. */
interface TemplateClaim {
  readonly annotation: PortAnnotation;
  readonly claimName: string;
  readonly template: HostPortClaimTemplate;
  readonly created: boolean;
}

type Ensured = { claim: TemplateClaim } | { error: FieldError; template?: HostPortClaimTemplate };

/**
 * Finds or creates the claim of each template annotation (at once). A StatefulSet pod reuses an
 * existing claim of its name whatever made it, as the StatefulSet controller reuses a PVC.
 */
async function ensureTemplateClaims(
  lookups: AdmissionLookups,
  pod: Pod,
  namespace: string,
  annotations: readonly PortAnnotation[],
): Promise<{ claims: TemplateClaim[]; errors: FieldError[]; templates: HostPortClaimTemplate[] }> {
  const store = lookups.templateClaims!;
  const owner = statefulSetOwnerOf(pod);
  const podName = pod.metadata?.name ?? "";
  const set = await settle(async () => owner && await store.getStatefulSet(namespace, owner.name));
  const outcomes = await Promise.all(annotations.map(async (annotation): Promise<Ensured> => {
    const { path, name: templateName, portName } = annotation;
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
    const statefulSet = owner && stored && { ...owner, policy: stored.policy };
    const input = { template, name: named.name, namespace, podName, portName, statefulSet };
    const created = await settle(() => store.createClaim(buildTemplateClaim(input)));
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
  return {
    claims: outcomes.flatMap((o) => "claim" in o ? [o.claim] : []),
    errors: outcomes.flatMap((o) => "error" in o ? [o.error] : []),
    templates: outcomes.flatMap((o) => "template" in o && o.template ? [o.template] : []),
  };
}

/** The API server's own message when there is one (a quota's `exceeded quota: ...`). */
function apiMessageOf(error: unknown): string {
  const status = (error as { status?: { message?: unknown } } | null)?.status;
  if (typeof status?.message === "string" && status.message !== "") return status.message;
  return errorMessage(error);
}

/** The StatefulSet that controls a pod, and the pod's ordinal. */
interface StatefulSetOwner {
  readonly name: string;
  readonly uid: string;
  readonly ordinal: number;
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const MAX_NAME = 253;

/** Reads a pod's template annotations, with the errors of those that may not be used. */
export function readPodTemplates(
  pod: Pod,
): { valid: PortAnnotation[]; errors: FieldError[] } {
  // Each costs reads and a create, so the count is bounded like claim annotations.
  const { all, tooMany } = readPortAnnotations(pod, CLAIM_TEMPLATE_ANNOTATION_PREFIX);
  if (tooMany !== undefined) return { valid: [], errors: [tooMany] };
  const annotations = pod.metadata?.annotations ?? {};
  const valid: PortAnnotation[] = [];
  const errors: FieldError[] = [];
  const statefulSet = statefulSetOwnerOf(pod) !== undefined;
  const seen = new Set<string>();
  for (const annotation of all) {
    const { key, portName, name: templateName, path } = annotation;
    if (portName === "") {
      errors.push(invalid(path, key, "Annotation name must contain the port name"));
    } else if (!DNS_SUBDOMAIN.test(templateName)) {
      errors.push(
        invalid(path, templateName, "Annotation value must name a hostPortClaimTemplate"),
      );
    } else if (annotations[claimAnnotationKey(portName)] !== undefined) {
      const detail = `port ${goQuote(portName)} names both a hostPortClaim and a ` +
        "hostPortClaimTemplate";
      errors.push(invalid(path, templateName, detail));
    } else if (statefulSet && seen.has(templateName)) {
      const detail = "a StatefulSet pod gets one claim per template (<template>-<pod>), so two " +
        "ports cannot name the same template";
      errors.push(invalid(path, templateName, detail));
    } else {
      seen.add(templateName);
      valid.push(annotation);
    }
  }
  return { valid, errors };
}

/**
 * The StatefulSet controlling a pod, with the pod's ordinal (label `apps.kubernetes.io/pod-index`,
 * else from the name), or `undefined` for any other pod.
 */
export function statefulSetOwnerOf(pod: Pod): StatefulSetOwner | undefined {
  const refs = (pod.metadata?.ownerReferences ?? []) as readonly Partial<OwnerReference>[];
  const ref = refs.find((r) => r.controller === true);
  if (ref?.kind !== "StatefulSet" || ref.apiVersion !== "apps/v1") return undefined;
  if (!ref.name || !ref.uid) return undefined;
  const podName = pod.metadata?.name ?? "";
  const fromName = podName.startsWith(`${ref.name}-`) ? podName.slice(ref.name.length + 1) : "";
  const text = pod.metadata?.labels?.["apps.kubernetes.io/pod-index"] ?? fromName;
  if (!/^\d+$/.test(text)) return undefined;
  return { name: ref.name, uid: ref.uid, ordinal: Number(text) };
}

/** A template's claim name: `<template>-<pod>` for a StatefulSet pod, else `<pod>-<port>`. */
export function templateClaimName(
  podName: string,
  annotation: PortAnnotation,
  statefulSet: boolean,
): { ok: true; name: string } | { ok: false; error: FieldError } {
  const name = statefulSet
    ? `${annotation.name}-${podName}`
    : `${podName}-${annotation.portName.toLowerCase()}`;
  if (name.length <= MAX_NAME && DNS_SUBDOMAIN.test(name)) return { ok: true, name };
  const detail = `the claim name ${goQuote(name)} made from it is not a valid object name ` +
    `(a DNS subdomain of at most ${MAX_NAME} characters)`;
  return { ok: false, error: invalid(annotation.path, annotation.name, detail) };
}

/** Input of {@linkcode buildTemplateClaim}: the claim's name, the pod's, and its StatefulSet. */
export interface TemplateClaimInput {
  readonly template: HostPortClaimTemplate;
  readonly name: string;
  readonly namespace: string;
  readonly podName: string;
  readonly portName: string;
  readonly statefulSet?: (StatefulSetOwner & { readonly policy: RetentionPolicy }) | undefined;
}

/**
 * Builds the claim a pod gets from a template, labelled with where it came from, and owned by a
 * StatefulSet whose `whenDeleted` is `Delete` (so the claim goes with it).
 */
export function buildTemplateClaim(input: TemplateClaimInput): HostPortClaim {
  const { template, statefulSet } = input;
  const labels: Record<string, string> = { ...template.spec.metadata?.labels };
  const setLabel = (key: string, value: string) => {
    if (value.length <= 63 && LABEL_VALUE.test(value)) labels[key] = value;
  };
  setLabel(TEMPLATE_CLAIM_LABEL.template, template.metadata.name ?? "");
  setLabel(TEMPLATE_CLAIM_LABEL.portName, input.portName);
  if (statefulSet === undefined) {
    setLabel(TEMPLATE_CLAIM_LABEL.pod, input.podName);
  } else {
    setLabel(TEMPLATE_CLAIM_LABEL.statefulSet, statefulSet.name);
    setLabel(TEMPLATE_CLAIM_LABEL.ordinal, String(statefulSet.ordinal));
  }
  const owned = statefulSet?.policy.whenDeleted === "Delete";
  return {
    apiVersion: API_VERSION,
    kind: KIND.HostPortClaim,
    metadata: {
      name: input.name,
      namespace: input.namespace,
      labels,
      annotations: {
        ...template.spec.metadata?.annotations,
        [TEMPLATE_CLAIM_POD_ANNOTATION]: input.podName,
      },
      ...owned ? { ownerReferences: [statefulSetReference(statefulSet)] } : {},
    },
    spec: { hostPortClassName: template.spec.hostPortClassName },
  };
}

/** Why a pod waiting for a template claim (`undefined`: unread) is refused, naming the class. */
export function templateRefusalDetail(
  claim: HostPortClaim | undefined,
  claimName: string,
  className: string,
): string {
  const bound = claim?.status?.conditions?.find((c) => c.type === CONDITION_TYPE.Bound);
  const where = `claim ${goQuote(claimName)} of hostPortClass ${goQuote(className)}`;
  if (claim?.metadata.deletionTimestamp !== undefined) {
    return `${where} is being deleted; the pod's controller retries once it is gone`;
  }
  if (bound?.reason === CONDITION_REASON.PoolExhausted) {
    return `hostPortClass ${goQuote(className)} is full: no free port for ${where}; ` +
      "the pod's controller retries";
  }
  const why = bound?.message ? ` (${bound.message})` : "";
  return `${where} is not allocated a port yet${why}; the pod's controller retries`;
}

/** The API server's alphabet for generated names (no vowels, no look-alike characters). */
const NAME_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789";

/**
 * Names a pod that has only `generateName` as the API server would (which names it too late for
 * its claims); `random` holds 5 values in [0, 1).
 */
export function generatedPodName(generateName: string, random: readonly number[]): string {
  const suffix = random.slice(0, 5).map((r) =>
    NAME_SUFFIX_ALPHABET[Math.floor(r * NAME_SUFFIX_ALPHABET.length)] ?? "x"
  ).join("");
  return `${generateName.slice(0, 63 - suffix.length)}${suffix}`;
}

/**
 * Per-pod claims, pure: reading `claim-template.hostport.rmb938.com/<portName>: <template>`
 * annotations, naming each pod's claim and building it from its HostPortClaimTemplate, the way
 * Kubernetes names and owns the PVCs of `volumeClaimTemplates`: a StatefulSet pod `web-3` gets
 * `<template>-web-3`, reused after so the ordinal keeps its port (owned by the StatefulSet when
 * its `whenDeleted` retention is `Delete`); any other pod gets `<pod>-<portName>`, which the
 * template-claim controller gives the pod as owner once the pod is stored (an owner that does
 * not exist yet would make the garbage collector delete the claim at once). The I/O is in
 * `pod_review.ts`.
 *
 * @module
 */
import {
  API_VERSION,
  CLAIM_TEMPLATE_ANNOTATION_PREFIX,
  claimAnnotationKey,
  CONDITION_REASON,
  CONDITION_TYPE,
  type HostPortClaim,
  type HostPortClaimTemplate,
  KIND,
  type OwnerReference,
  type RetentionPolicy,
  statefulSetReference,
  TEMPLATE_CLAIM_LABEL,
  TEMPLATE_CLAIM_POD_ANNOTATION,
} from "../lib/api/mod.ts";
import {
  type FieldError,
  type FieldPath,
  fieldPath,
  goQuote,
  invalid,
  tooMany,
} from "./field_errors.ts";
import { MAX_CLAIMS_PER_POD, type Pod } from "./pod_admission.ts";

/** One `claim-template.hostport.rmb938.com/<portName>: <template>` annotation. */
export interface TemplateAnnotation {
  /** The port name after the prefix. */
  readonly portName: string;
  /** The template's name in the pod's namespace. */
  readonly templateName: string;
  /** `metadata.annotations.<key>`. */
  readonly path: FieldPath;
}

/** The StatefulSet that controls a pod, from the pod's owner reference and name. */
export interface StatefulSetOwner {
  /** The StatefulSet's name. */
  readonly name: string;
  /** The StatefulSet's uid. */
  readonly uid: string;
  /** The pod's ordinal. */
  readonly ordinal: number;
}

/** What a pod's template annotations ask for (sorted by port name), and what is wrong with them. */
export interface PodTemplates {
  /** The usable annotations. */
  readonly valid: readonly TemplateAnnotation[];
  /** Problems with the annotations (refuse the pod). */
  readonly errors: readonly FieldError[];
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const MAX_NAME = 253;

/**
 * Reads the template annotations of a pod. A port may not name both a claim and a template, and
 * a StatefulSet pod may not name one template for two ports (its claim is `<template>-<pod>`).
 */
export function readPodTemplates(pod: Pod): PodTemplates {
  const annotations = pod.metadata?.annotations ?? {};
  const keys = Object.keys(annotations)
    .filter((key) => key.startsWith(CLAIM_TEMPLATE_ANNOTATION_PREFIX)).sort();
  if (keys.length > MAX_CLAIMS_PER_POD) {
    // Each costs reads and a create, so the count is bounded like claim annotations.
    const path = fieldPath("metadata", "annotations");
    return { valid: [], errors: [tooMany(path, keys.length, MAX_CLAIMS_PER_POD)] };
  }
  const valid: TemplateAnnotation[] = [];
  const errors: FieldError[] = [];
  const statefulSet = statefulSetOwnerOf(pod) !== undefined;
  const seen = new Set<string>();
  for (const key of keys) {
    const portName = key.slice(CLAIM_TEMPLATE_ANNOTATION_PREFIX.length);
    const templateName = annotations[key] ?? "";
    const path = fieldPath("metadata", "annotations", key);
    if (portName === "") {
      errors.push(invalid(path, key, "Annotation name must contain the port name"));
    } else if (templateName === "" || !DNS_SUBDOMAIN.test(templateName)) {
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
      valid.push({ portName, templateName, path });
    }
  }
  return { valid, errors };
}

/**
 * The StatefulSet controlling a pod (controller owner reference of kind StatefulSet, apps/v1)
 * with the pod's ordinal (label `apps.kubernetes.io/pod-index`, else the number after `<set>-`
 * in the pod's name), or `undefined` for any other pod.
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

/**
 * The claim a pod gets from a template: `<template>-<pod>` for a StatefulSet pod,
 * `<pod>-<portName>` for any other; a field error when that is not a valid object name.
 */
export function templateClaimName(
  podName: string,
  annotation: TemplateAnnotation,
  statefulSet: boolean,
): { ok: true; name: string } | { ok: false; error: FieldError } {
  const name = statefulSet
    ? `${annotation.templateName}-${podName}`
    : `${podName}-${annotation.portName.toLowerCase()}`;
  if (name.length <= MAX_NAME && DNS_SUBDOMAIN.test(name)) return { ok: true, name };
  const detail = `the claim name ${goQuote(name)} made from it is not a valid object name ` +
    `(a DNS subdomain of at most ${MAX_NAME} characters)`;
  return { ok: false, error: invalid(annotation.path, annotation.templateName, detail) };
}

/** Input of {@linkcode buildTemplateClaim}. */
export interface TemplateClaimInput {
  /** The template. */
  readonly template: HostPortClaimTemplate;
  /** The claim's name. */
  readonly name: string;
  /** The pod's namespace (the claim's too). */
  readonly namespace: string;
  /** The pod's name. */
  readonly podName: string;
  /** The pod's port name. */
  readonly portName: string;
  /** The pod's StatefulSet, with its retention policy. */
  readonly statefulSet?: StatefulSetOwner & { readonly policy: RetentionPolicy };
}

/**
 * Builds the claim a pod gets from a template: the template's class, labels and annotations,
 * labels saying where it came from, and for a StatefulSet whose `whenDeleted` is `Delete` an
 * owner reference to it (the garbage collector deletes the claim with it).
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

/**
 * Why a pod waiting for a template claim is refused, naming the class: full, or not allocated
 * yet (`claim` is undefined when it could not be read). The pod's controller creates it again.
 */
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
 * Chooses a name for a pod that has only `generateName`, as the API server would (plus 5 random
 * characters, trimmed to fit), since its claims are named after it and the API server names the
 * pod only after admission. `random` holds 5 values in [0, 1).
 */
export function generatedPodName(generateName: string, random: readonly number[]): string {
  const suffix = random.slice(0, 5).map((r) =>
    NAME_SUFFIX_ALPHABET[Math.floor(r * NAME_SUFFIX_ALPHABET.length)] ?? "x"
  ).join("");
  return `${generateName.slice(0, 63 - suffix.length)}${suffix}`;
}

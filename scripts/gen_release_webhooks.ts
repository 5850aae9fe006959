/**
 * The admission webhook configurations: the original's names and paths (seed section 3.1), with
 * `failurePolicy: Fail`, `sideEffects: None` and a 10 s timeout. The pod webhook only sees
 * namespaces labelled `hostport.rmb938.com: "true"` and never the operator's own namespace, so
 * the operator can always restart. It also sees `pods/status` (whose writers may change
 * annotations), but only updates that touch one of our annotations reach it (`matchConditions`),
 * so the kubelet's status writes cost nothing. HostPorts are validated through `hostports/status`
 * too. The same builders serve the release (the API server calls
 * the Service) and the demo and tests (it calls `https://127.0.0.1:<port>` by URL).
 *
 * @module
 */
import type {
  MutatingWebhook,
  MutatingWebhookConfiguration,
  RuleWithOperations,
  ValidatingWebhook,
  ValidatingWebhookConfiguration,
  WebhookClientConfig,
} from "kubernetes-types/admissionregistration/v1.d.ts";
import type { LabelSelector } from "kubernetes-types/meta/v1.d.ts";
import {
  CLAIM_ANNOTATION_PREFIX,
  GROUP,
  PLURAL,
  PORT_ANNOTATION_PREFIX,
  VERSION,
} from "../lib/api/constants.ts";
import { WEBHOOK_NAMES, WEBHOOK_PATHS, type WebhookId } from "../webhook/paths.ts";
import { NAMES, objectMeta, POD_NAMESPACE_LABEL, PORTS } from "./gen_release_names.ts";

/** How the API server reaches the admission server. */
export type WebhookEndpoint =
  | {
    /** Through the release's Service; `caBundle` is filled in later (operator or cert-manager). */
    kind: "service";
    /** `cert-manager.io/inject-ca-from` value, for the cert-manager variant. */
    injectCaFrom?: string;
  }
  | {
    /** By URL, for an operator running out of cluster. */
    kind: "url";
    /** `https://host:port`, without a path. */
    baseUrl: string;
    /** Base64 PEM of the CA that signed the serving certificate; omitted when the operator injects it. */
    caBundle?: string;
  };

/** Seconds the API server waits for an answer. */
export const WEBHOOK_TIMEOUT_SECONDS = 10;

const ADMISSION_API = "admissionregistration.k8s.io/v1";
const CREATE_UPDATE = ["CREATE", "UPDATE"];

/** kubernetes-types 1.30 leaves `resources` out of `RuleWithOperations`. */
type WebhookRule = RuleWithOperations & { resources: string[] };

function clientConfig(endpoint: WebhookEndpoint, id: WebhookId): WebhookClientConfig {
  const path = WEBHOOK_PATHS[id];
  if (endpoint.kind === "url") {
    const url = `${endpoint.baseUrl}${path}`;
    return endpoint.caBundle === undefined ? { url } : { url, caBundle: endpoint.caBundle };
  }
  return {
    service: { name: NAMES.service, namespace: NAMES.namespace, path, port: PORTS.webhookService },
  };
}

function common(endpoint: WebhookEndpoint, id: WebhookId, rules: WebhookRule[]) {
  return {
    name: WEBHOOK_NAMES[id],
    clientConfig: clientConfig(endpoint, id),
    rules,
    failurePolicy: "Fail",
    matchPolicy: "Equivalent",
    sideEffects: "None",
    timeoutSeconds: WEBHOOK_TIMEOUT_SECONDS,
    admissionReviewVersions: ["v1"],
  };
}

function crRule(...resources: string[]): WebhookRule {
  return {
    apiGroups: [GROUP],
    apiVersions: [VERSION],
    resources,
    operations: CREATE_UPDATE,
  };
}

/** CEL: whether annotation `key` is one of ours (a claim or the port the webhook wrote). */
function ours(key: string): string {
  return `(${key}.startsWith('${CLAIM_ANNOTATION_PREFIX}') || ` +
    `${key}.startsWith('${PORT_ANNOTATION_PREFIX}'))`;
}

/**
 * CEL of the pod webhook's match condition: every CREATE, and the UPDATEs (of the pod or of its
 * `status` subresource) where an annotation with one of our prefixes is added, removed or
 * changed between `oldObject` and `object`.
 */
export const POD_ANNOTATIONS_CHANGED = [
  "request.operation != 'UPDATE'",
  `(has(object.metadata.annotations) && object.metadata.annotations.exists(k, ${ours("k")} && ` +
  "!(has(oldObject.metadata.annotations) && k in oldObject.metadata.annotations && " +
  "oldObject.metadata.annotations[k] == object.metadata.annotations[k])))",
  `(has(oldObject.metadata.annotations) && oldObject.metadata.annotations.exists(k, ${
    ours("k")
  } && ` +
  "!(has(object.metadata.annotations) && k in object.metadata.annotations)))",
].join(" || ");

function metadata(name: string, endpoint: WebhookEndpoint) {
  const meta = objectMeta(name);
  if (endpoint.kind !== "service" || endpoint.injectCaFrom === undefined) return meta;
  return { ...meta, annotations: { "cert-manager.io/inject-ca-from": endpoint.injectCaFrom } };
}

/** The namespaces the pod webhook sees: labelled ones, except the operator's own. */
export function podNamespaceSelector(): LabelSelector {
  return {
    matchLabels: { ...POD_NAMESPACE_LABEL },
    matchExpressions: [{
      key: "kubernetes.io/metadata.name",
      operator: "NotIn",
      values: [NAMES.namespace],
    }],
  };
}

/** `hostport-allocator-crd` (mutating): defaulting of the three kinds. */
export function crdMutatingConfiguration(endpoint: WebhookEndpoint): MutatingWebhookConfiguration {
  const hook = (id: WebhookId, resource: string): MutatingWebhook => ({
    ...common(endpoint, id, [crRule(resource)]),
    reinvocationPolicy: "Never",
  });
  return {
    apiVersion: ADMISSION_API,
    kind: "MutatingWebhookConfiguration",
    metadata: metadata(NAMES.crdWebhooks, endpoint),
    webhooks: [
      hook("mutateHostPort", PLURAL.HostPort),
      hook("mutateHostPortClaim", PLURAL.HostPortClaim),
      hook("mutateHostPortClass", PLURAL.HostPortClass),
    ],
  };
}

/** `hostport-allocator-crd` (validating): validation of the three kinds. */
export function crdValidatingConfiguration(
  endpoint: WebhookEndpoint,
): ValidatingWebhookConfiguration {
  const hook = (id: WebhookId, ...resources: string[]): ValidatingWebhook =>
    common(endpoint, id, [crRule(...resources)]);
  return {
    apiVersion: ADMISSION_API,
    kind: "ValidatingWebhookConfiguration",
    metadata: metadata(NAMES.crdWebhooks, endpoint),
    webhooks: [
      // Status too: only the operator may write a port (`webhook/hostport_validation.ts`).
      hook("validateHostPort", PLURAL.HostPort, `${PLURAL.HostPort}/status`),
      hook("validateHostPortClaim", PLURAL.HostPortClaim),
      hook("validateHostPortClass", PLURAL.HostPortClass),
    ],
  };
}

/** `hostport-allocator-pod` (mutating): host ports for pods in labelled namespaces. */
export function podMutatingConfiguration(endpoint: WebhookEndpoint): MutatingWebhookConfiguration {
  const pods: WebhookRule = {
    apiGroups: [""],
    apiVersions: ["v1"],
    resources: ["pods"],
    operations: CREATE_UPDATE,
  };
  // The status subresource lets its writers change annotations too.
  const status: WebhookRule = { ...pods, resources: ["pods/status"], operations: ["UPDATE"] };
  return {
    apiVersion: ADMISSION_API,
    kind: "MutatingWebhookConfiguration",
    metadata: metadata(NAMES.podWebhooks, endpoint),
    webhooks: [{
      ...common(endpoint, "mutatePod", [pods, status]),
      namespaceSelector: podNamespaceSelector(),
      matchConditions: [{ name: "hostport-annotations", expression: POD_ANNOTATIONS_CHANGED }],
      reinvocationPolicy: "Never",
    }],
  };
}

/** The three webhook configurations, mutating first. */
export function webhookConfigurations(
  endpoint: WebhookEndpoint,
): (MutatingWebhookConfiguration | ValidatingWebhookConfiguration)[] {
  return [
    crdMutatingConfiguration(endpoint),
    crdValidatingConfiguration(endpoint),
    podMutatingConfiguration(endpoint),
  ];
}

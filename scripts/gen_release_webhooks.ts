/**
 * The admission webhook configurations: the original's names and paths (seed section 3.1), with
 * `failurePolicy: Fail`, `sideEffects: None` and a 10 s timeout. The pod webhook only sees
 * namespaces labelled `hostport.rmb938.com: "true"` and never the operator's own namespace, so
 * the operator can always restart. The same builders serve the release (the API server calls
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
import { GROUP, PLURAL, VERSION } from "../lib/api/constants.ts";
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

function common(endpoint: WebhookEndpoint, id: WebhookId, rule: WebhookRule) {
  return {
    name: WEBHOOK_NAMES[id],
    clientConfig: clientConfig(endpoint, id),
    rules: [rule],
    failurePolicy: "Fail",
    matchPolicy: "Equivalent",
    sideEffects: "None",
    timeoutSeconds: WEBHOOK_TIMEOUT_SECONDS,
    admissionReviewVersions: ["v1"],
  };
}

function crRule(resource: string): WebhookRule {
  return {
    apiGroups: [GROUP],
    apiVersions: [VERSION],
    resources: [resource],
    operations: CREATE_UPDATE,
  };
}

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
    ...common(endpoint, id, crRule(resource)),
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
  const hook = (id: WebhookId, resource: string): ValidatingWebhook =>
    common(endpoint, id, crRule(resource));
  return {
    apiVersion: ADMISSION_API,
    kind: "ValidatingWebhookConfiguration",
    metadata: metadata(NAMES.crdWebhooks, endpoint),
    webhooks: [
      hook("validateHostPort", PLURAL.HostPort),
      hook("validateHostPortClaim", PLURAL.HostPortClaim),
      hook("validateHostPortClass", PLURAL.HostPortClass),
    ],
  };
}

/** `hostport-allocator-pod` (mutating): host ports for pods in labelled namespaces. */
export function podMutatingConfiguration(endpoint: WebhookEndpoint): MutatingWebhookConfiguration {
  const rule: WebhookRule = {
    apiGroups: [""],
    apiVersions: ["v1"],
    resources: ["pods"],
    operations: CREATE_UPDATE,
  };
  return {
    apiVersion: ADMISSION_API,
    kind: "MutatingWebhookConfiguration",
    metadata: metadata(NAMES.podWebhooks, endpoint),
    webhooks: [{
      ...common(endpoint, "mutatePod", rule),
      namespaceSelector: podNamespaceSelector(),
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

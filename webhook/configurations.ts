/**
 * The admission webhook configurations, built from values alone: the original's paths and webhook
 * names (`paths.ts`), with `failurePolicy: Fail`, `sideEffects: None` and a 10 s timeout. The pod
 * webhook only sees namespaces labelled `hostport.rmb938.com: "true"` and never the operator's own
 * namespace, so the operator can always restart. It also sees `pods/status` (whose writers may
 * change annotations), but only updates that touch one of our annotations reach it
 * (`matchConditions`), so the kubelet's status writes cost nothing. HostPorts are validated
 * through `hostports/status` too.
 *
 * One source for every caller: the release (`scripts/gen_release_files.ts`, the API server
 * calls the Service), the operator's `--register-webhooks` (it calls a URL) and the demo and tests.
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
import type { LabelSelector, ObjectMeta } from "kubernetes-types/meta/v1.d.ts";
import {
  CLAIM_ANNOTATION_PREFIX,
  GROUP,
  NAMESPACE_LABEL_KEY,
  NAMESPACE_LABEL_VALUE,
  PLURAL,
  PORT_ANNOTATION_PREFIX,
  VERSION,
} from "../lib/api/constants.ts";
import { WEBHOOK_NAMES, WEBHOOK_PATHS, type WebhookId } from "./paths.ts";

/** How the API server reaches the admission server. */
export type WebhookClient =
  | {
    /** Through a Service; `caBundle` is filled in later (operator or cert-manager). */
    kind: "service";
    /** The Service's name. */
    name: string;
    /** The Service's namespace. */
    namespace: string;
    /** The Service's port. */
    port: number;
  }
  | {
    /** By URL, for an operator running out of cluster. */
    kind: "url";
    /** `https://host:port`, without a path. */
    baseUrl: string;
    /** Base64 PEM of the CA that signed the serving certificate; omitted when injected later. */
    caBundle?: string;
  };

/** Everything that varies between the release, `--register-webhooks`, the demo and the tests. */
export interface WebhookSetOptions {
  /** How the API server calls us. */
  client: WebhookClient;
  /** Name of the Mutating and the Validating configuration of the CR webhooks. */
  crdName: string;
  /** Name of the Mutating configuration of the pod webhook. */
  podName: string;
  /** The operator's namespace, which the pod webhook never sees. */
  operatorNamespace: string;
  /** Labels of each configuration. */
  labels?: Readonly<Record<string, string>>;
  /** Annotations of each configuration. */
  annotations?: Readonly<Record<string, string>>;
}

/** Seconds the API server waits for an answer. */
const WEBHOOK_TIMEOUT_SECONDS = 10;

/** The namespace label that turns the pod webhook on, as in the original. */
const POD_NAMESPACE_LABEL = { [NAMESPACE_LABEL_KEY]: NAMESPACE_LABEL_VALUE } as const;

const ADMISSION_API = "admissionregistration.k8s.io/v1";
const CREATE_UPDATE = ["CREATE", "UPDATE"];

/** kubernetes-types 1.30 leaves `resources` out of `RuleWithOperations`. */
type WebhookRule = RuleWithOperations & { resources: string[] };

function clientConfig(client: WebhookClient, id: WebhookId): WebhookClientConfig {
  const path = WEBHOOK_PATHS[id];
  if (client.kind === "url") {
    const url = `${client.baseUrl}${path}`;
    return client.caBundle === undefined ? { url } : { url, caBundle: client.caBundle };
  }
  return {
    service: { name: client.name, namespace: client.namespace, path, port: client.port },
  };
}

function common(client: WebhookClient, id: WebhookId, rules: WebhookRule[]) {
  return {
    name: WEBHOOK_NAMES[id],
    clientConfig: clientConfig(client, id),
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
const POD_ANNOTATIONS_CHANGED = [
  "request.operation != 'UPDATE'",
  `(has(object.metadata.annotations) && object.metadata.annotations.exists(k, ${ours("k")} && ` +
  "!(has(oldObject.metadata.annotations) && k in oldObject.metadata.annotations && " +
  "oldObject.metadata.annotations[k] == object.metadata.annotations[k])))",
  `(has(oldObject.metadata.annotations) && oldObject.metadata.annotations.exists(k, ${
    ours("k")
  } && ` +
  "!(has(object.metadata.annotations) && k in object.metadata.annotations)))",
].join(" || ");

function metadata(name: string, options: WebhookSetOptions): ObjectMeta {
  return {
    name,
    ...options.labels === undefined ? {} : { labels: { ...options.labels } },
    ...options.annotations === undefined ? {} : { annotations: { ...options.annotations } },
  };
}

/** The namespaces the pod webhook sees: labelled ones, except the operator's own. */
export function podNamespaceSelector(operatorNamespace: string): LabelSelector {
  return {
    matchLabels: { ...POD_NAMESPACE_LABEL },
    matchExpressions: [{
      key: "kubernetes.io/metadata.name",
      operator: "NotIn",
      values: [operatorNamespace],
    }],
  };
}

/** The mutating configuration of the CR webhooks: defaulting of the three kinds. */
function crdMutatingConfiguration(options: WebhookSetOptions): MutatingWebhookConfiguration {
  const hook = (id: WebhookId, resource: string): MutatingWebhook => ({
    ...common(options.client, id, [crRule(resource)]),
    reinvocationPolicy: "Never",
  });
  return {
    apiVersion: ADMISSION_API,
    kind: "MutatingWebhookConfiguration",
    metadata: metadata(options.crdName, options),
    webhooks: [
      hook("mutateHostPort", PLURAL.HostPort),
      hook("mutateHostPortClaim", PLURAL.HostPortClaim),
      hook("mutateHostPortClass", PLURAL.HostPortClass),
    ],
  };
}

/** The validating configuration of the CR webhooks: validation of the three kinds. */
function crdValidatingConfiguration(
  options: WebhookSetOptions,
): ValidatingWebhookConfiguration {
  const hook = (id: WebhookId, ...resources: string[]): ValidatingWebhook =>
    common(options.client, id, [crRule(...resources)]);
  return {
    apiVersion: ADMISSION_API,
    kind: "ValidatingWebhookConfiguration",
    metadata: metadata(options.crdName, options),
    webhooks: [
      // Status too: only the operator may write a port (`hostport_validation.ts`).
      hook("validateHostPort", PLURAL.HostPort, `${PLURAL.HostPort}/status`),
      hook("validateHostPortClaim", PLURAL.HostPortClaim),
      hook("validateHostPortClass", PLURAL.HostPortClass),
    ],
  };
}

/** The mutating configuration of the pod webhook: host ports for pods in labelled namespaces. */
function podMutatingConfiguration(options: WebhookSetOptions): MutatingWebhookConfiguration {
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
    metadata: metadata(options.podName, options),
    webhooks: [{
      ...common(options.client, "mutatePod", [pods, status]),
      namespaceSelector: podNamespaceSelector(options.operatorNamespace),
      matchConditions: [{ name: "hostport-annotations", expression: POD_ANNOTATIONS_CHANGED }],
      reinvocationPolicy: "Never",
    }],
  };
}

/** The three configurations of one install, mutating first. */
export interface WebhookSet {
  /** The CR webhooks' mutating configuration. */
  crdMutating: MutatingWebhookConfiguration;
  /** The CR webhooks' validating configuration. */
  crdValidating: ValidatingWebhookConfiguration;
  /** The pod webhook's mutating configuration. */
  podMutating: MutatingWebhookConfiguration;
}

/** Builds the three webhook configurations. */
export function webhookSet(options: WebhookSetOptions): WebhookSet {
  return {
    crdMutating: crdMutatingConfiguration(options),
    crdValidating: crdValidatingConfiguration(options),
    podMutating: podMutatingConfiguration(options),
  };
}

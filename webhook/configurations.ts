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
  MutatingWebhookConfiguration,
  RuleWithOperations,
  ValidatingWebhookConfiguration,
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

/**
 * How the API server reaches the admission server: through a Service (its `caBundle` filled in
 * later by the operator or cert-manager), or by URL `https://host:port` for an operator out of
 * cluster (with the base64 PEM of its CA, unless injected later).
 */
export type WebhookClient =
  | { kind: "service"; name: string; namespace: string; port: number }
  | { kind: "url"; baseUrl: string; caBundle?: string };

/**
 * Everything that varies between the release, `--register-webhooks`, the demo and the tests:
 * the client, the names of the CR webhooks' configurations (`crdName`) and of the pod webhook's
 * (`podName`), the operator's namespace (which the pod webhook never sees), and labels and
 * annotations of each configuration.
 */
export interface WebhookSetOptions {
  client: WebhookClient;
  crdName: string;
  podName: string;
  operatorNamespace: string;
  labels?: Readonly<Record<string, string>>;
  annotations?: Readonly<Record<string, string>>;
}

const ADMISSION_API = "admissionregistration.k8s.io/v1" as const;
const CREATE_UPDATE = ["CREATE", "UPDATE"];

/** kubernetes-types 1.30 leaves `resources` out of `RuleWithOperations`. */
type WebhookRule = RuleWithOperations & { resources: string[] };

/** CEL: whether annotation `k` is one of ours (a claim or the port the webhook wrote). */
const OURS = `(k.startsWith('${CLAIM_ANNOTATION_PREFIX}') || ` +
  `k.startsWith('${PORT_ANNOTATION_PREFIX}'))`;

/**
 * CEL of the pod webhook's match condition: every CREATE, and the UPDATEs (of the pod or of its
 * `status` subresource) where an annotation with one of our prefixes is added, removed or
 * changed between `oldObject` and `object`.
 */
const POD_ANNOTATIONS_CHANGED = [
  "request.operation != 'UPDATE'",
  `(has(object.metadata.annotations) && object.metadata.annotations.exists(k, ${OURS} && ` +
  "!(has(oldObject.metadata.annotations) && k in oldObject.metadata.annotations && " +
  "oldObject.metadata.annotations[k] == object.metadata.annotations[k])))",
  `(has(oldObject.metadata.annotations) && oldObject.metadata.annotations.exists(k, ${OURS} && ` +
  "!(has(object.metadata.annotations) && k in object.metadata.annotations)))",
].join(" || ");

/** The namespaces the pod webhook sees: labelled ones, except the operator's own. */
export function podNamespaceSelector(operatorNamespace: string): LabelSelector {
  return {
    matchLabels: { [NAMESPACE_LABEL_KEY]: NAMESPACE_LABEL_VALUE },
    matchExpressions: [{
      key: "kubernetes.io/metadata.name",
      operator: "NotIn",
      values: [operatorNamespace],
    }],
  };
}

/** The three configurations of one install, mutating first. */
export interface WebhookSet {
  crdMutating: MutatingWebhookConfiguration;
  crdValidating: ValidatingWebhookConfiguration;
  podMutating: MutatingWebhookConfiguration;
}

/** Builds the three webhook configurations. */
export function webhookSet(options: WebhookSetOptions): WebhookSet {
  const { client } = options;
  const hook = (id: WebhookId, rules: WebhookRule[]) => {
    const path = WEBHOOK_PATHS[id];
    const url = client.kind === "url" ? `${client.baseUrl}${path}` : "";
    return {
      name: WEBHOOK_NAMES[id],
      clientConfig: client.kind === "service"
        ? { service: { name: client.name, namespace: client.namespace, path, port: client.port } }
        : client.caBundle === undefined
        ? { url }
        : { url, caBundle: client.caBundle },
      rules,
      failurePolicy: "Fail",
      matchPolicy: "Equivalent",
      sideEffects: "None",
      timeoutSeconds: 10,
      admissionReviewVersions: ["v1"],
    };
  };
  const cr = (...resources: string[]): WebhookRule[] => [
    { apiGroups: [GROUP], apiVersions: [VERSION], resources, operations: CREATE_UPDATE },
  ];
  const configuration = <K extends string>(name: string, kind: K) => {
    const metadata: ObjectMeta = { name };
    if (options.labels !== undefined) metadata.labels = { ...options.labels };
    if (options.annotations !== undefined) metadata.annotations = { ...options.annotations };
    return { apiVersion: ADMISSION_API, kind, metadata };
  };
  const pods: WebhookRule = {
    apiGroups: [""],
    apiVersions: ["v1"],
    resources: ["pods"],
    operations: CREATE_UPDATE,
  };
  return {
    crdMutating: {
      ...configuration(options.crdName, "MutatingWebhookConfiguration"),
      webhooks: [
        { ...hook("mutateHostPort", cr(PLURAL.HostPort)), reinvocationPolicy: "Never" },
        { ...hook("mutateHostPortClaim", cr(PLURAL.HostPortClaim)), reinvocationPolicy: "Never" },
        { ...hook("mutateHostPortClass", cr(PLURAL.HostPortClass)), reinvocationPolicy: "Never" },
      ],
    },
    crdValidating: {
      ...configuration(options.crdName, "ValidatingWebhookConfiguration"),
      webhooks: [
        hook("validateHostPort", cr(PLURAL.HostPort, `${PLURAL.HostPort}/status`)),
        hook("validateHostPortClaim", cr(PLURAL.HostPortClaim)),
        hook("validateHostPortClass", cr(PLURAL.HostPortClass)),
      ],
    },
    podMutating: {
      ...configuration(options.podName, "MutatingWebhookConfiguration"),
      webhooks: [{
        // The status subresource lets its writers change annotations too.
        ...hook("mutatePod", [pods, {
          ...pods,
          resources: ["pods/status"],
          operations: ["UPDATE"],
        }]),
        namespaceSelector: podNamespaceSelector(options.operatorNamespace),
        matchConditions: [{ name: "hostport-annotations", expression: POD_ANNOTATIONS_CHANGED }],
        reinvocationPolicy: "Never",
      }],
    },
  };
}

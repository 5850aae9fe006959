/**
 * The original operator's seven webhook paths and names (seed 0), and the admission webhook
 * configurations for the release, `--register-webhooks`, the demo and the tests. The pod webhook
 * never sees the operator's namespace, so the operator can always restart. The operator's HostPort
 * writes and claim UPDATEs skip the CR webhooks (it sets finalizers, CEL rules bind it).
 *
 * @module
 */
import type {
  MutatingWebhookConfiguration,
  RuleWithOperations,
  ValidatingWebhookConfiguration,
} from "kubernetes-types/admissionregistration/v1.d.ts";
import type { LabelSelector } from "kubernetes-types/meta/v1.d.ts";
import {
  CLAIM_ANNOTATION_PREFIX,
  GROUP,
  NAMESPACE_LABEL_KEY,
  NAMESPACE_LABEL_VALUE,
  PLURAL,
  PORT_ANNOTATION_PREFIX,
  VERSION,
} from "../lib/api/constants.ts";

/** URL paths the admission server answers, one per webhook. */
export const WEBHOOK_PATHS = {
  mutateHostPort: "/mutate-hostport-rmb938-com-v1alpha1-hostport",
  mutateHostPortClaim: "/mutate-hostport-rmb938-com-v1alpha1-hostportclaim",
  mutateHostPortClass: "/mutate-hostport-rmb938-com-v1alpha1-hostportclass",
  validateHostPort: "/validate-hostport-rmb938-com-v1alpha1-hostport",
  validateHostPortClaim: "/validate-hostport-rmb938-com-v1alpha1-hostportclaim",
  validateHostPortClass: "/validate-hostport-rmb938-com-v1alpha1-hostportclass",
  mutatePod: "/mutate-v1-pod",
} as const;

/** Key of {@linkcode WEBHOOK_PATHS} and {@linkcode WEBHOOK_NAMES}. */
export type WebhookId = keyof typeof WEBHOOK_PATHS;

/** What the operator and the release name after the webhook Service. */
export interface ServiceNames {
  /** The configurations of the custom resources' webhooks (mutating and validating). */
  crdWebhooks: string;
  /** The pod webhook's (mutating) configuration. */
  podWebhooks: string;
  /** The serving certificate's Secret. */
  tlsSecret: string;
  /** The names the API server calls the Service by. */
  dnsNames: string[];
}

/** Names everything after the webhook Service `service` in `namespace`. */
export function serviceNames(service: string, namespace: string): ServiceNames {
  const host = `${service}.${namespace}.svc`;
  return {
    crdWebhooks: `${service}-crd`,
    podWebhooks: `${service}-pod`,
    tlsSecret: `${service}-tls`,
    dnsNames: [host, `${host}.cluster.local`],
  };
}

/** Webhook names in the webhook configurations; the API server quotes them in rejections. */
export const WEBHOOK_NAMES: { readonly [id in WebhookId]: string } = {
  mutateHostPort: "mhostport.kb.io",
  mutateHostPortClaim: "mhostportclaim.kb.io",
  mutateHostPortClass: "mhostportclass.kb.io",
  validateHostPort: "vhostport.kb.io",
  validateHostPortClaim: "vhostportclaim.kb.io",
  validateHostPortClass: "vhostportclass.kb.io",
  mutatePod: "mpod.kb.io",
};

/** The webhook an exact URL path belongs to. */
export function webhookForPath(path: string): WebhookId | undefined {
  return (Object.keys(WEBHOOK_PATHS) as WebhookId[]).find((id) => WEBHOOK_PATHS[id] === path);
}

/** How the API server reaches the admission server: a Service, or a URL (`https://host:port`). */
export type WebhookClient =
  | { kind: "service"; name: string; namespace: string; port: number }
  | { kind: "url"; baseUrl: string; caBundle?: string };

/** What varies between callers: client, configuration names and metadata, operator namespace. */
export interface WebhookSetOptions {
  client: WebhookClient;
  crdName: string;
  podName: string;
  operatorNamespace: string;
  /** The operator's username (`system:serviceaccount:<namespace>:<name>`); absent: no skipping. */
  operatorUsername?: string | undefined;
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

/** CEL: every CREATE, and UPDATEs that touch our annotations (not the kubelet's status writes). */
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

/**
 * The three configurations of one install, mutating first: the custom resources' mutating and
 * validating webhooks, then the pod webhook.
 */
export function webhookSet(
  options: WebhookSetOptions,
): [MutatingWebhookConfiguration, ValidatingWebhookConfiguration, MutatingWebhookConfiguration] {
  const { client, operatorUsername: user } = options;
  const notUser = `request.userInfo.username != ${JSON.stringify(user)}`; // JSON quotes as CEL
  const when = (name: string, expression: string) =>
    user === undefined ? {} : { matchConditions: [{ name, expression }] };
  const hostPort = when("not-the-operator", notUser);
  const claim = when("not-an-operator-update", `request.operation == 'CREATE' || ${notUser}`);
  const hook = (id: WebhookId, rules: WebhookRule[]) => {
    const path = WEBHOOK_PATHS[id];
    return {
      name: WEBHOOK_NAMES[id],
      clientConfig: client.kind === "service"
        ? { service: { name: client.name, namespace: client.namespace, path, port: client.port } }
        : {
          url: `${client.baseUrl}${path}`,
          ...client.caBundle !== undefined && { caBundle: client.caBundle },
        },
      rules,
      failurePolicy: "Fail",
      matchPolicy: "Equivalent",
      sideEffects: "None",
      timeoutSeconds: 10,
      admissionReviewVersions: ["v1"],
      ...id.endsWith("HostPort") ? hostPort : id.endsWith("HostPortClaim") ? claim : {},
    };
  };
  const cr = (...resources: string[]): WebhookRule[] => [
    { apiGroups: [GROUP], apiVersions: [VERSION], resources, operations: CREATE_UPDATE },
  ];
  const configuration = <K extends string>(kind: K, name: string) => ({
    apiVersion: ADMISSION_API,
    kind,
    metadata: {
      name,
      ...options.labels && { labels: { ...options.labels } },
      ...options.annotations && { annotations: { ...options.annotations } },
    },
  });
  const pods: WebhookRule = {
    apiGroups: [""],
    apiVersions: ["v1"],
    resources: ["pods"],
    operations: CREATE_UPDATE,
  };
  return [
    {
      ...configuration("MutatingWebhookConfiguration", options.crdName),
      webhooks: [
        { ...hook("mutateHostPort", cr(PLURAL.HostPort)), reinvocationPolicy: "Never" },
        { ...hook("mutateHostPortClaim", cr(PLURAL.HostPortClaim)), reinvocationPolicy: "Never" },
        { ...hook("mutateHostPortClass", cr(PLURAL.HostPortClass)), reinvocationPolicy: "Never" },
      ],
    },
    {
      ...configuration("ValidatingWebhookConfiguration", options.crdName),
      webhooks: [
        hook("validateHostPort", cr(PLURAL.HostPort, `${PLURAL.HostPort}/status`)),
        hook("validateHostPortClaim", cr(PLURAL.HostPortClaim)),
        hook("validateHostPortClass", cr(PLURAL.HostPortClass)),
      ],
    },
    {
      ...configuration("MutatingWebhookConfiguration", options.podName),
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
  ];
}

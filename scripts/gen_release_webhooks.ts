/**
 * The release's admission webhook configurations: the builders of `webhook/configurations.ts`
 * (which the operator's `--register-webhooks` shares) with the release's names (seed section
 * 3.1): `hostport-allocator-crd` and `hostport-allocator-pod`, calling the release's Service, or
 * a URL for the demo and tests (`https://127.0.0.1:<port>`).
 *
 * @module
 */
import type {
  MutatingWebhookConfiguration,
  ValidatingWebhookConfiguration,
} from "kubernetes-types/admissionregistration/v1.d.ts";
import { type WebhookClient, webhookSet } from "../webhook/configurations.ts";
import { COMMON_LABELS, NAMES, PORTS } from "./gen_release_names.ts";

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

function client(endpoint: WebhookEndpoint): WebhookClient {
  if (endpoint.kind === "url") return endpoint;
  return {
    kind: "service",
    name: NAMES.service,
    namespace: NAMES.namespace,
    port: PORTS.webhookService,
  };
}

/** The three webhook configurations of the release, mutating first. */
export function webhookConfigurations(
  endpoint: WebhookEndpoint,
): (MutatingWebhookConfiguration | ValidatingWebhookConfiguration)[] {
  const injectCaFrom = endpoint.kind === "service" ? endpoint.injectCaFrom : undefined;
  const set = webhookSet({
    client: client(endpoint),
    crdName: NAMES.crdWebhooks,
    podName: NAMES.podWebhooks,
    operatorNamespace: NAMES.namespace,
    labels: COMMON_LABELS,
    ...injectCaFrom === undefined
      ? {}
      : { annotations: { "cert-manager.io/inject-ca-from": injectCaFrom } },
  });
  return [set.crdMutating, set.crdValidating, set.podMutating];
}

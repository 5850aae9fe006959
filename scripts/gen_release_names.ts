/**
 * The names, ports and paths of the release manifests in one place. Names shared with the operator
 * are imported from the code that uses them, so the manifests cannot drift from it; object names
 * follow the original's release manifest (seed section 4.3).
 *
 * @module
 */
import { DEFAULT_RECORD_NAME } from "../lib/allocation/allocation_record.ts";
import { LEADER_ELECTION_LEASE_NAME } from "../lib/api/constants.ts";
import { DEFAULT_NAMESPACE } from "../lib/ops/config.ts";
import { serviceNames } from "../webhook/configurations.ts";

/** Version of the release; goes into the image tag and the `app.kubernetes.io/version` label. */
export const RELEASE_VERSION = "0.1.0";

/**
 * Repository of the operator image; the release's tag is {@linkcode RELEASE_VERSION}. Nothing
 * publishes it yet: build it from the Dockerfile, push it, and set it (see
 * docs/release-readme-draft.md). `localhost/` marks a locally built image.
 */
export const IMAGE_REPOSITORY = "localhost/hostport-allocator";

const SERVICE = "hostport-allocator";
/** The names the operator derives from the webhook Service's (configurations, Secret, DNS). */
const BY_SERVICE = serviceNames(SERVICE, DEFAULT_NAMESPACE);

/** Every name of the release. */
export const NAMES = {
  namespace: DEFAULT_NAMESPACE,
  /** Deployment, Service, ServiceAccount, ClusterRole(Binding), Role(Binding), PDB. */
  app: "hostport-allocator",
  container: "manager",
  service: SERVICE,
  serviceAccount: "hostport-allocator",
  /** The self-managed variant's ClusterRole/Role for its certificate (CA injection, Secret). */
  tlsRbac: "hostport-allocator-tls",
  /** Mutating and Validating configuration of the CR webhooks. */
  crdWebhooks: BY_SERVICE.crdWebhooks,
  podWebhooks: BY_SERVICE.podWebhooks,
  /** The serving certificate's Secret (written by the operator or by cert-manager). */
  tlsSecret: BY_SERVICE.tlsSecret,
  /** The names the API server calls the Service by. */
  dnsNames: BY_SERVICE.dnsNames,
  /** cert-manager Issuer and Certificate. */
  certificate: "hostport-allocator",
  lease: LEADER_ELECTION_LEASE_NAME,
  allocationRecord: DEFAULT_RECORD_NAME,
} as const;

/** Container ports (`/healthz` and `/readyz`, `/metrics`, the admission server) and the Service's. */
export const PORTS = { health: 8081, metrics: 8080, webhook: 9443, webhookService: 443 } as const;

/** Labels that select the operator's pods. */
export const SELECTOR_LABELS = {
  "app.kubernetes.io/name": NAMES.app,
  "app.kubernetes.io/component": "operator",
} as const;

/** Labels on every object of the release. */
export const COMMON_LABELS = {
  "app.kubernetes.io/name": NAMES.app,
  "app.kubernetes.io/version": RELEASE_VERSION,
  "app.kubernetes.io/part-of": NAMES.app,
} as const;

/** `system:serviceaccount:<namespace>:<name>` of the operator. */
export const OPERATOR_USER = `system:serviceaccount:${NAMES.namespace}:${NAMES.serviceAccount}`;

/** Standard object metadata: name, optional namespace, common labels. */
export function objectMeta(
  name: string,
  namespace?: string,
): { name: string; namespace?: string; labels: Record<string, string> } {
  return { name, ...(namespace === undefined ? {} : { namespace }), labels: { ...COMMON_LABELS } };
}

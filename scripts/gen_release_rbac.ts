/**
 * The operator's RBAC: least privilege, no wildcards; tests/release_rbac_test.ts fails on a call
 * these rules do not allow and on a grant no call used. Namespaced objects are reached through
 * Roles in the operator namespace, by `resourceNames` wherever the verb allows it.
 *
 * @module
 */
import type {
  ClusterRole,
  ClusterRoleBinding,
  PolicyRule,
  Role,
  RoleBinding,
} from "kubernetes-types/rbac/v1.d.ts";
import { RECORD_ANCHOR_CRD } from "../lib/allocation/record_anchor.ts";
import { GROUP, PLURAL } from "../lib/api/constants.ts";
import { NAMES, objectMeta } from "./gen_release_names.ts";

/** How the webhook gets its serving certificate. */
export type TlsVariant = "self-managed" | "cert-manager";

const RBAC_API = "rbac.authorization.k8s.io/v1" as const;

type RbacObject = ClusterRole | ClusterRoleBinding | Role | RoleBinding;

/** `create` of `resource` (it cannot be limited by name), then `get` and `update` of `name`. */
function createAndUpdate(apiGroup: string, resource: string, name: string): PolicyRule[] {
  return [
    { apiGroups: [apiGroup], resources: [resource], verbs: ["create"] },
    {
      apiGroups: [apiGroup],
      resources: [resource],
      resourceNames: [name],
      verbs: ["get", "update"],
    },
  ];
}

/** A ClusterRole and a Role in the operator namespace, each bound to the operator's ServiceAccount. */
function rbacSet(
  name: string,
  clusterRules: PolicyRule[],
  namespaceRules: PolicyRule[],
): RbacObject[] {
  const subjects = [{
    kind: "ServiceAccount",
    name: NAMES.serviceAccount,
    namespace: NAMES.namespace,
  }];
  const binding = (kind: "ClusterRole" | "Role", metadata: ReturnType<typeof objectMeta>) => ({
    apiVersion: RBAC_API,
    kind: `${kind}Binding` as const,
    metadata,
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind, name },
    subjects,
  });
  const namespaced = objectMeta(name, NAMES.namespace);
  return [
    { apiVersion: RBAC_API, kind: "ClusterRole", metadata: objectMeta(name), rules: clusterRules },
    binding("ClusterRole", objectMeta(name)),
    { apiVersion: RBAC_API, kind: "Role", metadata: namespaced, rules: namespaceRules },
    binding("Role", namespaced),
  ];
}

/**
 * The ClusterRole, Role and bindings every variant needs: cluster-wide, the API and the CRD (the
 * allocation record's anchor, one CAS write); in the operator namespace, the Lease and the record.
 */
export function operatorRbac(): RbacObject[] {
  const cluster: PolicyRule[] = [
    // Classes are only read from the informer cache; claims are also read live.
    { apiGroups: [GROUP], resources: [PLURAL.HostPortClass], verbs: ["list", "watch", "update"] },
    // create: the pod webhook makes per-pod claims from templates; patch, delete: the
    // template-claim controller sets their owners and deletes finished pods' claims.
    {
      apiGroups: [GROUP],
      resources: [PLURAL.HostPortClaim],
      verbs: ["get", "list", "watch", "create", "update", "patch", "delete"],
    },
    // Per-pod claims: the template and the pod's StatefulSet (its retention policy), read live.
    { apiGroups: [GROUP], resources: [PLURAL.HostPortClaimTemplate], verbs: ["get"] },
    { apiGroups: ["apps"], resources: ["statefulsets"], verbs: ["get"] },
    {
      apiGroups: [GROUP],
      resources: [PLURAL.HostPort],
      verbs: ["get", "list", "watch", "create", "update", "delete"],
    },
    {
      apiGroups: [GROUP],
      resources: [
        `${PLURAL.HostPortClass}/status`,
        `${PLURAL.HostPortClaim}/status`,
        `${PLURAL.HostPort}/status`,
      ],
      verbs: ["update"],
    },
    { apiGroups: [""], resources: ["pods"], verbs: ["list", "watch"] },
    // Claim quotas: read by the webhook and the controllers; the per-class usage goes to status.
    { apiGroups: [""], resources: ["resourcequotas"], verbs: ["list", "watch"] },
    { apiGroups: [""], resources: ["resourcequotas/status"], verbs: ["patch"] },
    { apiGroups: ["events.k8s.io"], resources: ["events"], verbs: ["create", "patch"] },
    {
      apiGroups: ["apiextensions.k8s.io"],
      resources: ["customresourcedefinitions"],
      resourceNames: [RECORD_ANCHOR_CRD],
      verbs: ["get", "patch"],
    },
    // Who the operator is (the webhook lets only that user write HostPort ports). Granted to
    // every authenticated user by system:basic-user too; explicit so a trimmed cluster still works.
    { apiGroups: ["authentication.k8s.io"], resources: ["selfsubjectreviews"], verbs: ["create"] },
  ];
  return rbacSet(NAMES.app, cluster, [
    ...createAndUpdate("coordination.k8s.io", "leases", NAMES.lease),
    ...createAndUpdate("", "configmaps", NAMES.allocationRecord),
  ]);
}

/** The extra RBAC of the self-managed variant: CA injection into its configurations, its Secret. */
export function selfManagedTlsRbac(): RbacObject[] {
  const configurations = (kind: string, names: string[]): PolicyRule => ({
    apiGroups: ["admissionregistration.k8s.io"],
    resources: [`${kind}webhookconfigurations`],
    resourceNames: names,
    verbs: ["get", "update"],
  });
  const cluster = [
    configurations("mutating", [NAMES.crdWebhooks, NAMES.podWebhooks]),
    configurations("validating", [NAMES.crdWebhooks]),
  ];
  return rbacSet(NAMES.tlsRbac, cluster, createAndUpdate("", "secrets", NAMES.tlsSecret));
}

/**
 * Descriptors of the built-in kinds the operator uses, typed by `kubernetes-types`.
 *
 * @module
 */
import type {
  MutatingWebhookConfiguration,
  ValidatingWebhookConfiguration,
} from "kubernetes-types/admissionregistration/v1.d.ts";
import type { CustomResourceDefinition } from "kubernetes-types/apiextensions/v1.d.ts";
import type { StatefulSet } from "kubernetes-types/apps/v1.d.ts";
import type { Lease } from "kubernetes-types/coordination/v1.d.ts";
import type {
  Namespace,
  Pod,
  ResourceQuota,
  Secret,
  ServiceAccount,
} from "kubernetes-types/core/v1.d.ts";
import type { Event } from "kubernetes-types/events/v1.d.ts";
import { defineResource, type ResourceDescriptor } from "./resource.ts";

/** `v1` Pods. */
export const POD_RESOURCE: ResourceDescriptor<Pod> = defineResource<Pod>({
  group: "",
  version: "v1",
  kind: "Pod",
  plural: "pods",
  namespaced: true,
});

/** `v1` ResourceQuotas (claim quotas). */
export const RESOURCE_QUOTA_RESOURCE: ResourceDescriptor<ResourceQuota> = defineResource<
  ResourceQuota
>({
  group: "",
  version: "v1",
  kind: "ResourceQuota",
  plural: "resourcequotas",
  namespaced: true,
});

/** `v1` Namespaces. */
export const NAMESPACE_RESOURCE: ResourceDescriptor<Namespace> = defineResource<Namespace>({
  group: "",
  version: "v1",
  kind: "Namespace",
  plural: "namespaces",
  namespaced: false,
});

/** `v1` Secrets. */
export const SECRET_RESOURCE: ResourceDescriptor<Secret> = defineResource<Secret>({
  group: "",
  version: "v1",
  kind: "Secret",
  plural: "secrets",
  namespaced: true,
});

/** `v1` ServiceAccounts. */
export const SERVICE_ACCOUNT_RESOURCE: ResourceDescriptor<ServiceAccount> = defineResource<
  ServiceAccount
>({
  group: "",
  version: "v1",
  kind: "ServiceAccount",
  plural: "serviceaccounts",
  namespaced: true,
});

/** `events.k8s.io/v1` Events. */
export const EVENT_RESOURCE: ResourceDescriptor<Event> = defineResource<Event>({
  group: "events.k8s.io",
  version: "v1",
  kind: "Event",
  plural: "events",
  namespaced: true,
});

/** `coordination.k8s.io/v1` Leases (leader election). */
export const LEASE_RESOURCE: ResourceDescriptor<Lease> = defineResource<Lease>({
  group: "coordination.k8s.io",
  version: "v1",
  kind: "Lease",
  plural: "leases",
  namespaced: true,
});

/** `admissionregistration.k8s.io/v1` MutatingWebhookConfigurations. */
export const MUTATING_WEBHOOK_CONFIGURATION_RESOURCE: ResourceDescriptor<
  MutatingWebhookConfiguration
> = defineResource<MutatingWebhookConfiguration>({
  group: "admissionregistration.k8s.io",
  version: "v1",
  kind: "MutatingWebhookConfiguration",
  plural: "mutatingwebhookconfigurations",
  namespaced: false,
});

/** `admissionregistration.k8s.io/v1` ValidatingWebhookConfigurations. */
export const VALIDATING_WEBHOOK_CONFIGURATION_RESOURCE: ResourceDescriptor<
  ValidatingWebhookConfiguration
> = defineResource<ValidatingWebhookConfiguration>({
  group: "admissionregistration.k8s.io",
  version: "v1",
  kind: "ValidatingWebhookConfiguration",
  plural: "validatingwebhookconfigurations",
  namespaced: false,
});

/** `apiextensions.k8s.io/v1` CustomResourceDefinitions. */
export const CUSTOM_RESOURCE_DEFINITION_RESOURCE: ResourceDescriptor<CustomResourceDefinition> =
  defineResource<CustomResourceDefinition>({
    group: "apiextensions.k8s.io",
    version: "v1",
    kind: "CustomResourceDefinition",
    plural: "customresourcedefinitions",
    namespaced: false,
  });

/** `apps/v1` StatefulSets. */
export const STATEFUL_SET_RESOURCE: ResourceDescriptor<StatefulSet> = defineResource<StatefulSet>({
  group: "apps",
  version: "v1",
  kind: "StatefulSet",
  plural: "statefulsets",
  namespaced: true,
});

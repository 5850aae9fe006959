/**
 * Descriptors of every kind the operator uses (the built-in ones typed by `kubernetes-types`, our
 * four validated with the `lib/api` parsers) and ready-made typed clients for them over one
 * `RestClient`.
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
import type { Pod, ResourceQuota, Secret } from "kubernetes-types/core/v1.d.ts";
import type { Event } from "kubernetes-types/events/v1.d.ts";
import { defineResource, ResourceClient, type ResourceDescriptor } from "./resource.ts";
import { GROUP, KIND, PLURAL, VERSION } from "../api/constants.ts";
import { type HostPort, parseHostPort } from "../api/types.ts";
import { type HostPortClaim, parseHostPortClaim } from "../api/types.ts";
import { type HostPortClaimTemplate, parseHostPortClaimTemplate } from "../api/types.ts";
import { type HostPortClass, parseHostPortClass } from "../api/types.ts";
import type { RestClient } from "./rest_client.ts";

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

/** `v1` Secrets. */
export const SECRET_RESOURCE: ResourceDescriptor<Secret> = defineResource<Secret>({
  group: "",
  version: "v1",
  kind: "Secret",
  plural: "secrets",
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

/** Cluster-scoped HostPortClasses (pools of ports). */
export const HOST_PORT_CLASS_RESOURCE: ResourceDescriptor<HostPortClass> = defineResource({
  group: GROUP,
  version: VERSION,
  kind: KIND.HostPortClass,
  plural: PLURAL.HostPortClass,
  namespaced: false,
  schema: { parse: parseHostPortClass },
});

/** Namespaced HostPortClaims. */
export const HOST_PORT_CLAIM_RESOURCE: ResourceDescriptor<HostPortClaim> = defineResource({
  group: GROUP,
  version: VERSION,
  kind: KIND.HostPortClaim,
  plural: PLURAL.HostPortClaim,
  namespaced: true,
  schema: { parse: parseHostPortClaim },
});

/** Cluster-scoped HostPorts (one allocated port each). */
export const HOST_PORT_RESOURCE: ResourceDescriptor<HostPort> = defineResource({
  group: GROUP,
  version: VERSION,
  kind: KIND.HostPort,
  plural: PLURAL.HostPort,
  namespaced: false,
  schema: { parse: parseHostPort },
});

/** Namespaced HostPortClaimTemplates (one claim per pod). */
export const HOST_PORT_CLAIM_TEMPLATE_RESOURCE: ResourceDescriptor<HostPortClaimTemplate> =
  defineResource({
    group: GROUP,
    version: VERSION,
    kind: KIND.HostPortClaimTemplate,
    plural: PLURAL.HostPortClaimTemplate,
    namespaced: true,
    schema: { parse: parseHostPortClaimTemplate },
  });

/** One `ResourceClient` per kind. */
export interface KubeClients {
  rest: RestClient;
  pods: ResourceClient<Pod>;
  secrets: ResourceClient<Secret>;
  events: ResourceClient<Event>;
  leases: ResourceClient<Lease>;
  mutatingWebhookConfigurations: ResourceClient<MutatingWebhookConfiguration>;
  validatingWebhookConfigurations: ResourceClient<ValidatingWebhookConfiguration>;
  hostPortClasses: ResourceClient<HostPortClass>;
  /** HostPortClaims. */
  hostPortClaims: ResourceClient<HostPortClaim>;
  hostPorts: ResourceClient<HostPort>;
  hostPortClaimTemplates: ResourceClient<HostPortClaimTemplate>;
  statefulSets: ResourceClient<StatefulSet>;
}

/** Builds the typed clients over `rest`. */
export function createKubeClients(rest: RestClient): KubeClients {
  return {
    rest,
    pods: new ResourceClient(rest, POD_RESOURCE),
    secrets: new ResourceClient(rest, SECRET_RESOURCE),
    events: new ResourceClient(rest, EVENT_RESOURCE),
    leases: new ResourceClient(rest, LEASE_RESOURCE),
    mutatingWebhookConfigurations: new ResourceClient(
      rest,
      MUTATING_WEBHOOK_CONFIGURATION_RESOURCE,
    ),
    validatingWebhookConfigurations: new ResourceClient(
      rest,
      VALIDATING_WEBHOOK_CONFIGURATION_RESOURCE,
    ),
    hostPortClasses: new ResourceClient(rest, HOST_PORT_CLASS_RESOURCE),
    hostPortClaims: new ResourceClient(rest, HOST_PORT_CLAIM_RESOURCE),
    hostPorts: new ResourceClient(rest, HOST_PORT_RESOURCE),
    hostPortClaimTemplates: new ResourceClient(rest, HOST_PORT_CLAIM_TEMPLATE_RESOURCE),
    statefulSets: new ResourceClient(rest, STATEFUL_SET_RESOURCE),
  };
}

/**
 * Ready-made typed clients for every kind the operator uses, over one `RestClient`.
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
import type { Namespace, Pod, Secret, ServiceAccount } from "kubernetes-types/core/v1.d.ts";
import type { Event } from "kubernetes-types/events/v1.d.ts";
import type { HostPort, HostPortClaim, HostPortClaimTemplate, HostPortClass } from "../api/mod.ts";
import {
  CUSTOM_RESOURCE_DEFINITION_RESOURCE,
  EVENT_RESOURCE,
  LEASE_RESOURCE,
  MUTATING_WEBHOOK_CONFIGURATION_RESOURCE,
  NAMESPACE_RESOURCE,
  POD_RESOURCE,
  SECRET_RESOURCE,
  SERVICE_ACCOUNT_RESOURCE,
  STATEFUL_SET_RESOURCE,
  VALIDATING_WEBHOOK_CONFIGURATION_RESOURCE,
} from "./builtin_resources.ts";
import {
  HOST_PORT_CLAIM_RESOURCE,
  HOST_PORT_CLAIM_TEMPLATE_RESOURCE,
  HOST_PORT_CLASS_RESOURCE,
  HOST_PORT_RESOURCE,
} from "./hostport_resources.ts";
import { ResourceClient } from "./resource_client.ts";
import type { RestClient } from "./rest_contract.ts";

/** One `ResourceClient` per kind. */
export interface KubeClients {
  /** The underlying client. */
  rest: RestClient;
  /** Pods. */
  pods: ResourceClient<Pod>;
  /** Namespaces. */
  namespaces: ResourceClient<Namespace>;
  /** Secrets. */
  secrets: ResourceClient<Secret>;
  /** ServiceAccounts. */
  serviceAccounts: ResourceClient<ServiceAccount>;
  /** events.k8s.io/v1 Events. */
  events: ResourceClient<Event>;
  /** Leases. */
  leases: ResourceClient<Lease>;
  /** MutatingWebhookConfigurations. */
  mutatingWebhookConfigurations: ResourceClient<MutatingWebhookConfiguration>;
  /** ValidatingWebhookConfigurations. */
  validatingWebhookConfigurations: ResourceClient<ValidatingWebhookConfiguration>;
  /** CustomResourceDefinitions. */
  customResourceDefinitions: ResourceClient<CustomResourceDefinition>;
  /** HostPortClasses. */
  hostPortClasses: ResourceClient<HostPortClass>;
  /** HostPortClaims. */
  hostPortClaims: ResourceClient<HostPortClaim>;
  /** HostPorts. */
  hostPorts: ResourceClient<HostPort>;
  /** HostPortClaimTemplates. */
  hostPortClaimTemplates: ResourceClient<HostPortClaimTemplate>;
  /** apps/v1 StatefulSets. */
  statefulSets: ResourceClient<StatefulSet>;
}

/** Builds the typed clients over `rest`. */
export function createKubeClients(rest: RestClient): KubeClients {
  return {
    rest,
    pods: new ResourceClient(rest, POD_RESOURCE),
    namespaces: new ResourceClient(rest, NAMESPACE_RESOURCE),
    secrets: new ResourceClient(rest, SECRET_RESOURCE),
    serviceAccounts: new ResourceClient(rest, SERVICE_ACCOUNT_RESOURCE),
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
    customResourceDefinitions: new ResourceClient(rest, CUSTOM_RESOURCE_DEFINITION_RESOURCE),
    hostPortClasses: new ResourceClient(rest, HOST_PORT_CLASS_RESOURCE),
    hostPortClaims: new ResourceClient(rest, HOST_PORT_CLAIM_RESOURCE),
    hostPorts: new ResourceClient(rest, HOST_PORT_RESOURCE),
    hostPortClaimTemplates: new ResourceClient(rest, HOST_PORT_CLAIM_TEMPLATE_RESOURCE),
    statefulSets: new ResourceClient(rest, STATEFUL_SET_RESOURCE),
  };
}

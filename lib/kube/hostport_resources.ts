/**
 * Descriptors of our four kinds (`hostport.rmb938.com/v1alpha1`), validated with the
 * `lib/api` parsers.
 *
 * @module
 */
import {
  GROUP,
  type HostPort,
  type HostPortClaim,
  type HostPortClaimTemplate,
  type HostPortClass,
  KIND,
  parseHostPort,
  parseHostPortClaim,
  parseHostPortClaimTemplate,
  parseHostPortClass,
  PLURAL,
  VERSION,
} from "../api/mod.ts";
import { defineResource, type ResourceDescriptor } from "./resource.ts";

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

/**
 * RBAC arithmetic for the release test: explodes ClusterRoles and Roles into single grants
 * (one verb on one resource, and one name where the rule names them), matches recorded API
 * calls against them the way the RBAC authorizer does, and reports calls no grant allows and
 * grants no call used.
 *
 * @module
 */
import type { PolicyRule } from "kubernetes-types/rbac/v1.d.ts";
import type { ApiCall } from "./audit_log.ts";

/** A role bound to the operator: a ClusterRole (everywhere) or a Role (one namespace). */
export interface BoundRole {
  /** `ClusterRole/<name>` or `Role/<namespace>/<name>`, for messages. */
  label: string;
  /** The Role's namespace; undefined for a ClusterRole bound with a ClusterRoleBinding. */
  namespace?: string | undefined;
  /** Its rules. */
  rules: readonly PolicyRule[];
}

/** One verb on one resource (and one name, if the rule lists names) of one role. */
export interface Grant {
  /** Human-readable and unique: `ClusterRole/x: update hostports/status.hostport.rmb938.com`. */
  key: string;
  /** Role namespace, or undefined for cluster-wide. */
  namespace: string | undefined;
  /** API group. */
  apiGroup: string;
  /** `resource` or `resource/subresource`. */
  resource: string;
  /** The verb. */
  verb: string;
  /** The one name it is limited to, if any. */
  resourceName: string | undefined;
}

/** Explodes roles into grants. */
export function grantsOf(roles: readonly BoundRole[]): Grant[] {
  const grants: Grant[] = [];
  for (const role of roles) {
    for (const rule of role.rules) {
      const names: (string | undefined)[] = rule.resourceNames?.length
        ? rule.resourceNames
        : [undefined];
      for (const apiGroup of rule.apiGroups ?? []) {
        for (const resource of rule.resources ?? []) {
          for (const verb of rule.verbs) {
            for (const resourceName of names) {
              const group = apiGroup === "" ? "" : `.${apiGroup}`;
              const name = resourceName === undefined ? "" : ` named ${resourceName}`;
              grants.push({
                key: `${role.label}: ${verb} ${resource}${group}${name}`,
                namespace: role.namespace,
                apiGroup,
                resource,
                verb,
                resourceName,
              });
            }
          }
        }
      }
    }
  }
  return grants;
}

/** Whether `grant` allows `call` (RBAC semantics, without wildcards, which we never grant). */
export function allows(grant: Grant, call: ApiCall): boolean {
  if (call.resource === undefined) return false;
  if (grant.namespace !== undefined && grant.namespace !== call.namespace) return false;
  if (grant.resourceName !== undefined && grant.resourceName !== call.name) return false;
  return grant.apiGroup === call.apiGroup && grant.resource === call.resource &&
    grant.verb === call.verb;
}

/** What the calls say about the grants. */
export interface RbacReport {
  /** Resource calls that no grant allows. */
  unallowed: ApiCall[];
  /** Grants that allowed no call. */
  unused: Grant[];
  /** How many calls each grant allowed. */
  uses: Map<string, number>;
}

/** Matches every resource call against the grants. */
export function checkCalls(roles: readonly BoundRole[], calls: readonly ApiCall[]): RbacReport {
  const grants = grantsOf(roles);
  const uses = new Map(grants.map((grant) => [grant.key, 0]));
  const unallowed: ApiCall[] = [];
  for (const call of calls) {
    if (call.resource === undefined) continue; // discovery and the like: not ours to grant
    const allowing = grants.filter((grant) => allows(grant, call));
    if (allowing.length === 0) unallowed.push(call);
    for (const grant of allowing) uses.set(grant.key, (uses.get(grant.key) ?? 0) + 1);
  }
  return { unallowed, unused: grants.filter((grant) => uses.get(grant.key) === 0), uses };
}

/** Describes a call on one line, for assertion messages. */
export function describeCall(call: ApiCall): string {
  return `${call.verb} ${call.uri} -> ${call.code}`;
}

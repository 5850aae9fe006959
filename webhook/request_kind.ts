/**
 * The kind each webhook expects, and the check that a request is for that kind.
 *
 * @module
 */
import { GROUP, KIND, VERSION } from "../lib/api/mod.ts";
import type { WebhookId } from "./paths.ts";
import { type AdmissionRequest, isPlainObject } from "./review.ts";

/** A group, version and kind. */
export interface GroupVersionKind {
  /** API group, `""` for core. */
  readonly group: string;
  /** API version within the group. */
  readonly version: string;
  /** Kind name. */
  readonly kind: string;
}

const POD: GroupVersionKind = { group: "", version: "v1", kind: "Pod" };
const HOST_PORT: GroupVersionKind = { group: GROUP, version: VERSION, kind: KIND.HostPort };
const CLAIM: GroupVersionKind = { group: GROUP, version: VERSION, kind: KIND.HostPortClaim };
const CLASS: GroupVersionKind = { group: GROUP, version: VERSION, kind: KIND.HostPortClass };

/** The kind each webhook serves. */
export const EXPECTED_KIND: { readonly [id in WebhookId]: GroupVersionKind } = {
  mutateHostPort: HOST_PORT,
  mutateHostPortClaim: CLAIM,
  mutateHostPortClass: CLASS,
  validateHostPort: HOST_PORT,
  validateHostPortClaim: CLAIM,
  validateHostPortClass: CLASS,
  mutatePod: POD,
};

/**
 * Checks that `request.kind` (and the object's own `apiVersion`/`kind`, when present) is what
 * the webhook serves.
 *
 * @param id the webhook
 * @param request the decoded request
 * @returns `undefined` when it matches, else a message in the original's
 *   `expected a HostPort object but got ...` family
 */
export function checkRequestKind(id: WebhookId, request: AdmissionRequest): string | undefined {
  const expected = EXPECTED_KIND[id];
  const got = request.kind;
  const objectKind = ownKind(request.object) ?? ownKind(request.oldObject);
  if (sameKind(got, expected) && (objectKind === undefined || sameKind(objectKind, expected))) {
    return undefined;
  }
  const shown = sameKind(got, expected) && objectKind !== undefined ? objectKind : got;
  return `expected a ${expected.kind} object but got ${formatKind(shown)}`;
}

/** Prints a kind as Go's `schema.GroupVersionKind.String()` does: `group/version, Kind=kind`. */
export function formatKind(gvk: GroupVersionKind): string {
  return `${gvk.group}/${gvk.version}, Kind=${gvk.kind}`;
}

function sameKind(a: GroupVersionKind, b: GroupVersionKind): boolean {
  return a.group === b.group && a.version === b.version && a.kind === b.kind;
}

/** Reads `apiVersion` and `kind` from an object that declares them (either may be absent). */
function ownKind(object: unknown): GroupVersionKind | undefined {
  if (!isPlainObject(object)) return undefined;
  const { apiVersion, kind } = object;
  if (typeof apiVersion !== "string" || typeof kind !== "string") return undefined;
  const slash = apiVersion.lastIndexOf("/");
  const group = slash === -1 ? "" : apiVersion.slice(0, slash);
  return { group, version: apiVersion.slice(slash + 1), kind };
}

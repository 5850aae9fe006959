/**
 * Option and result types of `ResourceClient`, and how they become query parameters.
 *
 * @module
 */
import type { KubeObject } from "./resource.ts";

/** Options every call accepts. */
export interface CallOptions {
  /** Aborts the request. */
  abortSignal?: AbortSignal | undefined;
}

/** Where a named object lives (namespaced kinds need a namespace). */
export interface ObjectOptions extends CallOptions {
  /** The namespace of a namespaced kind. */
  namespace?: string | undefined;
}

/** Options of writes. */
export interface WriteOptions extends ObjectOptions {
  /** Validate and return the result without persisting it. */
  dryRun?: boolean | undefined;
  /** The field manager recorded in `managedFields`. */
  fieldManager?: string | undefined;
  /** How the server treats unknown or duplicate fields. */
  fieldValidation?: "Ignore" | "Warn" | "Strict" | undefined;
}

/** Options of patches; server-side apply needs `fieldManager`. */
export interface PatchOptions extends WriteOptions {
  /** Server-side apply: take over fields owned by other managers. */
  force?: boolean | undefined;
}

/** One RFC 6902 operation. */
export interface JsonPatchOperation {
  /** The operation. */
  op: "add" | "remove" | "replace" | "move" | "copy" | "test";
  /** A JSON pointer (`/metadata/annotations/a~1b`). */
  path: string;
  /** The value for add, replace and test. */
  value?: unknown;
  /** The source pointer for move and copy. */
  from?: string | undefined;
}

/** A patch body and its type. */
export type Patch =
  /** RFC 7386 JSON merge patch (`null` deletes a key). */
  | { type: "merge"; body: unknown }
  /** RFC 6902 JSON patch, for example with a `test` guard. */
  | { type: "json"; operations: JsonPatchOperation[] }
  /** Strategic merge patch (built-in kinds only). */
  | { type: "strategic"; body: unknown }
  /** Server-side apply of a partial object; pass `fieldManager` (and maybe `force`). */
  | { type: "apply"; body: unknown };

/** The `Content-Type` of each patch type. */
export const PATCH_CONTENT_TYPES: Record<Patch["type"], string> = {
  merge: "application/merge-patch+json",
  json: "application/json-patch+json",
  strategic: "application/strategic-merge-patch+json",
  apply: "application/apply-patch+yaml",
};

/** Options of delete. */
export interface DeleteOptions extends ObjectOptions {
  /** Delete only if the object still has this uid and/or resourceVersion (else 409). */
  preconditions?: { uid?: string | undefined; resourceVersion?: string | undefined } | undefined;
  /** How dependents are garbage-collected. */
  propagationPolicy?: "Orphan" | "Background" | "Foreground" | undefined;
  /** Seconds before the object is deleted (pods); 0 means now. */
  gracePeriodSeconds?: number | undefined;
  /** Validate without deleting. */
  dryRun?: boolean | undefined;
}

/** Selectors shared by list and watch. */
export interface SelectorOptions extends CallOptions {
  /** Limit to one namespace; omit for all namespaces (or a cluster-scoped kind). */
  namespace?: string | undefined;
  /** A label selector such as `app=web,tier!=db`. */
  labelSelector?: string | undefined;
  /** A field selector such as `metadata.name=web`. */
  fieldSelector?: string | undefined;
}

/** Options of one list page. */
export interface ListOptions extends SelectorOptions {
  /** The page size. */
  limit?: number | undefined;
  /** The `continue` token of the previous page. */
  continue?: string | undefined;
  /** Serve from this resourceVersion (`"0"`: any cached version). */
  resourceVersion?: string | undefined;
  /** How `resourceVersion` is matched. */
  resourceVersionMatch?: "NotOlderThan" | "Exact" | undefined;
}

/** One page of a list. */
export interface ListPage<T extends KubeObject> {
  /** The objects. */
  items: T[];
  /** The collection's resourceVersion (watch from here). */
  resourceVersion: string;
  /** The token for the next page, absent on the last page. */
  continue?: string | undefined;
}

/** Options of a watch. */
export interface WatchOptions extends SelectorOptions {
  /** Start after this version; omit to get synthetic ADDED events for every object first. */
  resourceVersion?: string | undefined;
  /** Ask the server to end the watch after this many seconds. */
  timeoutSeconds?: number | undefined;
  /** Ask for BOOKMARK events; defaults to true. */
  allowWatchBookmarks?: boolean | undefined;
}

/** Builds a query string, leaving out undefined values. */
export function toQuery(
  params: Record<string, string | number | boolean | undefined>,
): URLSearchParams {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined) query.set(key, String(value));
  }
  return query;
}

/** The query parameters of a write. */
export function writeQuery(options: PatchOptions): URLSearchParams {
  return toQuery({
    dryRun: options.dryRun ? "All" : undefined,
    fieldManager: options.fieldManager,
    fieldValidation: options.fieldValidation,
    force: options.force === undefined ? undefined : options.force,
  });
}

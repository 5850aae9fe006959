/**
 * JSON Patch (RFC 6902) operations as values, JSON Pointer (RFC 6901) escaping, base64 encoding
 * of a patch for an AdmissionReview, and applying one (`fast-json-patch`).
 *
 * @module
 */
import jsonpatch from "fast-json-patch";

/** A JSON value. */
export type JsonValue = null | boolean | number | string | JsonValue[] | {
  [key: string]: JsonValue;
};

/** One JSON Patch operation; the webhooks emit only `add` and `replace`. */
export type JsonPatchOp =
  | { op: "add"; path: string; value: JsonValue }
  | { op: "replace"; path: string; value: JsonValue }
  | { op: "remove"; path: string }
  | { op: "test"; path: string; value: JsonValue };

/**
 * Escapes one reference token of a JSON Pointer: `~` -> `~0`, `/` -> `~1`.
 *
 * @example
 * ```ts
 * import { escapePointerToken } from "./json_patch.ts";
 * escapePointerToken("port.hostport.rmb938.com/web"); // "port.hostport.rmb938.com~1web"
 * ```
 */
export function escapePointerToken(token: string): string {
  return token.replaceAll("~", "~0").replaceAll("/", "~1");
}

/**
 * Builds a JSON Pointer from unescaped tokens.
 *
 * @example
 * ```ts
 * import { jsonPointer } from "./json_patch.ts";
 * jsonPointer("spec", "containers", 0, "ports"); // "/spec/containers/0/ports"
 * ```
 */
export function jsonPointer(...tokens: readonly (string | number)[]): string {
  return tokens.map((token) => `/${escapePointerToken(String(token))}`).join("");
}

/**
 * Encodes a patch as the base64 of its UTF-8 JSON, as `AdmissionResponse.patch` wants it.
 *
 * @param ops the operations
 * @returns base64 text
 */
export function encodeJsonPatch(ops: readonly JsonPatchOp[]): string {
  return new TextEncoder().encode(JSON.stringify(ops)).toBase64();
}

/**
 * Applies operations to a copy of `document` (RFC 6902, by `fast-json-patch`, every operation
 * validated) and returns the result.
 *
 * @param document the JSON document
 * @param ops the operations, applied in order
 * @returns the patched copy
 * @throws {Error} when a path does not resolve or a `test` fails
 */
export function applyJsonPatch<T>(document: T, ops: readonly JsonPatchOp[]): T {
  const copy = JSON.parse(JSON.stringify(document)) as T;
  return jsonpatch.applyPatch(copy, ops as jsonpatch.Operation[], true, false).newDocument;
}

/**
 * Whether two JSON values are equal (member order does not matter).
 *
 * @param a a JSON value
 * @param b a JSON value
 * @returns true when equal
 */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((item, i) => jsonEqual(item, b[i]));
  }
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((key) =>
    Object.hasOwn(b, key) &&
    jsonEqual((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key])
  );
}

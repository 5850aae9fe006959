/**
 * JSON Patch (RFC 6902) for AdmissionReviews: the operations, their base64 encoding, and applying
 * them (`fast-json-patch`); plus JSON equality.
 *
 * @module
 */
import jsonpatch from "fast-json-patch";

/** One JSON Patch operation; the webhooks emit only `add` and `replace`. */
export type JsonPatchOp = jsonpatch.Operation;

/** Encodes a patch as the base64 of its UTF-8 JSON, as `AdmissionResponse.patch` wants it. */
export function encodeJsonPatch(ops: readonly JsonPatchOp[]): string {
  return new TextEncoder().encode(JSON.stringify(ops)).toBase64();
}

/**
 * Applies operations to a copy of `document`, every operation validated.
 *
 * @throws {Error} when a path does not resolve or a `test` fails
 */
export function applyJsonPatch<T>(document: T, ops: readonly JsonPatchOp[]): T {
  const copy = JSON.parse(JSON.stringify(document)) as T;
  return jsonpatch.applyPatch(copy, ops as JsonPatchOp[], true, false).newDocument;
}

/** Whether two JSON values are equal (member order does not matter). */
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

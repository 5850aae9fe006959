/**
 * JSON Patch (RFC 6902) operations as values, JSON Pointer (RFC 6901) escaping, base64 encoding
 * of a patch for an AdmissionReview, and a small applier (used to check patches).
 *
 * @module
 */

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
  const bytes = new TextEncoder().encode(JSON.stringify(ops));
  let binary = "";
  const chunk = 0x8000;
  for (let i = 0; i < bytes.length; i += chunk) {
    binary += String.fromCharCode(...bytes.subarray(i, i + chunk));
  }
  return btoa(binary);
}

/**
 * Decodes the base64 `patch` of an AdmissionResponse back to operations (for tests and tools).
 *
 * @param base64 the encoded patch
 * @returns the parsed JSON (not validated)
 * @throws {SyntaxError} when the text is not base64 of JSON
 */
export function decodeJsonPatch(base64: string): unknown {
  const binary = atob(base64);
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
}

/** Thrown by {@linkcode applyJsonPatch} when an operation cannot be applied. */
export class JsonPatchError extends Error {
  /**
   * @param message what failed
   */
  constructor(message: string) {
    super(message);
    this.name = "JsonPatchError";
  }
}

/**
 * Applies operations to a deep copy of `document` (RFC 6902 `add`, `replace`, `remove`,
 * `test`; a `-` index appends) and returns the result.
 *
 * @param document the JSON document
 * @param ops the operations, applied in order
 * @returns the patched copy
 * @throws {JsonPatchError} when a path does not resolve or a `test` fails
 */
export function applyJsonPatch(document: unknown, ops: readonly JsonPatchOp[]): unknown {
  const root = { doc: cloneJson(document) as unknown };
  for (const op of ops) applyOne(root, op);
  return root.doc;
}

/** Copies a JSON value; unlike `structuredClone` it copes with deep nesting. */
function cloneJson(value: unknown): unknown {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}

function applyOne(root: { doc: unknown }, op: JsonPatchOp): void {
  const tokens = parsePointer(op.path);
  const last = tokens.pop();
  if (last === undefined) {
    if (op.op === "test") return requireEqual(root.doc, op.value, op.path);
    if (op.op === "remove") throw new JsonPatchError("Cannot remove the whole document");
    root.doc = cloneJson(op.value);
    return;
  }
  let parent: unknown = root.doc;
  for (const token of tokens) parent = child(parent, token, op.path);
  if (Array.isArray(parent)) return applyToArray(parent, last, op);
  if (typeof parent !== "object" || parent === null) {
    throw new JsonPatchError(
      `Cannot apply ${op.op} at "${op.path}": the parent is not a container`,
    );
  }
  const record = parent as Record<string, unknown>;
  const exists = Object.hasOwn(record, last);
  if (op.op === "add") setMember(record, last, op.value);
  else if (!exists) {
    throw new JsonPatchError(`Cannot apply ${op.op} at "${op.path}": no such member`);
  } else if (op.op === "replace") setMember(record, last, op.value);
  else if (op.op === "remove") delete record[last];
  else requireEqual(record[last], op.value, op.path);
}

/** Sets an own member, even one named `__proto__`. */
function setMember(record: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(record, key, {
    value: cloneJson(value),
    writable: true,
    enumerable: true,
    configurable: true,
  });
}

function applyToArray(array: unknown[], token: string, op: JsonPatchOp): void {
  const index = token === "-" && op.op === "add" ? array.length : arrayIndex(token, op.path);
  const limit = op.op === "add" ? array.length : array.length - 1;
  if (index > limit) {
    throw new JsonPatchError(`Cannot apply ${op.op} at "${op.path}": out of range`);
  }
  if (op.op === "add") array.splice(index, 0, cloneJson(op.value));
  else if (op.op === "replace") array[index] = cloneJson(op.value);
  else if (op.op === "remove") array.splice(index, 1);
  else requireEqual(array[index], op.value, op.path);
}

function child(parent: unknown, token: string, path: string): unknown {
  if (Array.isArray(parent)) {
    const index = arrayIndex(token, path);
    if (index >= parent.length) throw new JsonPatchError(`Cannot resolve "${path}": out of range`);
    return parent[index];
  }
  if (typeof parent === "object" && parent !== null && Object.hasOwn(parent, token)) {
    return (parent as Record<string, unknown>)[token];
  }
  throw new JsonPatchError(`Cannot resolve "${path}": "${token}" does not exist`);
}

function arrayIndex(token: string, path: string): number {
  if (!/^(0|[1-9][0-9]*)$/.test(token)) {
    throw new JsonPatchError(`Cannot resolve "${path}": "${token}" is not an array index`);
  }
  return Number(token);
}

function parsePointer(pointer: string): string[] {
  if (pointer === "") return [];
  if (!pointer.startsWith("/")) {
    throw new JsonPatchError(`Cannot parse JSON pointer "${pointer}": it must start with "/"`);
  }
  return pointer.slice(1).split("/").map((token) =>
    token.replaceAll("~1", "/").replaceAll("~0", "~")
  );
}

function requireEqual(actual: unknown, expected: unknown, path: string): void {
  if (!jsonEqual(actual, expected)) throw new JsonPatchError(`Test failed at "${path}"`);
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

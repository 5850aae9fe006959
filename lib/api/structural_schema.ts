/**
 * A pure transform from the JSON Schema that `z.toJSONSchema` emits to a Kubernetes structural
 * schema (`JSONSchemaProps` of apiextensions.k8s.io/v1), as CRDs require.
 *
 * It keeps only the keywords Kubernetes understands and throws on any it cannot express, so a
 * schema change that would produce an invalid CRD fails the generator, not the cluster.
 *
 * @module
 */

/** A validation rule (`x-kubernetes-validations[]`), evaluated by the API server in CEL. */
export interface ValidationRule {
  /** CEL expression over `self` (and `oldSelf` for transition rules). */
  rule: string;
  /** Message shown when the rule fails. */
  message?: string;
  /** Field (relative to the schema node) that the error is reported on, such as `.end`. */
  fieldPath?: string;
  /** Error type reported, such as `FieldValueRequired` (default `FieldValueInvalid`). */
  reason?:
    | "FieldValueInvalid"
    | "FieldValueForbidden"
    | "FieldValueRequired"
    | "FieldValueDuplicate";
  /** Evaluate the rule on create too, with `oldSelf` an optional (`oldSelf.hasValue()`). */
  optionalOldSelf?: boolean;
}

/** A node of a structural schema (a subset of `JSONSchemaProps`). */
export interface StructuralSchema {
  description?: string;
  type?: "object" | "array" | "string" | "integer" | "number" | "boolean";
  format?: string;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minItems?: number;
  maxItems?: number;
  items?: StructuralSchema;
  properties?: Record<string, StructuralSchema>;
  required?: string[];
  additionalProperties?: StructuralSchema;
  "x-kubernetes-preserve-unknown-fields"?: true;
  "x-kubernetes-list-type"?: "atomic" | "set" | "map";
  "x-kubernetes-list-map-keys"?: string[];
  "x-kubernetes-validations"?: ValidationRule[];
}

/** Keywords copied as they are (in output order). */
const COPIED = [
  "description",
  "type",
  "format",
  "enum",
  "minimum",
  "maximum",
  "minLength",
  "maxLength",
  "pattern",
  "minItems",
  "maxItems",
] as const;
/** Keywords that are handled, or safely dropped, by the transform (`x-kubernetes-*` are copied). */
const HANDLED = new Set<string>([
  ...COPIED,
  "$schema",
  "const",
  "items",
  "properties",
  "required",
  "additionalProperties",
  "propertyNames",
]);
/** The bounds zod writes for a plain `z.int()`; they say nothing, so they are dropped. */
const SAFE_INTEGER_BOUNDS = new Set([Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER]);

type JsonObject = Record<string, unknown>;

/**
 * Converts a JSON Schema node (as emitted by `z.toJSONSchema`) to a structural schema.
 *
 * - `$schema` is dropped, `const` becomes a one-value `enum`, and `propertyNames` is dropped.
 * - An object with `properties` loses `additionalProperties` (Kubernetes prunes unknown fields);
 *   one without properties keeps a map schema, or gets `x-kubernetes-preserve-unknown-fields`
 *   when any value is allowed.
 * - Integer bounds equal to `Number.MAX_SAFE_INTEGER`/`MIN_SAFE_INTEGER` are dropped.
 *
 * @param node a JSON Schema node
 * @param path the node's location, used in error messages
 * @returns the structural schema node
 * @throws {TypeError} when the node uses a keyword a structural schema cannot express
 *   (`anyOf`, `oneOf`, `$ref`, ...) or has no `type`
 */
export function toStructuralSchema(node: unknown, path = "#"): StructuralSchema {
  const source = asObject(node, path);
  const unsupported = Object.keys(source).filter((key) =>
    !HANDLED.has(key) && !key.startsWith("x-kubernetes-")
  );
  if (unsupported.length > 0) {
    throw new TypeError(
      `Cannot convert the schema at ${path} to a structural schema: unsupported keywords ${
        unsupported.join(", ")
      }`,
    );
  }
  if (typeof source.type !== "string") {
    throw new TypeError(
      `Cannot convert the schema at ${path} to a structural schema: it has no single type`,
    );
  }
  const out: JsonObject = {};
  for (const key of COPIED) {
    if (source[key] !== undefined) out[key] = source[key];
  }
  if (source.const !== undefined) out.enum = [source.const];
  dropSafeIntegerBounds(out);
  if (source.items !== undefined) out.items = toStructuralSchema(source.items, `${path}.items`);
  Object.assign(out, objectKeywords(source, path));
  for (const key of Object.keys(source)) {
    if (key.startsWith("x-kubernetes-")) out[key] = source[key];
  }
  return out as StructuralSchema;
}

/** The object keywords: properties, required, and what to do with other properties. */
function objectKeywords(source: JsonObject, path: string): JsonObject {
  if (source.type !== "object") return {};
  const out: JsonObject = {};
  const properties = source.properties === undefined
    ? {}
    : asObject(source.properties, `${path}.properties`);
  const names = Object.keys(properties);
  if (names.length > 0) {
    const converted: Record<string, StructuralSchema> = {};
    for (const name of names) {
      converted[name] = toStructuralSchema(properties[name], `${path}.properties.${name}`);
    }
    out.properties = converted;
    const required = Array.isArray(source.required) ? source.required : [];
    if (required.length > 0) out.required = [...required];
    return out;
  }
  const extra = source.additionalProperties;
  if (extra === undefined || extra === false) return out;
  if (extra === true || Object.keys(asObject(extra, path)).length === 0) {
    out["x-kubernetes-preserve-unknown-fields"] = true;
  } else {
    out.additionalProperties = toStructuralSchema(extra, `${path}.additionalProperties`);
  }
  return out;
}

function dropSafeIntegerBounds(out: JsonObject): void {
  for (const key of ["minimum", "maximum"]) {
    if (SAFE_INTEGER_BOUNDS.has(out[key] as number)) delete out[key];
  }
}

function asObject(value: unknown, path: string): JsonObject {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError(
      `Cannot convert the schema at ${path} to a structural schema: expected an object`,
    );
  }
  return value as JsonObject;
}

/**
 * Builds the CustomResourceDefinitions (apiextensions.k8s.io/v1) from the zod schemas, so the
 * CRDs and the parsers can never disagree. Pure: `scripts/gen_crds.ts` writes the result to
 * `deploy/crds/`.
 *
 * The JSON Schema that `z.toJSONSchema` emits becomes a Kubernetes structural schema
 * (`JSONSchemaProps`) by a pure transform that keeps only the keywords Kubernetes understands and
 * throws on any it cannot express, so a schema change that would produce an invalid CRD fails the
 * generator, not the cluster.
 *
 * @module
 */
import * as z from "zod";
import {
  API_VERSION,
  CATEGORY,
  GROUP,
  KIND,
  type Kind,
  LIST_KIND,
  PLURAL,
  SHORT_NAME,
  SINGULAR,
  TEMPLATE_CLAIM_LABEL,
  VERSION,
} from "./constants.ts";
import { HostPortClassSchema } from "./hostport_class.ts";
import { HostPortClaimSchema } from "./hostport_claim.ts";
import { HostPortClaimTemplateSchema } from "./hostport_claim_template.ts";
import { HostPortSchema } from "./hostport.ts";

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

/** A column of `kubectl get` output (`additionalPrinterColumns[]`). */
export interface PrinterColumn {
  /** Column header (kubectl prints it upper-case). */
  name: string;
  /** Value type, which sets the formatting. */
  type: "string" | "integer" | "number" | "boolean" | "date";
  /** Simple JSONPath into the object, such as `.status.port`. */
  jsonPath: string;
  description?: string;
  /** 0 shows the column always, 1 only with `-o wide`. */
  priority?: number;
}

/** A CustomResourceDefinition as this project generates it. */
export interface CustomResourceDefinition {
  apiVersion: "apiextensions.k8s.io/v1";
  kind: "CustomResourceDefinition";
  metadata: { name: string };
  spec: {
    group: string;
    names: {
      kind: string;
      listKind: string;
      plural: string;
      singular: string;
      shortNames: string[];
      categories: string[];
    };
    scope: "Cluster" | "Namespaced";
    versions: {
      name: string;
      served: boolean;
      storage: boolean;
      subresources?: { status: Record<string, never> };
      additionalPrinterColumns: PrinterColumn[];
      schema: { openAPIV3Schema: StructuralSchema };
    }[];
  };
}

/** Fields every object has and the API server manages; the CRD schema keeps them plain. */
const STANDARD_FIELDS: Record<string, StructuralSchema> = {
  apiVersion: {
    description: `API version of the object: ${API_VERSION}`,
    type: "string",
  },
  kind: { description: "Kind of the object", type: "string" },
  // The API server rejects anything but `type` here (even a description).
  metadata: { type: "object" },
};

function column(
  name: string,
  type: PrinterColumn["type"],
  jsonPath: string,
  description: string,
): PrinterColumn {
  return { name, type, jsonPath, description };
}

const AGE = column(
  "AGE",
  "date",
  ".metadata.creationTimestamp",
  "Time since the object was created",
);

/**
 * Converts the zod schema of a whole object to the CRD's `openAPIV3Schema`: a structural schema
 * whose `apiVersion`, `kind` and `metadata` are the plain standard ones.
 *
 * The other required top-level fields (`spec`) become CEL rules instead of `required`: the API
 * server does not ratchet `required`, so objects stored without a spec under the original CRD
 * could never be updated again (not even to remove a finalizer). The rule demands the field on
 * create and on updates of objects that have it.
 *
 * @param schema the zod schema of one kind
 * @returns the structural schema
 * @throws {TypeError} when the schema cannot be expressed as a structural schema
 */
export function openApiSchemaOf(schema: z.ZodType): StructuralSchema {
  const json = z.toJSONSchema(schema, { io: "input" }) as {
    properties?: Record<string, unknown>;
    required?: string[];
  };
  // The standard fields replace zod's before conversion: the API server owns their shape.
  const properties = { ...json.properties, ...STANDARD_FIELDS };
  const required = (json.required ?? []).filter((name) => !(name in STANDARD_FIELDS));
  const out = toStructuralSchema({ ...json, properties, required: [] });
  delete out.required;
  if (required.length > 0) {
    out["x-kubernetes-validations"] = [
      ...(out["x-kubernetes-validations"] ?? []),
      ...required.map(requiredFieldRule),
    ];
  }
  return out;
}

/** A rule that requires a top-level field unless the stored object already lacked it. */
function requiredFieldRule(name: string): ValidationRule {
  return {
    rule: `has(self.${name}) || (oldSelf.hasValue() && !has(oldSelf.value().${name}))`,
    message: `${name} is required`,
    fieldPath: `.${name}`,
    reason: "FieldValueRequired",
    optionalOldSelf: true,
  };
}

function crdOf(
  kind: Kind,
  scope: "Cluster" | "Namespaced",
  schema: z.ZodType,
  columns: PrinterColumn[],
  status = true,
): CustomResourceDefinition {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${PLURAL[kind]}.${GROUP}` },
    spec: {
      group: GROUP,
      names: {
        kind,
        listKind: LIST_KIND[kind],
        plural: PLURAL[kind],
        singular: SINGULAR[kind],
        shortNames: [SHORT_NAME[kind]],
        categories: [CATEGORY],
      },
      scope,
      versions: [{
        name: VERSION,
        served: true,
        storage: true,
        ...status ? { subresources: { status: {} } } : {},
        additionalPrinterColumns: [...columns, AGE],
        schema: { openAPIV3Schema: openApiSchemaOf(schema) },
      }],
    },
  };
}

/**
 * Builds the HostPortClass CRD (`hostportclasses.hostport.rmb938.com`).
 *
 * @returns the CRD object
 */
export function hostPortClassCrd(): CustomResourceDefinition {
  return crdOf(KIND.HostPortClass, "Cluster", HostPortClassSchema, [
    column("CAPACITY", "integer", ".status.capacity", "Ports in the pools"),
    column("ALLOCATED", "integer", ".status.allocated", "Ports in the pools that are held"),
    column("FREE", "integer", ".status.free", "Ports in the pools that are free"),
  ]);
}

/**
 * Builds the HostPortClaim CRD (`hostportclaims.hostport.rmb938.com`).
 *
 * @returns the CRD object
 */
export function hostPortClaimCrd(): CustomResourceDefinition {
  // HOSTPORTCLASS and HOSTPORT (a name, not a number) keep the original's column names.
  return crdOf(KIND.HostPortClaim, "Namespaced", HostPortClaimSchema, [
    column("STATUS", "string", ".status.phase", "Phase of the claim"),
    column("HOSTPORTCLASS", "string", ".spec.hostPortClassName", "Class of the claim"),
    column("HOSTPORT", "string", ".spec.hostPortName", "Name of the bound HostPort"),
    column("PORT", "integer", ".status.port", "Allocated port"),
    {
      ...column(
        "TEMPLATE",
        "string",
        `.metadata.labels.${TEMPLATE_CLAIM_LABEL.template.replaceAll(".", "\\.")}`,
        "The HostPortClaimTemplate the claim was made from, for a pod of its own",
      ),
      priority: 1,
    },
  ]);
}

/**
 * Builds the HostPortClaimTemplate CRD (`hostportclaimtemplates.hostport.rmb938.com`). It has no
 * status: a template is a recipe, its claims carry the state.
 *
 * @returns the CRD object
 */
export function hostPortClaimTemplateCrd(): CustomResourceDefinition {
  return crdOf(KIND.HostPortClaimTemplate, "Namespaced", HostPortClaimTemplateSchema, [
    column("HOSTPORTCLASS", "string", ".spec.hostPortClassName", "Class of the claims"),
  ], false);
}

/**
 * Builds the HostPort CRD (`hostports.hostport.rmb938.com`).
 *
 * @returns the CRD object
 */
export function hostPortCrd(): CustomResourceDefinition {
  // Printer columns cannot join fields, so the claim's namespace and name are two columns.
  return crdOf(KIND.HostPort, "Cluster", HostPortSchema, [
    column("CLASS", "string", ".spec.hostPortClassName", "Class of the HostPort"),
    column("STATUS", "string", ".status.phase", "Phase of the HostPort"),
    column("PORT", "integer", ".status.port", "Allocated port"),
    column("CLAIM-NAMESPACE", "string", ".spec.claimRef.namespace", "Namespace of the bound claim"),
    column("CLAIM", "string", ".spec.claimRef.name", "Name of the bound claim"),
  ]);
}

/**
 * Builds the four CRDs, in the order HostPortClass, HostPortClaim, HostPort,
 * HostPortClaimTemplate.
 *
 * @returns the CRD objects
 */
export function buildCrds(): CustomResourceDefinition[] {
  return [hostPortClassCrd(), hostPortClaimCrd(), hostPortCrd(), hostPortClaimTemplateCrd()];
}

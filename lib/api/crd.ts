/**
 * The CustomResourceDefinitions, built from the zod schemas so the CRDs and the parsers never
 * disagree (`scripts/gen_crds.ts` writes them to `deploy/crds/`). A schema change that would make
 * an invalid CRD fails the generator, not the cluster.
 * @module
 */
import type {
  CustomResourceColumnDefinition,
  ValidationRule,
} from "kubernetes-types/apiextensions/v1.d.ts";
import * as z from "zod";
import {
  API_VERSION,
  GROUP,
  KIND,
  type Kind,
  PLURAL,
  TEMPLATE_CLAIM_LABEL,
  VERSION,
} from "./constants.ts";
import {
  HostPortClaimSchema,
  HostPortClaimTemplateSchema,
  HostPortClassSchema,
  HostPortSchema,
  isPlainObject,
} from "./types.ts";

/** A node of a structural schema (`JSONSchemaProps`): the keywords below, and plain values. */
export interface StructuralSchema {
  [keyword: string]: unknown;
  description?: string;
  type?: string;
  items?: StructuralSchema;
  properties?: Record<string, StructuralSchema>;
  additionalProperties?: StructuralSchema;
  required?: string[];
  "x-kubernetes-validations"?: ValidationRule[];
}

/** Keywords copied as they are (in output order). */
const COPIED =
  "description type format enum minimum maximum minLength maxLength pattern minItems maxItems"
    .split(" ");
/** Keywords handled, or safely dropped, by the transform (`x-kubernetes-*` are copied). */
const HANDLED = new Set([
  ...COPIED,
  ..."$schema const items properties required additionalProperties propertyNames".split(" "),
]);

/**
 * Converts a JSON Schema node (as `z.toJSONSchema` emits it) to a structural schema: `const`
 * becomes a one-value `enum`, an object with `properties` loses `additionalProperties` (Kubernetes
 * prunes unknown fields), one without keeps a map schema or preserves unknown fields, and the
 * `Number.MAX_SAFE_INTEGER` bounds of a plain `z.int()` are dropped.
 *
 * @throws {TypeError} a keyword a structural schema cannot express (`anyOf`, `$ref`...), no `type`
 */
export function toStructuralSchema(node: unknown, path = "#"): StructuralSchema {
  const source = asObject(node, path);
  const unsupported = Object.keys(source).filter((key) =>
    !HANDLED.has(key) && !key.startsWith("x-kubernetes-")
  );
  if (unsupported.length > 0) fail(path, `unsupported keywords ${unsupported.join(", ")}`);
  if (typeof source.type !== "string") fail(path, "it has no single type");
  const out: Record<string, unknown> = {};
  for (const key of COPIED) if (source[key] !== undefined) out[key] = source[key];
  if (source.const !== undefined) out.enum = [source.const];
  for (const key of ["minimum", "maximum"]) {
    if (Math.abs(out[key] as number) === Number.MAX_SAFE_INTEGER) delete out[key];
  }
  if (source.items !== undefined) out.items = toStructuralSchema(source.items, `${path}.items`);
  if (source.type === "object") {
    const properties = asObject(source.properties ?? {}, `${path}.properties`);
    const extra = source.additionalProperties;
    if (Object.keys(properties).length > 0) {
      out.properties = Object.fromEntries(
        Object.entries(properties).map(([name, property]) => [
          name,
          toStructuralSchema(property, `${path}.properties.${name}`),
        ]),
      );
      const required = Array.isArray(source.required) ? source.required : [];
      if (required.length > 0) out.required = [...required];
    } else if (extra === true || (extra && Object.keys(asObject(extra, path)).length === 0)) {
      out["x-kubernetes-preserve-unknown-fields"] = true;
    } else if (extra) {
      out.additionalProperties = toStructuralSchema(extra, `${path}.additionalProperties`);
    }
  }
  for (const key of Object.keys(source)) {
    if (key.startsWith("x-kubernetes-")) out[key] = source[key];
  }
  return out as StructuralSchema;
}

function fail(path: string, detail: string): never {
  throw new TypeError(`Cannot convert the schema at ${path} to a structural schema: ${detail}`);
}

function asObject(value: unknown, path: string): Record<string, unknown> {
  if (!isPlainObject(value)) fail(path, "expected an object");
  return value;
}

/** A CustomResourceDefinition as this project generates it. */
export type CustomResourceDefinition = ReturnType<typeof crdOf>;

/** kubectl short names. */
const SHORT_NAME: Record<Kind, string> = {
  HostPortClass: "hpcl",
  HostPortClaim: "hpc",
  HostPort: "hp",
  HostPortClaimTemplate: "hpct",
};

/**
 * kubectl category of the kinds: `kubectl get hostport-allocator -A` lists them all. Not
 * `hostport`: kubectl expands categories before resource names, which would break
 * `kubectl get hostport <name>` ("you must specify only one resource").
 */
const CATEGORY = "hostport-allocator";

/** Fields every object has and the API server manages; the CRD schema keeps them plain. */
const STANDARD_FIELDS: Record<string, StructuralSchema> = {
  apiVersion: { description: `API version of the object: ${API_VERSION}`, type: "string" },
  kind: { description: "Kind of the object", type: "string" },
  // The API server rejects anything but `type` here (even a description).
  metadata: { type: "object" },
};

/** A column of `kubectl get` output; `priority` 1 shows it only with `-o wide`. */
function column(
  name: string,
  type: "string" | "integer" | "date",
  jsonPath: string,
  description: string,
  priority?: number,
): CustomResourceColumnDefinition {
  return { name, type, jsonPath, description, ...(priority === undefined ? {} : { priority }) };
}

/**
 * The CRD's `openAPIV3Schema` for a kind's zod schema. Required top-level fields (`spec`) become
 * CEL rules demanding them on create and on updates of objects that have them: the API server does
 * not ratchet `required`, so objects stored without a spec under the original CRD could never be
 * updated again (not even to remove a finalizer).
 *
 * @throws {TypeError} when the schema cannot be expressed as a structural schema
 */
function openApiSchemaOf(schema: z.ZodType): StructuralSchema {
  const json = z.toJSONSchema(schema, { io: "input" }) as {
    properties?: Record<string, unknown>;
    required?: string[];
  };
  const properties = { ...json.properties, ...STANDARD_FIELDS };
  const required = (json.required ?? []).filter((name) => !(name in STANDARD_FIELDS));
  const out = toStructuralSchema({ ...json, properties, required: [] });
  if (required.length > 0) {
    out["x-kubernetes-validations"] = [
      ...(out["x-kubernetes-validations"] ?? []),
      ...required.map((name): ValidationRule => ({
        rule: `has(self.${name}) || (oldSelf.hasValue() && !has(oldSelf.value().${name}))`,
        message: `${name} is required`,
        fieldPath: `.${name}`,
        reason: "FieldValueRequired",
        optionalOldSelf: true,
      })),
    ];
  }
  return out;
}

function crdOf(
  kind: Kind,
  scope: "Cluster" | "Namespaced",
  schema: z.ZodObject,
  columns: CustomResourceColumnDefinition[],
) {
  return {
    apiVersion: "apiextensions.k8s.io/v1" as const,
    kind: "CustomResourceDefinition" as const,
    metadata: { name: `${PLURAL[kind]}.${GROUP}` },
    spec: {
      group: GROUP,
      names: {
        kind,
        listKind: `${kind}List`,
        plural: PLURAL[kind],
        singular: kind.toLowerCase(),
        shortNames: [SHORT_NAME[kind]],
        categories: [CATEGORY],
      },
      scope,
      versions: [{
        name: VERSION,
        served: true,
        storage: true,
        ..."status" in schema.shape ? { subresources: { status: {} } } : {},
        additionalPrinterColumns: [
          ...columns,
          column("AGE", "date", ".metadata.creationTimestamp", "Time since the object was created"),
        ],
        schema: { openAPIV3Schema: openApiSchemaOf(schema) },
      }],
    },
  };
}

/**
 * The four CRDs, in the order HostPortClass, HostPortClaim, HostPort, HostPortClaimTemplate (which
 * has no status: a template is a recipe, its claims carry the state).
 */
export function buildCrds(): CustomResourceDefinition[] {
  return [
    crdOf(KIND.HostPortClass, "Cluster", HostPortClassSchema, [
      column("CAPACITY", "integer", ".status.capacity", "Ports in the pools"),
      column("ALLOCATED", "integer", ".status.allocated", "Ports in the pools that are held"),
      column("FREE", "integer", ".status.free", "Ports in the pools that are free"),
    ]),
    // HOSTPORTCLASS and HOSTPORT (a name, not a number) keep the original's column names.
    crdOf(KIND.HostPortClaim, "Namespaced", HostPortClaimSchema, [
      column("STATUS", "string", ".status.phase", "Phase of the claim"),
      column("HOSTPORTCLASS", "string", ".spec.hostPortClassName", "Class of the claim"),
      column("HOSTPORT", "string", ".spec.hostPortName", "Name of the bound HostPort"),
      column("PORT", "integer", ".status.port", "Allocated port"),
      column(
        "TEMPLATE",
        "string",
        `.metadata.labels.${TEMPLATE_CLAIM_LABEL.template.replaceAll(".", "\\.")}`,
        "The HostPortClaimTemplate the claim was made from, for a pod of its own",
        1,
      ),
    ]),
    // Printer columns cannot join fields, so the claim's namespace and name are two columns.
    crdOf(KIND.HostPort, "Cluster", HostPortSchema, [
      column("CLASS", "string", ".spec.hostPortClassName", "Class of the HostPort"),
      column("STATUS", "string", ".status.phase", "Phase of the HostPort"),
      column("PORT", "integer", ".status.port", "Allocated port"),
      column(
        "CLAIM-NAMESPACE",
        "string",
        ".spec.claimRef.namespace",
        "Namespace of the bound claim",
      ),
      column("CLAIM", "string", ".spec.claimRef.name", "Name of the bound claim"),
    ]),
    crdOf(KIND.HostPortClaimTemplate, "Namespaced", HostPortClaimTemplateSchema, [
      column("HOSTPORTCLASS", "string", ".spec.hostPortClassName", "Class of the claims"),
    ]),
  ];
}

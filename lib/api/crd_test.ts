import assert from "node:assert/strict";
import { buildCrds, type StructuralSchema, toStructuralSchema } from "./crd.ts";
import { z } from "zod";

function crdOfKind(kind: string) {
  return () => buildCrds().find((crd) => crd.spec.names.kind === kind)!;
}
const hostPortClassCrd = crdOfKind("HostPortClass");
const hostPortClaimCrd = crdOfKind("HostPortClaim");
const hostPortCrd = crdOfKind("HostPort");
const hostPortClaimTemplateCrd = crdOfKind("HostPortClaimTemplate");

function schemaOf(crd: ReturnType<typeof buildCrds>[number]): StructuralSchema {
  return crd.spec.versions[0]!.schema.openAPIV3Schema;
}

/** Follows `properties`/`items` along a dotted path such as `spec.pools.items.start`. */
function nodeAt(schema: StructuralSchema, path: string): StructuralSchema {
  let node = schema;
  for (const segment of path.split(".")) {
    const next = segment === "items" ? node.items : node.properties?.[segment];
    assert.ok(next, `schema has no ${path} (stopped at ${segment})`);
    node = next;
  }
  return node;
}

/** Calls `visit` for every schema node with its path. */
function walk(
  node: StructuralSchema,
  visit: (node: StructuralSchema, path: string) => void,
  path = "",
) {
  visit(node, path);
  for (const [name, child] of Object.entries(node.properties ?? {})) {
    walk(child, visit, path === "" ? name : `${path}.${name}`);
  }
  if (node.items) walk(node.items, visit, `${path}[]`);
  if (node.additionalProperties) walk(node.additionalProperties, visit, `${path}{}`);
}

Deno.test("buildCrds() names the three CRDs as the original, then HostPortClaimTemplate, plus the hostport-allocator category", () => {
  const names = buildCrds().map((crd) => ({
    name: crd.metadata.name,
    group: crd.spec.group,
    scope: crd.spec.scope,
    names: crd.spec.names,
  }));
  assert.deepEqual(names, [
    {
      name: "hostportclasses.hostport.rmb938.com",
      group: "hostport.rmb938.com",
      scope: "Cluster",
      names: {
        kind: "HostPortClass",
        listKind: "HostPortClassList",
        plural: "hostportclasses",
        singular: "hostportclass",
        shortNames: ["hpcl"],
        categories: ["hostport-allocator"],
      },
    },
    {
      name: "hostportclaims.hostport.rmb938.com",
      group: "hostport.rmb938.com",
      scope: "Namespaced",
      names: {
        kind: "HostPortClaim",
        listKind: "HostPortClaimList",
        plural: "hostportclaims",
        singular: "hostportclaim",
        shortNames: ["hpc"],
        categories: ["hostport-allocator"],
      },
    },
    {
      name: "hostports.hostport.rmb938.com",
      group: "hostport.rmb938.com",
      scope: "Cluster",
      names: {
        kind: "HostPort",
        listKind: "HostPortList",
        plural: "hostports",
        singular: "hostport",
        shortNames: ["hp"],
        categories: ["hostport-allocator"],
      },
    },
    {
      name: "hostportclaimtemplates.hostport.rmb938.com",
      group: "hostport.rmb938.com",
      scope: "Namespaced",
      names: {
        kind: "HostPortClaimTemplate",
        listKind: "HostPortClaimTemplateList",
        plural: "hostportclaimtemplates",
        singular: "hostportclaimtemplate",
        shortNames: ["hpct"],
        categories: ["hostport-allocator"],
      },
    },
  ]);
});

Deno.test("buildCrds() serves and stores only v1alpha1, with the status subresource (templates have no status)", () => {
  for (const crd of buildCrds()) {
    assert.equal(crd.spec.versions.length, 1);
    const [version] = crd.spec.versions;
    assert.equal(version?.name, "v1alpha1");
    assert.equal(version?.served, true);
    assert.equal(version?.storage, true);
    const template = crd.spec.names.kind === "HostPortClaimTemplate";
    assert.deepEqual(version?.subresources, template ? undefined : { status: {} });
  }
});

Deno.test("buildCrds() shows class, phase and port in kubectl get columns", () => {
  const columns = (crd: ReturnType<typeof buildCrds>[number]) =>
    crd.spec.versions[0]!.additionalPrinterColumns.map((c) => `${c.name}=${c.type}:${c.jsonPath}`);
  assert.deepEqual(columns(hostPortClassCrd()), [
    "CAPACITY=integer:.status.capacity",
    "ALLOCATED=integer:.status.allocated",
    "FREE=integer:.status.free",
    "AGE=date:.metadata.creationTimestamp",
  ]);
  assert.deepEqual(columns(hostPortClaimCrd()), [
    "STATUS=string:.status.phase",
    "HOSTPORTCLASS=string:.spec.hostPortClassName",
    "HOSTPORT=string:.spec.hostPortName",
    "PORT=integer:.status.port",
    "TEMPLATE=string:.metadata.labels.hostport\\.rmb938\\.com/claim-template",
    "AGE=date:.metadata.creationTimestamp",
  ]);
  assert.deepEqual(columns(hostPortClaimTemplateCrd()), [
    "HOSTPORTCLASS=string:.spec.hostPortClassName",
    "AGE=date:.metadata.creationTimestamp",
  ]);
  assert.deepEqual(columns(hostPortCrd()), [
    "CLASS=string:.spec.hostPortClassName",
    "STATUS=string:.status.phase",
    "PORT=integer:.status.port",
    "CLAIM-NAMESPACE=string:.spec.claimRef.namespace",
    "CLAIM=string:.spec.claimRef.name",
    "AGE=date:.metadata.creationTimestamp",
  ]);
});

Deno.test("buildCrds() requires spec with a rule that spares objects stored without one", () => {
  for (const crd of buildCrds()) {
    const schema = schemaOf(crd);
    // Not `required`: the API server does not ratchet it, so old spec-less objects would be stuck.
    assert.equal(schema.required, undefined);
    assert.deepEqual(schema["x-kubernetes-validations"], [{
      rule: "has(self.spec) || (oldSelf.hasValue() && !has(oldSelf.value().spec))",
      message: "spec is required",
      fieldPath: ".spec",
      reason: "FieldValueRequired",
      optionalOldSelf: true,
    }]);
  }
});

Deno.test("buildCrds() keeps apiVersion, kind and metadata plain", () => {
  for (const crd of buildCrds()) {
    const schema = schemaOf(crd);
    assert.deepEqual(nodeAt(schema, "metadata"), { type: "object" });
    assert.equal(nodeAt(schema, "apiVersion").type, "string");
    assert.equal(nodeAt(schema, "kind").type, "string");
    assert.equal(nodeAt(schema, "spec").type, "object");
    if (crd.spec.names.kind === "HostPortClaimTemplate") continue; // no status
    assert.equal(nodeAt(schema, "status").type, "object");
  }
});

Deno.test("buildCrds(): the HostPortClass CRD validates pools as the original, plus non-empty and start <= end", () => {
  const schema = schemaOf(hostPortClassCrd());
  assert.deepEqual(nodeAt(schema, "spec").required, ["pools"]);
  assert.equal(nodeAt(schema, "spec.pools").minItems, 1);
  const pool = nodeAt(schema, "spec.pools.items");
  assert.deepEqual(pool.required, ["start", "end"]);
  assert.deepEqual(nodeAt(schema, "spec.pools.items.start"), {
    description: "The start port for the pool",
    type: "integer",
    minimum: 1,
    maximum: 65535,
  });
  assert.deepEqual(nodeAt(schema, "spec.pools.items.end"), {
    description: "The end port for the pool",
    type: "integer",
    minimum: 1,
    maximum: 65535,
  });
  assert.deepEqual(pool["x-kubernetes-validations"], [{
    rule: "self.start <= self.end",
    message: "End must be greater or equal to start",
    fieldPath: ".end",
  }]);
});

Deno.test("buildCrds(): the HostPortClaim CRD requires a class name that cannot change, and a hostPortName set once", () => {
  const schema = schemaOf(hostPortClaimCrd());
  const className = nodeAt(schema, "spec.hostPortClassName");
  assert.equal(className.minLength, 1);
  assert.deepEqual(className["x-kubernetes-validations"], [
    { rule: "self == oldSelf", message: "cannot change hostPortClassName" },
  ]);
  assert.deepEqual(nodeAt(schema, "spec").required, ["hostPortClassName"]);
  const specRules = nodeAt(schema, "spec")["x-kubernetes-validations"] ?? [];
  assert.deepEqual(specRules.map((rule) => rule.message), ["cannot change hostPortName once set"]);
  assert.match(
    nodeAt(schema, "spec.hostPortName").description ?? "",
    /^The binding reference to the HostPort backing this claim/,
  );
  assert.deepEqual(nodeAt(schema, "status.phase").enum, ["Pending", "Bound", "Deleting"]);
  assert.deepEqual(nodeAt(schema, "status.port").maximum, 65535);
});

Deno.test("buildCrds(): the HostPort CRD keeps the original's claimRef and port, with immutability rules", () => {
  const schema = schemaOf(hostPortCrd());
  assert.deepEqual(Object.keys(nodeAt(schema, "spec.claimRef").properties ?? {}).sort(), [
    "apiVersion",
    "fieldPath",
    "kind",
    "name",
    "namespace",
    "resourceVersion",
    "uid",
  ]);
  assert.equal(nodeAt(schema, "spec.claimRef").required, undefined);
  assert.match(nodeAt(schema, "spec.claimRef").description ?? "", /^The referencing claim/);
  assert.equal(nodeAt(schema, "spec.hostPortClassName").minLength, 1);
  const port = nodeAt(schema, "status.port");
  assert.equal(port.minimum, 0);
  assert.equal(port.maximum, 65535);
  assert.match(port.description ?? "", /^The port that was allocated by the HostPortClass/);
  const messages = (path: string) =>
    (nodeAt(schema, path)["x-kubernetes-validations"] ?? []).map((rule) => rule.message);
  assert.deepEqual(messages("spec"), ["cannot change claimRef"]);
  assert.deepEqual(messages("spec.hostPortClassName"), ["cannot change hostPortClassName"]);
  assert.deepEqual(messages("status"), [
    "cannot change port",
    "port can only be set when also setting the phase to Allocated",
  ]);
});

Deno.test("buildCrds() emits structural schemas with a description on every field", () => {
  for (const crd of buildCrds()) {
    walk(schemaOf(crd), (node, path) => {
      const where = `${crd.metadata.name} ${path || "(root)"}`;
      assert.ok(node.type, `${where} has no type`);
      // metadata may carry nothing but its type.
      if (path !== "metadata") assert.ok(node.description, `${where} has no description`);
      assert.ok(!(node.properties && node.additionalProperties), `${where} has both`);
      for (const key of Object.keys(node)) {
        assert.ok(!["anyOf", "oneOf", "allOf", "not", "$ref", "$schema"].includes(key), where);
      }
    });
  }
});

Deno.test("toStructuralSchema() drops $schema and additionalProperties next to properties", () => {
  const schema = z.object({ name: z.string().describe("The name") }).loose().describe("A thing");
  assert.deepEqual(toStructuralSchema(z.toJSONSchema(schema)), {
    description: "A thing",
    type: "object",
    properties: { name: { description: "The name", type: "string" } },
    required: ["name"],
  });
  const strict = z.strictObject({ name: z.string().optional() });
  assert.deepEqual(toStructuralSchema(z.toJSONSchema(strict)), {
    type: "object",
    properties: { name: { type: "string" } },
  });
});

Deno.test("toStructuralSchema() turns maps into additionalProperties and open objects into preserved ones", () => {
  const schema = z.object({
    labels: z.record(z.string(), z.string()),
    anything: z.object({}).loose(),
  });
  const out = toStructuralSchema(z.toJSONSchema(schema));
  assert.deepEqual(out.properties?.labels, {
    type: "object",
    additionalProperties: { type: "string" },
  });
  assert.deepEqual(out.properties?.anything, {
    type: "object",
    "x-kubernetes-preserve-unknown-fields": true,
  });
});

Deno.test("toStructuralSchema() keeps integer bounds but drops the safe-integer ones", () => {
  const schema = z.object({ port: z.int().min(1).max(65535), count: z.int() });
  const out = toStructuralSchema(z.toJSONSchema(schema));
  assert.deepEqual(out.properties?.port, { type: "integer", minimum: 1, maximum: 65535 });
  assert.deepEqual(out.properties?.count, { type: "integer" });
});

Deno.test("toStructuralSchema() converts literals and enums to enum, and keeps Kubernetes extensions", () => {
  const schema = z.object({
    kind: z.literal("HostPort"),
    phase: z.enum(["Pending", "Bound"]),
    items: z.array(z.string()).meta({ minItems: 1, "x-kubernetes-list-type": "set" }),
  }).meta({ "x-kubernetes-validations": [{ rule: "self.kind != ''" }] });
  const out = toStructuralSchema(z.toJSONSchema(schema));
  assert.deepEqual(out.properties?.kind, { type: "string", enum: ["HostPort"] });
  assert.deepEqual(out.properties?.phase, { type: "string", enum: ["Pending", "Bound"] });
  assert.deepEqual(out.properties?.items, {
    type: "array",
    minItems: 1,
    items: { type: "string" },
    "x-kubernetes-list-type": "set",
  });
  assert.deepEqual(out["x-kubernetes-validations"], [{ rule: "self.kind != ''" }]);
});

Deno.test("toStructuralSchema() throws on what a structural schema cannot express", () => {
  const union = z.object({ port: z.union([z.int(), z.string()]) });
  assert.throws(() => toStructuralSchema(z.toJSONSchema(union)), {
    name: "TypeError",
    message: "Cannot convert the schema at #.properties.port to a structural schema: " +
      "unsupported keywords anyOf",
  });
  const nullable = z.object({ name: z.string().nullable() });
  assert.throws(
    () => toStructuralSchema(z.toJSONSchema(nullable)),
    /#\.properties\.name to a structural schema: it has no single type/,
  );
  assert.throws(
    () => toStructuralSchema(z.toJSONSchema(z.object({ any: z.unknown() }))),
    /#\.properties\.any to a structural schema: it has no single type/,
  );
  assert.throws(() => toStructuralSchema([]), /expected an object/);
});

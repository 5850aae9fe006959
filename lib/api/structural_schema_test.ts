import assert from "node:assert/strict";
import { z } from "zod";
import { toStructuralSchema } from "./structural_schema.ts";

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

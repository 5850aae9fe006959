import assert from "node:assert/strict";
import {
  aggregateFieldErrors,
  duplicate,
  errorBody,
  fieldPath,
  forbidden,
  formatFieldError,
  internalError,
  invalid,
  notFound,
  required,
  tooMany,
} from "./field_errors.ts";

Deno.test("fieldPath() joins names with dots, even names with dots or slashes, and indexes with [i]", () => {
  assert.equal(
    fieldPath("metadata", "annotations").child("claim.hostport.rmb938.com/web", "hostPort")
      .toString(),
    "metadata.annotations.claim.hostport.rmb938.com/web.hostPort",
  );
  assert.equal(
    fieldPath("spec", "containers").index(0).child("ports").index(1).child("name").toString(),
    "spec.containers[0].ports[1].name",
  );
  assert.equal(fieldPath().child("spec").toString(), "spec");
});

Deno.test("formatFieldError() prints apimachinery's bodies", async (t) => {
  const path = fieldPath("spec", "x");
  const cases: [string, ReturnType<typeof invalid>, string, string][] = [
    [
      "Invalid with a number",
      invalid(path, 8000, "too low"),
      "FieldValueInvalid",
      "spec.x: Invalid value: 8000: too low",
    ],
    [
      "Invalid with a string",
      invalid(path, "a", "bad"),
      "FieldValueInvalid",
      'spec.x: Invalid value: "a": bad',
    ],
    [
      "Invalid with a boolean",
      invalid(path, true, "bad"),
      "FieldValueInvalid",
      "spec.x: Invalid value: true: bad",
    ],
    [
      "Invalid with null",
      invalid(path, null, "bad"),
      "FieldValueInvalid",
      "spec.x: Invalid value: null: bad",
    ],
    ["Not found", notFound(path, "nosuch"), "FieldValueNotFound", 'spec.x: Not found: "nosuch"'],
    ["Duplicate", duplicate(path, "web"), "FieldValueDuplicate", 'spec.x: Duplicate value: "web"'],
    [
      "Forbidden",
      forbidden(path, "cannot change x"),
      "FieldValueForbidden",
      "spec.x: Forbidden: cannot change x",
    ],
    [
      "Required",
      required(path, "x is needed"),
      "FieldValueRequired",
      "spec.x: Required value: x is needed",
    ],
    ["Required without detail", required(path, ""), "FieldValueRequired", "spec.x: Required value"],
    [
      "Internal error",
      internalError(path, new Error("boom")),
      "InternalError",
      "spec.x: Internal error: boom",
    ],
    [
      "Internal error of a non-Error",
      internalError(path, "text"),
      "InternalError",
      "spec.x: Internal error: text",
    ],
    [
      "Too many",
      tooMany(path, 70, 64),
      "FieldValueTooMany",
      "spec.x: Too many: 70: must have at most 64 items",
    ],
  ];
  for (const [name, error, type, expected] of cases) {
    await t.step(name, () => {
      assert.equal(error.type, type);
      assert.equal(formatFieldError(error), expected);
      assert.equal(errorBody(error), expected.slice("spec.x: ".length));
    });
  }
});

Deno.test("aggregateFieldErrors() prints one error bare and several in brackets, without duplicates", () => {
  const a = invalid(fieldPath("a"), 1, "x");
  const b = forbidden(fieldPath("b"), "y");
  assert.equal(aggregateFieldErrors([]), "");
  assert.equal(aggregateFieldErrors([a]), "a: Invalid value: 1: x");
  assert.equal(aggregateFieldErrors([a, a]), "a: Invalid value: 1: x");
  assert.equal(aggregateFieldErrors([b, a, b]), "[b: Forbidden: y, a: Invalid value: 1: x]");
});

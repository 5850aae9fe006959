import assert from "node:assert/strict";
import {
  aggregateFieldErrors,
  duplicate,
  errorBody,
  forbidden,
  goQuote,
  internalError,
  invalid,
  notFound,
  required,
  tooMany,
} from "./field_errors.ts";

Deno.test("aggregateFieldErrors() prints one error with apimachinery's body", async (t) => {
  const path = "spec.x";
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
      assert.equal(aggregateFieldErrors([error]), expected);
      assert.equal(errorBody(error), expected.slice("spec.x: ".length));
    });
  }
});

Deno.test("aggregateFieldErrors() prints one error bare and several in brackets, without duplicates", () => {
  const a = invalid("a", 1, "x");
  const b = forbidden("b", "y");
  assert.equal(aggregateFieldErrors([]), "");
  assert.equal(aggregateFieldErrors([a]), "a: Invalid value: 1: x");
  assert.equal(aggregateFieldErrors([a, a]), "a: Invalid value: 1: x");
  assert.equal(aggregateFieldErrors([b, a, b]), "[b: Forbidden: y, a: Invalid value: 1: x]");
});

Deno.test("goQuote() quotes like Go's %q verb", async (t) => {
  const cases: [string, string, string][] = [
    ["plain text", "echo-web", '"echo-web"'],
    ["empty", "", '""'],
    ["quotes and backslashes", 'a"b\\c', '"a\\"b\\\\c"'],
    ["short escapes", "\u0007\b\f\n\r\t\v", '"\\a\\b\\f\\n\\r\\t\\v"'],
    ["other ASCII controls as \\x", "\u0000\u001f\u007f", '"\\x00\\x1f\\x7f"'],
    ["printable non-ASCII kept", "p\u00f6rt-\u6e2f-\u{1F600}", '"p\u00f6rt-\u6e2f-\u{1F600}"'],
    ["non-printable spaces and format characters", "\u00a0\u200b\ufeff", '"\\u00a0\\u200b\\ufeff"'],
    ["non-printable astral characters as \\U", "\u{E0001}", '"\\U000e0001"'],
    ["lone surrogates become U+FFFD, as after Go's JSON decoding", "a\ud800b", '"a\ufffdb"'],
  ];
  for (const [name, input, expected] of cases) {
    await t.step(name, () => assert.equal(goQuote(input), expected));
  }
});

Deno.test("goQuote() output is JSON-compatible for plain printable text", () => {
  const text = "claim.hostport.rmb938.com/web";
  assert.equal(goQuote(text), JSON.stringify(text));
});

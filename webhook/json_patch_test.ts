import assert from "node:assert/strict";
import { decodeJsonPatch } from "./fixtures_test.ts";
import { applyJsonPatch, encodeJsonPatch, jsonEqual, type JsonPatchOp } from "./json_patch.ts";

Deno.test("encodeJsonPatch() round-trips through base64 of UTF-8 JSON", () => {
  const ops: JsonPatchOp[] = [{ op: "add", path: "/a", value: "p\u00f6rt \u{1F600}" }];
  const encoded = encodeJsonPatch(ops);
  assert.match(encoded, /^[A-Za-z0-9+/]+=*$/);
  assert.deepEqual(decodeJsonPatch(encoded), ops);
  const big: JsonPatchOp[] = [{ op: "add", path: "/a", value: "x".repeat(200_000) }];
  assert.deepEqual(decodeJsonPatch(encodeJsonPatch(big)), big);
});

Deno.test("applyJsonPatch() applies add, replace, remove and test without touching the input", () => {
  const doc = { metadata: { annotations: { "a/b": "1" } }, list: [1, 2] };
  const patched = applyJsonPatch(doc, [
    { op: "add", path: "/metadata/annotations/c~1d", value: "2" },
    { op: "replace", path: "/metadata/annotations/a~1b", value: "3" },
    { op: "add", path: "/list/-", value: 3 },
    { op: "add", path: "/list/0", value: 0 },
    { op: "remove", path: "/list/1" },
    { op: "test", path: "/list", value: [0, 2, 3] },
  ]);
  assert.deepEqual(patched, {
    metadata: { annotations: { "a/b": "3", "c/d": "2" } },
    list: [0, 2, 3],
  });
  assert.deepEqual(doc, { metadata: { annotations: { "a/b": "1" } }, list: [1, 2] });
});

Deno.test("applyJsonPatch() refuses paths that do not resolve", async (t) => {
  const cases: [string, JsonPatchOp][] = [
    ["a missing parent", { op: "add", path: "/metadata/annotations/x", value: "1" }],
    ["replace of a missing member", { op: "replace", path: "/spec", value: 1 }],
    ["an index past the end", { op: "add", path: "/list/5", value: 1 }],
    ["a non-numeric index", { op: "replace", path: "/list/x", value: 1 }],
    ["a failing test", { op: "test", path: "/list", value: [] }],
    ["a pointer without a leading slash", { op: "add", path: "list", value: 1 }],
  ];
  for (const [name, op] of cases) {
    await t.step(name, () => {
      assert.throws(() => applyJsonPatch({ list: [1] }, [op]));
    });
  }
});

Deno.test("applyJsonPatch() refuses to touch __proto__", () => {
  assert.throws(() => applyJsonPatch({ a: {} }, [{ op: "add", path: "/a/__proto__", value: {} }]));
});

Deno.test("jsonEqual() ignores member order but not array order", () => {
  assert.equal(jsonEqual({ a: 1, b: [1, 2] }, { b: [1, 2], a: 1 }), true);
  assert.equal(jsonEqual([1, 2], [2, 1]), false);
  assert.equal(jsonEqual({ a: 1 }, { a: 1, b: 2 }), false);
  assert.equal(jsonEqual(null, {}), false);
});

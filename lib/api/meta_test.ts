import assert from "node:assert/strict";
import { z } from "zod";
import { formatPath, InvalidObjectError, parseObject, safeParseObject } from "./meta.ts";

const Thing = z.object({
  metadata: z.object({ name: z.string() }).loose(),
  spec: z.object({ items: z.array(z.object({ port: z.int().min(1) })) }),
});

Deno.test("formatPath() prints paths as Kubernetes field paths", () => {
  assert.equal(formatPath([]), "");
  assert.equal(formatPath(["spec", "pools", 0, "end"]), "spec.pools[0].end");
  assert.equal(formatPath(["items", 3, "metadata"]), "items[3].metadata");
});

Deno.test("parseObject() throws an InvalidObjectError naming the object and every bad field", () => {
  const value = {
    metadata: { name: "a", namespace: "ns1" },
    spec: { items: [{ port: 0 }, { port: "x" }] },
  };
  const caught = catchError(() => parseObject(Thing, value, "Thing"));
  assert.ok(caught instanceof InvalidObjectError);
  assert.ok(caught instanceof TypeError);
  assert.equal(caught.name, "InvalidObjectError");
  assert.equal(caught.kind, "Thing");
  assert.equal(caught.objectName, "ns1/a");
  assert.deepEqual(caught.issues.map((issue) => issue.path), [
    "spec.items[0].port",
    "spec.items[1].port",
  ]);
  assert.match(caught.message, /^Cannot parse Thing "ns1\/a": spec\.items\[0\]\.port: .*>=1/);
  assert.match(caught.message, /; spec\.items\[1\]\.port: .*expected number/);
});

Deno.test("parseObject() names only the kind when the value has no name", () => {
  assert.throws(() => parseObject(Thing, "nope", "Thing"), {
    name: "InvalidObjectError",
    message: /^Cannot parse Thing: Invalid input: expected object, received string$/,
  });
});

Deno.test("safeParseObject() returns the value or the error without throwing", () => {
  const good = safeParseObject(Thing, { metadata: { name: "a" }, spec: { items: [] } }, "Thing");
  assert.deepEqual(good, { ok: true, value: { metadata: { name: "a" }, spec: { items: [] } } });
  const bad = safeParseObject(Thing, { metadata: { name: "b" } }, "Thing");
  assert.equal(bad.ok, false);
  if (!bad.ok) {
    assert.equal(bad.error.objectName, "b");
    assert.deepEqual(bad.error.issues.map((issue) => issue.path), ["spec"]);
  }
});

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error("Expected the call to throw");
}

import assert from "node:assert/strict";
import { admissionReview, applyJsonPatch, decodeJsonPatch } from "./fixtures_test.ts";
import {
  allowReview,
  badRequestReview,
  decodeAdmissionReview,
  denyReview,
  invalidStatus,
  type JsonPatchOp,
  podDeniedStatus,
} from "./review.ts";
import { forbidden, invalid } from "./field_errors.ts";

Deno.test("decodeAdmissionReview() returns the request of a valid review, unknown fields kept", () => {
  const body = admissionReview({ object: { metadata: {} }, namespace: "ns1" });
  (body.request as Record<string, unknown>).futureField = 1;
  const decoded = decodeAdmissionReview(body);
  assert.equal(decoded.ok, true);
  if (!decoded.ok) return;
  assert.equal(decoded.request.uid, "req-1");
  assert.equal(decoded.request.operation, "CREATE");
  assert.equal(decoded.request.namespace, "ns1");
  assert.deepEqual(decoded.request.kind, { group: "", version: "v1", kind: "Pod" });
  assert.equal((decoded.request as Record<string, unknown>).futureField, 1);
});

Deno.test("decodeAdmissionReview() explains what is wrong and keeps the uid when it can", async (t) => {
  const valid = () => admissionReview({ object: {} });
  const cases: { name: string; body: unknown; uid: string | undefined; message: string }[] = [
    {
      name: "not an object",
      body: "x",
      uid: undefined,
      message: "Invalid input: expected object, received string",
    },
    {
      name: "the v1beta1 API",
      body: { ...valid(), apiVersion: "admission.k8s.io/v1beta1" },
      uid: "req-1",
      message: 'apiVersion: must be "admission.k8s.io/v1"',
    },
    {
      name: "another kind",
      body: { ...valid(), kind: "Pod" },
      uid: "req-1",
      message: 'kind: must be "AdmissionReview"',
    },
    {
      name: "no uid",
      body: { ...valid(), request: { ...valid().request as object, uid: undefined } },
      uid: undefined,
      message: "request.uid: Invalid input: expected string, received undefined",
    },
    {
      name: "an empty uid",
      body: { ...valid(), request: { ...valid().request as object, uid: "" } },
      uid: undefined,
      message: "request.uid: must be a non-empty string",
    },
    {
      name: "an unknown operation",
      body: { ...valid(), request: { ...valid().request as object, operation: "PATCH" } },
      uid: "req-1",
      message:
        'request.operation: Invalid option: expected one of "CREATE"|"UPDATE"|"DELETE"|"CONNECT"',
    },
    {
      name: "CREATE without an object",
      body: admissionReview({ object: null }),
      uid: "req-1",
      message: "request.object: must be an object for CREATE",
    },
    {
      name: "UPDATE without the old object",
      body: admissionReview({ operation: "UPDATE", object: {} }),
      uid: "req-1",
      message: "request.oldObject: must be an object for UPDATE",
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const decoded = decodeAdmissionReview(c.body);
      assert.deepEqual(decoded, {
        ok: false,
        uid: c.uid,
        message: `Cannot decode the AdmissionReview: ${c.message}`,
      });
    });
  }
});

Deno.test("allowReview() sends a JSONPatch only when there are operations", () => {
  assert.deepEqual(allowReview("u"), {
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    response: { uid: "u", allowed: true },
  });
  assert.deepEqual(allowReview("u", { patch: [], warnings: [] }).response, {
    uid: "u",
    allowed: true,
  });
  const response = allowReview("u", { patch: [{ op: "add", path: "/a", value: 1 }] }).response;
  assert.equal(response.patchType, "JSONPatch");
  assert.deepEqual(decodeJsonPatch(response.patch ?? ""), [{ op: "add", path: "/a", value: 1 }]);
});

Deno.test("allowReview() strips control characters from warnings (they travel in a header)", () => {
  const response = allowReview("u", { warnings: ["line1\nline2\u0000"] }).response;
  assert.deepEqual(response.warnings, ["line1 line2 "]);
});

Deno.test("denyReview() and badRequestReview() carry a Failure status", () => {
  assert.deepEqual(denyReview("u", { code: 403, reason: "Forbidden", message: "m" }).response, {
    uid: "u",
    allowed: false,
    status: { metadata: {}, status: "Failure", code: 403, reason: "Forbidden", message: "m" },
  });
  assert.deepEqual(badRequestReview("u", "bad").response.status, {
    metadata: {},
    status: "Failure",
    code: 400,
    reason: "BadRequest",
    message: "bad",
  });
});

Deno.test("invalidStatus() builds the original's 422 Invalid status", () => {
  const errors = [
    invalid(
      "spec.pools[0].end",
      8000,
      "End must be greater or equal to start",
    ),
  ];
  assert.deepEqual(
    invalidStatus({ group: "hostport.rmb938.com", kind: "HostPortClass", name: "sample" }, errors),
    {
      code: 422,
      reason: "Invalid",
      message: 'HostPortClass.hostport.rmb938.com "sample" is invalid: spec.pools[0].end: ' +
        "Invalid value: 8000: End must be greater or equal to start",
      details: {
        group: "hostport.rmb938.com",
        kind: "HostPortClass",
        name: "sample",
        causes: [{
          reason: "FieldValueInvalid",
          message: "Invalid value: 8000: End must be greater or equal to start",
          field: "spec.pools[0].end",
        }],
      },
    },
  );
});

Deno.test("invalidStatus() and podDeniedStatus() print the core group without a suffix and quote the name Go-style", () => {
  const errors = [forbidden("x", "no")];
  assert.equal(
    podDeniedStatus({ name: 'a"b' }, errors).message,
    'Pod "a\\"b" is invalid: x: Forbidden: no',
  );
  assert.equal(
    invalidStatus({ group: "g", kind: "K", name: "n" }, []).message,
    'K.g "n" is invalid',
  );
});

Deno.test("podDeniedStatus() answers 403 Forbidden with the message and the causes", () => {
  const status = podDeniedStatus({ name: "echo" }, [forbidden("x", "no")]);
  assert.deepEqual(status, {
    code: 403,
    reason: "Forbidden",
    message: 'Pod "echo" is invalid: x: Forbidden: no',
    details: {
      kind: "Pod",
      name: "echo",
      causes: [{ reason: "FieldValueForbidden", message: "Forbidden: no", field: "x" }],
    },
  });
});

Deno.test("podDeniedStatus() names a generateName pod by its prefix", () => {
  assert.equal(podDeniedStatus({}, []).message, 'Pod "" is invalid');
  const status = podDeniedStatus({ generateName: "echo-5d9f-" }, [forbidden("x", "no")]);
  assert.equal(status.message, 'Pod "echo-5d9f-<generated>" is invalid: x: Forbidden: no');
  assert.equal(status.details?.name, undefined);
});

Deno.test("allowReview() encodes the patch as base64 of UTF-8 JSON", () => {
  const encode = (patch: JsonPatchOp[]) => allowReview("u", { patch }).response.patch ?? "";
  const ops: JsonPatchOp[] = [{ op: "add", path: "/a", value: "p\u00f6rt \u{1F600}" }];
  assert.match(encode(ops), /^[A-Za-z0-9+/]+=*$/);
  assert.deepEqual(decodeJsonPatch(encode(ops)), ops);
  const big: JsonPatchOp[] = [{ op: "add", path: "/a", value: "x".repeat(200_000) }];
  assert.deepEqual(decodeJsonPatch(encode(big)), big);
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

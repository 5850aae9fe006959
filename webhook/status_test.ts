import assert from "node:assert/strict";
import { fieldPath, forbidden, invalid } from "./field_errors.ts";
import { invalidMessage, invalidStatus, podDeniedStatus, podDisplayName } from "./status.ts";

Deno.test("invalidStatus() builds the original's 422 Invalid status", () => {
  const errors = [
    invalid(
      fieldPath("spec", "pools").index(0).child("end"),
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

Deno.test("invalidMessage() prints the core group without a suffix and quotes the name Go-style", () => {
  const errors = [forbidden(fieldPath("x"), "no")];
  assert.equal(
    invalidMessage({ group: "", kind: "Pod", name: 'a"b' }, errors),
    'Pod "a\\"b" is invalid: x: Forbidden: no',
  );
  assert.equal(invalidMessage({ group: "g", kind: "K", name: "n" }, []), 'K.g "n" is invalid');
});

Deno.test("podDeniedStatus() answers 403 Forbidden with the message and the causes", () => {
  const status = podDeniedStatus({ name: "echo" }, [forbidden(fieldPath("x"), "no")]);
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

Deno.test("podDisplayName() names a generateName pod by its prefix", () => {
  assert.equal(podDisplayName({ name: "echo" }), "echo");
  assert.equal(podDisplayName({ name: "", generateName: "echo-5d9f-" }), "echo-5d9f-<generated>");
  assert.equal(podDisplayName({}), "");
  const status = podDeniedStatus({ generateName: "echo-5d9f-" }, [forbidden(fieldPath("x"), "no")]);
  assert.equal(status.message, 'Pod "echo-5d9f-<generated>" is invalid: x: Forbidden: no');
  assert.equal(status.details?.name, undefined);
});

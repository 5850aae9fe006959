import assert from "node:assert/strict";
import {
  AlreadyExistsError,
  ConflictError,
  ForbiddenError,
  KubeApiError,
  KubeConnectionError,
  KubeRequestTimeoutError,
  NotFoundError,
} from "../kube/mod.ts";
import { classifyWriteError } from "./record_store.ts";

const request = { method: "PUT", path: "/api/v1/namespaces/ops/configmaps/x" };

function status(code: number, reason: string) {
  return { code, reason, message: reason };
}

Deno.test("classifyWriteError() tells conflicts, refusals and unknown outcomes apart", () => {
  const cases: [unknown, string][] = [
    [new ConflictError(status(409, "Conflict")), "conflict"],
    [new AlreadyExistsError(status(409, "AlreadyExists")), "conflict"],
    [new NotFoundError(status(404, "NotFound")), "conflict"],
    [new ForbiddenError(status(403, "Forbidden")), "refused"],
    [new KubeApiError(status(429, "TooManyRequests")), "refused"],
    [new KubeApiError(status(504, "Timeout")), "unknown"],
    [new KubeApiError(status(500, "InternalError")), "unknown"],
    [new KubeRequestTimeoutError(request, 30_000), "unknown"],
    [new KubeConnectionError("https://127.0.0.1:1", request, new Error("reset")), "unknown"],
    [new TypeError("Cannot use a ConfigMap without a resourceVersion"), "unknown"],
  ];
  for (const [error, expected] of cases) {
    assert.equal(classifyWriteError(error), expected, String(error));
  }
});

import assert from "node:assert/strict";
import { CONTROLLER_DEFAULTS } from "./start_controllers.ts";

/** kube-apiserver's default `--request-timeout`: it bounds every pod creation in flight. */
const API_SERVER_REQUEST_TIMEOUT_MS = 60_000;

Deno.test("CONTROLLER_DEFAULTS.claimDeletionGraceMs outlasts the API server's request timeout", () => {
  assert.ok(CONTROLLER_DEFAULTS.claimDeletionGraceMs > API_SERVER_REQUEST_TIMEOUT_MS);
});

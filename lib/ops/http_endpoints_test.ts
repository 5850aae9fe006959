import assert from "node:assert/strict";
import { HealthChecks, webhookReadiness } from "./http_endpoints.ts";

async function get(checks: HealthChecks, path: string): Promise<[number, string] | undefined> {
  const response = checks.handle(new Request(`http://x${path}`));
  return response && [response.status, await response.text()];
}

Deno.test("HealthChecks answers 200 ok while every check passes", async () => {
  const checks = new HealthChecks();
  checks.addReadiness("caches", () => true);
  assert.deepEqual(await get(checks, "/healthz"), [200, "ok"]);
  assert.deepEqual(await get(checks, "/readyz"), [200, "ok"]);
});

Deno.test("HealthChecks answers 503 naming each failing readiness check", async () => {
  const checks = new HealthChecks();
  checks.addReadiness("caches", () => "informer caches have not synced yet");
  checks.addReadiness("webhook", () => true);
  checks.addReadiness("broken", () => {
    throw new Error("check crashed");
  });
  assert.deepEqual(await get(checks, "/readyz"), [
    503,
    "[+]ping ok\n[-]caches failed: informer caches have not synced yet\n[+]webhook ok\n" +
    "[-]broken failed: check crashed\nreadyz check failed\n",
  ]);
  assert.deepEqual(await get(checks, "/healthz"), [200, "ok"]); // liveness is separate
});

Deno.test("HealthChecks lists checks with ?verbose and runs one by its sub-path", async () => {
  const checks = new HealthChecks();
  let synced = false;
  checks.addReadiness("caches", () => synced || "not synced");
  assert.deepEqual(await get(checks, "/readyz/caches"), [503, "[-]caches failed: not synced\n"]);
  synced = true;
  assert.deepEqual(await get(checks, "/readyz/caches"), [200, "ok"]);
  assert.deepEqual(await get(checks, "/readyz?verbose"), [
    200,
    "[+]ping ok\n[+]caches ok\nreadyz check passed\n",
  ]);
  assert.deepEqual(await get(checks, "/readyz/nope"), [404, 'readyz check "nope" not found\n']);
  assert.equal(await get(checks, "/metrics"), undefined);
});

Deno.test("webhookReadiness() waits for a healthy certificate and synced caches", async () => {
  let healthy = false;
  let markSynced!: (synced: boolean) => void;
  const check = webhookReadiness(
    { healthy: () => healthy },
    new Promise((resolve) => markSynced = resolve),
  );
  assert.equal(check(), "the serving certificate cannot be loaded");
  healthy = true;
  assert.equal(check(), "the webhook caches have not synced yet");
  markSynced(true);
  await Promise.resolve();
  assert.equal(check(), true);
});

Deno.test("HealthChecks.addReadiness() replaces a placeholder by the real check of the same name", async () => {
  const checks = new HealthChecks();
  checks.addReadiness("webhook", () => "starting");
  assert.deepEqual(await get(checks, "/readyz/webhook"), [503, "[-]webhook failed: starting\n"]);
  checks.addReadiness("webhook", () => true);
  assert.deepEqual(await get(checks, "/readyz"), [200, "ok"]);
});

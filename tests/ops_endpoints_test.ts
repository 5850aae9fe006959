/**
 * The operational endpoint servers on loopback: health and metrics on separate ports or
 * sharing one, 404 for other paths, and a graceful shutdown.
 */
import assert from "node:assert/strict";
import type { Logger } from "../lib/ops/contracts.ts";
import { HealthChecks, serveEndpoints } from "../lib/ops/http_endpoints.ts";
import { PrometheusRegistry } from "../lib/ops/metrics_registry.ts";

const QUIET: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => QUIET };

/** A loopback address on a port that was free a moment ago. */
function freeLoopback(): { hostname: string; port: number } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  listener.close();
  return { hostname: "127.0.0.1", port: listener.addr.port };
}

async function get(port: number, path: string): Promise<[number, string, string | null]> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`);
  return [response.status, await response.text(), response.headers.get("content-type")];
}

Deno.test("serveEndpoints() serves /healthz, /readyz and /metrics on their own ports", async () => {
  const health = new HealthChecks();
  health.addReadiness("caches", () => "not synced");
  const registry = new PrometheusRegistry();
  registry.counter("demo_total", "Demo").inc();
  // Port 0 for both: one server each, and the "serving" lines tell the ports they were given.
  const bound = new Map<unknown, number>();
  const logger: Logger = {
    ...QUIET,
    info: (_message, fields) =>
      bound.set(fields?.endpoints, Number(/\d+$/.exec(`${fields?.address}`))),
  };
  const loopback = { hostname: "127.0.0.1", port: 0 };
  const servers = serveEndpoints(
    { healthAddr: loopback, metricsAddr: loopback, health, expose: () => registry.expose() },
    logger,
  );
  try {
    const [healthPort = 0, metricsPort = 0] = [bound.get("health"), bound.get("metrics")];
    assert.notEqual(healthPort, metricsPort);
    assert.deepEqual((await get(healthPort, "/healthz")).slice(0, 2), [200, "ok"]);
    assert.equal((await get(healthPort, "/readyz"))[0], 503);
    const [status, body, type] = await get(metricsPort, "/metrics");
    assert.equal(status, 200);
    assert.ok(body.includes("demo_total 1\n"));
    assert.equal(type, "text/plain; version=0.0.4; charset=utf-8");
    assert.equal((await get(metricsPort, "/healthz"))[0], 404);
    assert.equal((await get(healthPort, "/metrics"))[0], 404);
  } finally {
    await servers.shutdown();
  }
});

Deno.test("serveEndpoints() shares one server when the addresses are equal, and metrics may be off", async () => {
  const registry = new PrometheusRegistry();
  const shared = freeLoopback();
  const port = shared.port;
  const health = new HealthChecks();
  const expose = () => registry.expose();
  const servers = serveEndpoints(
    { healthAddr: shared, metricsAddr: shared, health, expose },
    QUIET,
  );
  try {
    assert.equal((await get(port, "/healthz"))[0], 200);
    assert.equal((await get(port, "/metrics"))[0], 200);
  } finally {
    await servers.shutdown();
  }
  const healthAddr = freeLoopback();
  const healthOnly = serveEndpoints({ healthAddr, metricsAddr: undefined, health, expose }, QUIET);
  try {
    assert.equal((await get(healthAddr.port, "/healthz"))[0], 200);
    assert.equal((await get(healthAddr.port, "/metrics"))[0], 404);
  } finally {
    await healthOnly.shutdown();
  }
});

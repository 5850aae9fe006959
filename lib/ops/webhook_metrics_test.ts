import assert from "node:assert/strict";
import { PrometheusRegistry } from "./metrics_registry.ts";
import { webhookFamilies, type WebhookStatsView } from "./webhook_metrics.ts";

const STATS: WebhookStatsView = {
  paths: {
    "/mutate-v1-pod": {
      requestsByCode: { 200: 5, 400: 1 },
      inFlight: 2,
      allowed: 4,
      denied: 1,
      latency: { counts: [3, 5], count: 6, sumSeconds: 0.75 },
    },
  },
  tlsErrors: 1,
  certificateReloads: 0,
};

Deno.test("webhookFamilies() exposes the server's counters under controller-runtime's names", () => {
  const registry = new PrometheusRegistry();
  registry.addCollector(() => webhookFamilies(STATS, [0.01, 0.1]));
  const text = registry.expose();
  for (
    const line of [
      "# TYPE controller_runtime_webhook_requests_total counter",
      'controller_runtime_webhook_requests_total{webhook="/mutate-v1-pod",code="200"} 5',
      'controller_runtime_webhook_requests_total{webhook="/mutate-v1-pod",code="400"} 1',
      'controller_runtime_webhook_requests_in_flight{webhook="/mutate-v1-pod"} 2',
      'controller_runtime_webhook_latency_seconds_bucket{webhook="/mutate-v1-pod",le="0.01"} 3',
      'controller_runtime_webhook_latency_seconds_bucket{webhook="/mutate-v1-pod",le="0.1"} 5',
      'controller_runtime_webhook_latency_seconds_bucket{webhook="/mutate-v1-pod",le="+Inf"} 6',
      'controller_runtime_webhook_latency_seconds_sum{webhook="/mutate-v1-pod"} 0.75',
      'controller_runtime_webhook_latency_seconds_count{webhook="/mutate-v1-pod"} 6',
      'hostport_webhook_reviews_total{webhook="/mutate-v1-pod",result="denied"} 1',
      "hostport_webhook_tls_errors_total 1",
    ]
  ) {
    assert.ok(text.split("\n").includes(line), `missing: ${line}`);
  }
});

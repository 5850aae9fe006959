/**
 * Process metrics: prom-client's default ones (resident memory, CPU time, start time, open and
 * maximum fds, the V8 heap spaces, GC and event-loop delay, all checked under Deno), plus ours
 * that dashboards already read: V8 heap used and reserved, uptime, and the worst event-loop lag
 * seen since the previous scrape (sampled by a cheap unref'd timer).
 *
 * @module
 */
import * as prom from "prom-client";
import type { PrometheusRegistry } from "./metrics_registry.ts";

/** How often the event-loop probe fires, in ms. */
export const LAG_PROBE_INTERVAL_MS = 500;

/** Registers the process metrics on `metrics`; the returned function stops the lag probe. */
export function registerProcessMetrics(metrics: PrometheusRegistry): () => void {
  const registers = [metrics.registry];
  prom.collectDefaultMetrics({ register: metrics.registry });
  const gauge = (name: string, help: string, read: () => number) =>
    new prom.Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(read());
      },
    });
  gauge("process_heap_used_bytes", "V8 heap in use, in bytes", () => Deno.memoryUsage().heapUsed);
  gauge(
    "process_heap_total_bytes",
    "V8 heap reserved, in bytes",
    () => Deno.memoryUsage().heapTotal,
  );
  gauge(
    "process_uptime_seconds",
    "Seconds since the process started",
    () => performance.now() / 1000,
  );
  let worstLagMs = 0;
  let expected = performance.now() + LAG_PROBE_INTERVAL_MS;
  const probe = setInterval(() => {
    const now = performance.now();
    worstLagMs = Math.max(worstLagMs, now - expected);
    expected = now + LAG_PROBE_INTERVAL_MS;
  }, LAG_PROBE_INTERVAL_MS);
  Deno.unrefTimer(probe); // the probe must not keep the process alive
  gauge(
    "process_event_loop_lag_seconds",
    "Largest event-loop delay seen since the previous scrape, in seconds",
    () => {
      const seconds = Math.max(0, worstLagMs) / 1000;
      worstLagMs = 0;
      return seconds;
    },
  );
  return () => clearInterval(probe);
}

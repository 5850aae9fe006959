/**
 * Process metrics refreshed at each scrape: resident memory, V8 heap, CPU time, start time,
 * uptime, and the worst event-loop lag seen since the previous scrape (sampled by a cheap
 * unref'd timer).
 *
 * @module
 */
import process from "node:process";
import type { PrometheusRegistry } from "./metrics_registry.ts";

/** How often the event-loop probe fires, in ms. */
export const LAG_PROBE_INTERVAL_MS = 500;

/** Registers the process metrics on `registry`; the returned function stops the lag probe. */
export function registerProcessMetrics(registry: PrometheusRegistry): () => void {
  const startSeconds = (performance.timeOrigin) / 1000;
  const rss = registry.gauge("process_resident_memory_bytes", "Resident memory size in bytes");
  const heapUsed = registry.gauge("process_heap_used_bytes", "V8 heap in use, in bytes");
  const heapTotal = registry.gauge("process_heap_total_bytes", "V8 heap reserved, in bytes");
  const cpu = registry.counter(
    "process_cpu_seconds_total",
    "User and system CPU time spent, in seconds",
  );
  const start = registry.gauge(
    "process_start_time_seconds",
    "Start time of the process since the Unix epoch, in seconds",
  );
  const uptime = registry.gauge("process_uptime_seconds", "Seconds since the process started");
  const lag = registry.gauge(
    "process_event_loop_lag_seconds",
    "Largest event-loop delay seen since the previous scrape, in seconds",
  );
  let cpuReported = 0;
  let worstLagMs = 0;
  let expected = performance.now() + LAG_PROBE_INTERVAL_MS;
  const probe = setInterval(() => {
    const now = performance.now();
    worstLagMs = Math.max(worstLagMs, now - expected);
    expected = now + LAG_PROBE_INTERVAL_MS;
  }, LAG_PROBE_INTERVAL_MS);
  Deno.unrefTimer(probe); // the probe must not keep the process alive
  registry.addCollector(() => {
    const memory = Deno.memoryUsage();
    rss.set({}, memory.rss);
    heapUsed.set({}, memory.heapUsed);
    heapTotal.set({}, memory.heapTotal);
    const usage = process.cpuUsage();
    const cpuSeconds = (usage.user + usage.system) / 1e6;
    cpu.inc({}, Math.max(0, cpuSeconds - cpuReported)); // a counter: add what is new
    cpuReported = Math.max(cpuReported, cpuSeconds);
    start.set({}, Math.round(startSeconds));
    uptime.set({}, performance.now() / 1000);
    lag.set({}, Math.max(0, worstLagMs) / 1000);
    worstLagMs = 0;
  });
  return () => clearInterval(probe);
}

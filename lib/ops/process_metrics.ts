/**
 * Process metrics under prom-client's default names, read from `/proc/self` at scrape time, plus
 * V8 heap, uptime and the worst event-loop lag since the previous scrape. Not prom-client's
 * `collectDefaultMetrics`: its `nodejs_*` families load Node's `perf_hooks` and `v8` layers and
 * cost about 8 MB of resident memory per replica (bench/results/memory.md).
 *
 * @module
 */
import * as prom from "prom-client";
import type { PrometheusRegistry } from "./metrics_registry.ts";

/** How often the event-loop probe fires, in ms. */
const LAG_PROBE_INTERVAL_MS = 500;

/** Linux's USER_HZ: the unit of the CPU times in `/proc/self/stat`. */
const TICKS_PER_SECOND = 100;

/** Where the process figures come from; `/proc/self` by default (tests pass their own). */
export interface ProcSource {
  /** The text of `/proc/self/<name>` (`stat`, `status`, `limits`). */
  read(name: string): Promise<string>;
  /** How many entries `/proc/self/fd` holds. */
  openFds(): Promise<number>;
}

const PROC_SELF: ProcSource = {
  read: (name) => Deno.readTextFile(`/proc/self/${name}`),
  openFds: async () => (await Array.fromAsync(Deno.readDir("/proc/self/fd"))).length,
};

type CpuSeconds = { user: number; system: number; total: number };

/** User, system and total CPU seconds from `/proc/self/stat` (fields 14 and 15). */
function cpuSeconds(stat: string): CpuSeconds {
  // The command name (field 2) may hold spaces and parentheses; the fields after it are fixed.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const user = Number(fields[11]) / TICKS_PER_SECOND;
  const system = Number(fields[12]) / TICKS_PER_SECOND;
  return { user, system, total: user + system };
}

/** A `kB` field of `/proc/self/status`, in bytes (NaN when absent). */
function statusBytes(status: string, field: string): number {
  return Number(status.match(new RegExp(`^${field}:\\s+(\\d+) kB$`, "m"))?.[1] ?? NaN) * 1024;
}

/** Registers the process metrics on `metrics`; the returned function stops the lag probe. */
export function registerProcessMetrics(
  metrics: PrometheusRegistry,
  proc: ProcSource = PROC_SELF,
): () => void {
  const registers = [metrics.registry];
  // prom-client collects every metric of a scrape at once, so each reads its own source; one
  // that cannot be read keeps its previous value.
  const read = async (source: () => number | Promise<number>) => {
    const value = await Promise.resolve().then(source).catch(() => NaN);
    return Number.isFinite(value) ? value : undefined;
  };
  const gauge = (name: string, help: string, source: () => number | Promise<number>) =>
    new prom.Gauge({
      name,
      help,
      registers,
      async collect() {
        const value = await read(source);
        if (value !== undefined) this.set(value);
      },
    });
  // CPU: counters moved forward by what `stat` gained since the previous scrape.
  const cpu = (name: string, help: string, pick: keyof CpuSeconds) => {
    let counted = 0;
    new prom.Counter({
      name,
      help,
      registers,
      async collect() {
        const now = await read(async () => cpuSeconds(await proc.read("stat"))[pick]);
        if (now === undefined || now < counted) return;
        this.inc(now - counted);
        counted = now;
      },
    });
  };
  const startTime = Math.round((Date.now() - performance.now()) / 1000);
  const status = (field: string) => async () => statusBytes(await proc.read("status"), field);
  const maxFds = async () =>
    Number((await proc.read("limits")).match(/^Max open files\s+(\d+)/m)?.[1] ?? NaN);
  cpu("process_cpu_user_seconds_total", "Total user CPU time spent in seconds.", "user");
  cpu("process_cpu_system_seconds_total", "Total system CPU time spent in seconds.", "system");
  cpu("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", "total");
  const gauges: [string, string, () => number | Promise<number>][] = [
    [
      "process_start_time_seconds",
      "Start time of the process since unix epoch in seconds.",
      () => startTime,
    ],
    ["process_resident_memory_bytes", "Resident memory size in bytes.", status("VmRSS")],
    ["process_virtual_memory_bytes", "Virtual memory size in bytes.", status("VmSize")],
    ["process_heap_bytes", "Process heap size in bytes.", status("VmData")],
    ["process_open_fds", "Number of open file descriptors.", () => proc.openFds()],
    ["process_max_fds", "Maximum number of open file descriptors.", maxFds],
    ["process_heap_used_bytes", "V8 heap in use, in bytes", () => Deno.memoryUsage().heapUsed],
    ["process_heap_total_bytes", "V8 heap reserved, in bytes", () => Deno.memoryUsage().heapTotal],
    ["process_uptime_seconds", "Seconds since the process started", () => performance.now() / 1000],
  ];
  for (const [name, help, source] of gauges) gauge(name, help, source);
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

import assert from "node:assert/strict";
import { PrometheusRegistry } from "./metrics_registry.ts";
import { type ProcSource, registerProcessMetrics } from "./process_metrics.ts";

/** A `/proc/self` whose CPU times can move on between scrapes. */
function fakeProc(cpu: { user: number; system: number }): ProcSource {
  return {
    read(name) {
      if (name === "stat") {
        // pid, (comm with a space and a paren), state, then fields 4..; utime and stime are 14, 15.
        const rest = ["S", ...Array(10).fill("0"), cpu.user, cpu.system, "0", "0"];
        return Promise.resolve(`42 (deno (x) y) ${rest.join(" ")}`);
      }
      if (name === "status") {
        return Promise.resolve(
          "Name:\tdeno\nVmSize:\t  300000 kB\nVmData:\t   90000 kB\nVmRSS:\t   80000 kB\n",
        );
      }
      if (name === "limits") {
        return Promise.resolve(
          "Limit                     Soft Limit           Hard Limit           Units     \n" +
            "Max open files            1048576              1048576              files     \n",
        );
      }
      return Promise.reject(new Deno.errors.NotFound(name));
    },
    openFds: () => Promise.resolve(17),
  };
}

function sample(text: string, name: string): number | undefined {
  const value = text.match(new RegExp(`^${name} (\\S+)$`, "m"))?.[1];
  return value === undefined ? undefined : Number(value);
}

Deno.test("registerProcessMetrics() exposes the process figures under prom-client's default names", async () => {
  const metrics = new PrometheusRegistry();
  const cpu = { user: 250, system: 50 }; // ticks of 10 ms
  const stop = registerProcessMetrics(metrics, fakeProc(cpu));
  try {
    let text = await metrics.expose();
    assert.equal(sample(text, "process_cpu_user_seconds_total"), 2.5);
    assert.equal(sample(text, "process_cpu_system_seconds_total"), 0.5);
    assert.equal(sample(text, "process_cpu_seconds_total"), 3);
    assert.equal(sample(text, "process_resident_memory_bytes"), 80000 * 1024);
    assert.equal(sample(text, "process_virtual_memory_bytes"), 300000 * 1024);
    assert.equal(sample(text, "process_heap_bytes"), 90000 * 1024);
    assert.equal(sample(text, "process_open_fds"), 17);
    assert.equal(sample(text, "process_max_fds"), 1048576);
    const start = sample(text, "process_start_time_seconds")!;
    assert.ok(Math.abs(start - Date.now() / 1000) < 120, `start time ${start} is about now`);
    assert.match(text, /^# TYPE process_cpu_seconds_total counter$/m);
    assert.match(text, /^# TYPE process_event_loop_lag_seconds gauge$/m);
    assert.ok(sample(text, "process_heap_used_bytes")! > 0);

    cpu.user = 300;
    text = await metrics.expose();
    assert.equal(sample(text, "process_cpu_user_seconds_total"), 3);
    assert.equal(sample(text, "process_cpu_seconds_total"), 3.5);
    // Only the process families: no Node.js ones (perf_hooks, GC observer, heap spaces).
    assert.doesNotMatch(text, /^nodejs_/m);
  } finally {
    stop();
  }
});

Deno.test("registerProcessMetrics() keeps the last value of what it cannot read", async () => {
  const metrics = new PrometheusRegistry();
  const stop = registerProcessMetrics(metrics, {
    read: (name) => Promise.reject(new Deno.errors.PermissionDenied(name)),
    openFds: () => Promise.reject(new Deno.errors.PermissionDenied("fd")),
  });
  try {
    const text = await metrics.expose();
    assert.equal(sample(text, "process_cpu_seconds_total"), 0);
    assert.equal(sample(text, "process_open_fds"), 0);
  } finally {
    stop();
  }
});

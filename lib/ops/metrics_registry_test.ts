import assert from "node:assert/strict";
import { seriesValue } from "../../tests/controller_ops_fakes.ts";
import { PrometheusRegistry } from "./metrics_registry.ts";

Deno.test("PrometheusRegistry.expose() renders counters and gauges with series in first-use order", async () => {
  const registry = new PrometheusRegistry();
  const reconciles = registry.counter("reconcile_total", "Reconciles", ["controller", "result"]);
  reconciles.inc({ controller: "hostport", result: "success" });
  reconciles.inc({ controller: "hostport", result: "success" }, 2);
  reconciles.inc({ controller: "claim", result: "error" });
  const free = registry.gauge("free_ports", "Free ports", ["class"]);
  free.set({ class: "games" }, 10);
  for (const delta of [3, -1]) free.inc({ class: "games" }, delta);
  free.set({ class: "web" }, 5);
  free.remove({ class: "web" });
  assert.equal(
    await registry.expose(),
    [
      "# HELP reconcile_total Reconciles",
      "# TYPE reconcile_total counter",
      'reconcile_total{controller="hostport",result="success"} 3',
      'reconcile_total{controller="claim",result="error"} 1',
      "", // prom-client separates families with a blank line
      "# HELP free_ports Free ports",
      "# TYPE free_ports gauge",
      'free_ports{class="games"} 12',
      "",
    ].join("\n"),
  );
});

Deno.test("PrometheusRegistry histograms write cumulative buckets, +Inf, sum and count", async () => {
  const registry = new PrometheusRegistry();
  const latency = registry.histogram("latency_seconds", "Latency", ["op"], [0.1, 1]);
  for (const value of [0.05, 0.1, 0.5, 3]) latency.observe({ op: "get" }, value);
  assert.equal(
    await registry.expose(),
    [
      "# HELP latency_seconds Latency",
      "# TYPE latency_seconds histogram",
      'latency_seconds_bucket{le="0.1",op="get"} 2',
      'latency_seconds_bucket{le="1",op="get"} 3',
      'latency_seconds_bucket{le="+Inf",op="get"} 4',
      'latency_seconds_sum{op="get"} 3.65',
      'latency_seconds_count{op="get"} 4',
      "",
    ].join("\n"),
  );
});

Deno.test("PrometheusRegistry returns the same metric for the same name", async () => {
  const registry = new PrometheusRegistry();
  registry.counter("a_total", "A", ["x"]).inc({ x: "1" });
  registry.counter("a_total", "A", ["x"]).inc({ x: "1" });
  assert.equal(seriesValue(await registry.expose(), 'a_total{x="1"}'), 2);
  assert.throws(() => registry.gauge("a_total", "A", ["x"]), TypeError);
  assert.throws(() => registry.counter("a_total", "A", ["y"]), TypeError);
});

Deno.test("PrometheusRegistry refuses invalid names, labels, buckets and decrements", () => {
  const registry = new PrometheusRegistry();
  assert.throws(() => registry.counter("bad-name", "x"), TypeError);
  assert.throws(() => registry.counter("ok_total", "x", ["__reserved"]), TypeError);
  assert.throws(() => registry.histogram("h", "x", ["le"]), TypeError);
  assert.throws(() => registry.histogram("h2", "x", [], [1, 1]), RangeError);
  const counter = registry.counter("c_total", "x", ["a"]);
  assert.throws(() => counter.inc({ a: "1" }, -1), RangeError);
  assert.throws(() => counter.inc({ b: "1" }), TypeError);
});

Deno.test("PrometheusRegistry fills missing label values with the empty string", async () => {
  const registry = new PrometheusRegistry();
  registry.counter("c_total", "x", ["a", "b"]).inc({ a: "1" });
  assert.ok((await registry.expose()).includes('c_total{a="1",b=""} 1'));
});

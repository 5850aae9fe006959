import assert from "node:assert/strict";
import {
  escapeHelp,
  escapeLabelValue,
  formatLabels,
  formatValue,
  histogramSamples,
  renderFamily,
} from "./exposition.ts";

Deno.test("escapeLabelValue() escapes backslash, double quote and newline only", () => {
  assert.equal(escapeLabelValue('a\\b"c\nd\te'), 'a\\\\b\\"c\\nd\te');
});

Deno.test("escapeHelp() escapes backslash and newline but not quotes", () => {
  assert.equal(escapeHelp('say "hi"\\\nbye'), 'say "hi"\\\\\\nbye');
});

Deno.test("formatValue() writes special floats the way Prometheus reads them", async (t) => {
  const cases: [number, string][] = [
    [0, "0"],
    [42, "42"],
    [0.25, "0.25"],
    [-1.5, "-1.5"],
    [1e21, "1e+21"],
    [Infinity, "+Inf"],
    [-Infinity, "-Inf"],
    [NaN, "NaN"],
  ];
  for (const [value, text] of cases) {
    await t.step(text, () => assert.equal(formatValue(value), text));
  }
});

Deno.test("formatLabels() writes nothing for no labels and quotes values", () => {
  assert.equal(formatLabels([]), "");
  assert.equal(formatLabels([["a", "1"], ["b", 'x"y']]), '{a="1",b="x\\"y"}');
});

Deno.test("renderFamily() writes HELP, TYPE and one line per sample", () => {
  const text = renderFamily({
    name: "hostport_demo_total",
    help: "A demo\ncounter",
    type: "counter",
    samples: [
      { suffix: "", labels: [["class", "games"]], value: 3 },
      { suffix: "", labels: [["class", "web\\"]], value: 1 },
    ],
  });
  assert.equal(
    text,
    [
      "# HELP hostport_demo_total A demo\\ncounter",
      "# TYPE hostport_demo_total counter",
      'hostport_demo_total{class="games"} 3',
      'hostport_demo_total{class="web\\\\"} 1',
      "",
    ].join("\n"),
  );
});

Deno.test("histogramSamples() renders cumulative buckets, +Inf, sum and count after the labels", () => {
  const samples = histogramSamples([["webhook", "/mutate"]], {
    bounds: [0.1, 1],
    cumulative: [2, 4],
    count: 5,
    sum: 3.5,
  });
  const text = renderFamily({ name: "latency", help: "Latency", type: "histogram", samples });
  assert.equal(
    text,
    [
      "# HELP latency Latency",
      "# TYPE latency histogram",
      'latency_bucket{webhook="/mutate",le="0.1"} 2',
      'latency_bucket{webhook="/mutate",le="1"} 4',
      'latency_bucket{webhook="/mutate",le="+Inf"} 5',
      'latency_sum{webhook="/mutate"} 3.5',
      'latency_count{webhook="/mutate"} 5',
      "",
    ].join("\n"),
  );
});

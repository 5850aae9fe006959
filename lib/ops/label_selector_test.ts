import assert from "node:assert/strict";
import { matchesLabelSelector, parseLabelSelector } from "./label_selector.ts";

Deno.test("parseLabelSelector() builds matchLabels and matchExpressions", async (t) => {
  const cases = [
    { input: "", expected: {} },
    {
      input: "hostport.rmb938.com=true",
      expected: { matchLabels: { "hostport.rmb938.com": "true" } },
    },
    { input: "a==b, c=d", expected: { matchLabels: { a: "b", c: "d" } } },
    {
      input: "a!=b",
      expected: { matchExpressions: [{ key: "a", operator: "NotIn", values: ["b"] }] },
    },
    {
      input: "tier in (web, api),env notin (dev)",
      expected: {
        matchExpressions: [
          { key: "tier", operator: "In", values: ["web", "api"] },
          { key: "env", operator: "NotIn", values: ["dev"] },
        ],
      },
    },
    {
      input: "example.com/x,!legacy",
      expected: {
        matchExpressions: [
          { key: "example.com/x", operator: "Exists" },
          { key: "legacy", operator: "DoesNotExist" },
        ],
      },
    },
  ];
  for (const { input, expected } of cases) {
    await t.step(JSON.stringify(input), () => {
      assert.deepEqual(parseLabelSelector(input), { ok: true, value: expected });
    });
  }
});

Deno.test("parseLabelSelector() refuses malformed selectors with a reason", async (t) => {
  for (
    const input of ["a=b=c", "tier in web", "-bad=x", "a=(x)", "a in (b", "a=" + "x".repeat(64)]
  ) {
    await t.step(JSON.stringify(input), () => {
      const result = parseLabelSelector(input);
      assert.equal(result.ok, false);
      if (!result.ok) assert.ok(result.reason.length > 0);
    });
  }
});

Deno.test("matchesLabelSelector() applies every term", async (t) => {
  const cases = [
    { selector: "", labels: undefined, expected: true },
    {
      selector: "hostport.rmb938.com=true",
      labels: { "hostport.rmb938.com": "true" },
      expected: true,
    },
    {
      selector: "hostport.rmb938.com=true",
      labels: { "hostport.rmb938.com": "yes" },
      expected: false,
    },
    { selector: "hostport.rmb938.com=true", labels: {}, expected: false },
    { selector: "a!=b", labels: {}, expected: true },
    { selector: "a!=b", labels: { a: "b" }, expected: false },
    { selector: "a in (x,y)", labels: { a: "y" }, expected: true },
    { selector: "a in (x,y)", labels: {}, expected: false },
    { selector: "a", labels: { a: "" }, expected: true },
    { selector: "!a", labels: { a: "" }, expected: false },
    { selector: "a=1,b", labels: { a: "1" }, expected: false },
  ];
  for (const { selector, labels, expected } of cases) {
    await t.step(`${selector} on ${JSON.stringify(labels)}`, () => {
      const parsed = parseLabelSelector(selector);
      assert.ok(parsed.ok);
      assert.equal(matchesLabelSelector(parsed.value, labels), expected);
    });
  }
});

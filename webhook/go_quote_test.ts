import assert from "node:assert/strict";
import { goQuote } from "./go_quote.ts";

Deno.test("goQuote() quotes like Go's %q verb", async (t) => {
  const cases: [string, string, string][] = [
    ["plain text", "echo-web", '"echo-web"'],
    ["empty", "", '""'],
    ["quotes and backslashes", 'a"b\\c', '"a\\"b\\\\c"'],
    ["short escapes", "\u0007\b\f\n\r\t\v", '"\\a\\b\\f\\n\\r\\t\\v"'],
    ["other ASCII controls as \\x", "\u0000\u001f\u007f", '"\\x00\\x1f\\x7f"'],
    ["printable non-ASCII kept", "p\u00f6rt-\u6e2f-\u{1F600}", '"p\u00f6rt-\u6e2f-\u{1F600}"'],
    ["non-printable spaces and format characters", "\u00a0\u200b\ufeff", '"\\u00a0\\u200b\\ufeff"'],
    ["non-printable astral characters as \\U", "\u{E0001}", '"\\U000e0001"'],
    ["lone surrogates become U+FFFD, as after Go's JSON decoding", "a\ud800b", '"a\ufffdb"'],
  ];
  for (const [name, input, expected] of cases) {
    await t.step(name, () => assert.equal(goQuote(input), expected));
  }
});

Deno.test("goQuote() output is JSON-compatible for plain printable text", () => {
  const text = "claim.hostport.rmb938.com/web";
  assert.equal(goQuote(text), JSON.stringify(text));
});

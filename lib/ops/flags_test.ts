import assert from "node:assert/strict";
import { formatListenAddress, parseDuration, parseListenAddress, readFlags } from "./flags.ts";

Deno.test("parseDuration() reads Go-style durations into milliseconds", async (t) => {
  const cases: { input: string; expected: number | undefined }[] = [
    { input: "15s", expected: 15_000 },
    { input: "500ms", expected: 500 },
    { input: "1m30s", expected: 90_000 },
    { input: "1.5s", expected: 1_500 },
    { input: "2h", expected: 7_200_000 },
    { input: "0", expected: 0 },
    { input: " 10s ", expected: 10_000 },
    { input: "15", expected: undefined },
    { input: "s", expected: undefined },
    { input: "-5s", expected: undefined },
    { input: "10 s", expected: undefined },
    { input: "", expected: undefined },
    { input: "1d", expected: undefined },
  ];
  for (const { input, expected } of cases) {
    await t.step(JSON.stringify(input), () => {
      assert.equal(parseDuration(input), expected);
    });
  }
});

Deno.test("parseListenAddress() reads host:port, :port and [ipv6]:port", async (t) => {
  const cases: { input: string; expected: { hostname: string; port: number } | undefined }[] = [
    { input: ":8081", expected: { hostname: "0.0.0.0", port: 8081 } },
    { input: "127.0.0.1:9443", expected: { hostname: "127.0.0.1", port: 9443 } },
    { input: "localhost:0", expected: { hostname: "localhost", port: 0 } },
    { input: "[::1]:8080", expected: { hostname: "::1", port: 8080 } },
    { input: "8080", expected: undefined },
    { input: ":70000", expected: undefined },
    { input: "host:", expected: undefined },
    { input: "::1:80", expected: undefined },
    { input: "a b:80", expected: undefined },
  ];
  for (const { input, expected } of cases) {
    await t.step(JSON.stringify(input), () => {
      assert.deepEqual(parseListenAddress(input), expected);
    });
  }
});

Deno.test("formatListenAddress() brackets IPv6 hosts", () => {
  assert.equal(formatListenAddress({ hostname: "::1", port: 80 }), "[::1]:80");
  assert.equal(formatListenAddress({ hostname: "0.0.0.0", port: 8081 }), "0.0.0.0:8081");
});

Deno.test("readFlags() reads booleans with Go's spellings and refuses others", () => {
  const read = (word: string) => {
    const result = readFlags([`--leader-elect=${word}`], {});
    return result.kind === "flags" ? result.flags["leader-elect"] : result;
  };
  for (const word of ["true", "TRUE", "1", "t", "yes", "on", " y "]) {
    assert.equal(read(word), true, word);
  }
  for (const word of ["false", "0", "F", "no", "off"]) assert.equal(read(word), false, word);
  assert.deepEqual(read("maybe"), {
    kind: "error",
    message: 'invalid value "maybe" for --leader-elect: expected true or false',
  });
});

import assert from "node:assert/strict";
import fc from "fast-check";
import { LineSplitter, lineSplitterStream } from "./rest_client.ts";

const encode = (s: string) => new TextEncoder().encode(s);

Deno.test("LineSplitter.push() holds a partial line until its newline arrives", () => {
  const splitter = new LineSplitter();
  assert.deepEqual(splitter.push(encode('{"a":')), []);
  assert.deepEqual(splitter.push(encode('1}\n{"b"')), ['{"a":1}']);
  assert.deepEqual(splitter.push(encode(":2}\n")), ['{"b":2}']);
  assert.deepEqual(splitter.end(), []);
});

Deno.test("LineSplitter handles CRLF, blank lines and a last line without newline", () => {
  const splitter = new LineSplitter();
  assert.deepEqual(splitter.push("a\r\n\r\n\nb\n  \nc"), ["a", "b"]);
  assert.deepEqual(splitter.end(), ["c"]);
});

Deno.test("LineSplitter decodes a character split across chunks", () => {
  const bytes = encode("h\u00e9\u20ac\n");
  const splitter = new LineSplitter();
  const lines = [...bytes].flatMap((b) => splitter.push(new Uint8Array([b])));
  assert.deepEqual(lines, ["h\u00e9\u20ac"]);
});

Deno.test("LineSplitter yields the same lines however the bytes are chunked", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.string({ unit: "grapheme", minLength: 1 }).filter((s) =>
          !/[\r\n]/.test(s) && s.trim() !== ""
        ),
        { maxLength: 8 },
      ),
      fc.array(fc.nat(), { maxLength: 10 }),
      (lines, cuts) => {
        const bytes = encode(lines.map((l) => `${l}\n`).join(""));
        const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        const splitter = new LineSplitter();
        const out: string[] = [];
        let start = 0;
        for (const point of [...points, bytes.length]) {
          out.push(...splitter.push(bytes.slice(start, point)));
          start = point;
        }
        out.push(...splitter.end());
        assert.deepEqual(out, lines);
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("lineSplitterStream() turns a byte stream into lines", async () => {
  const source = ReadableStream.from([encode("one\ntw"), encode("o\nthree")]);
  const lines = await Array.fromAsync(source.pipeThrough(lineSplitterStream()));
  assert.deepEqual(lines, ["one", "two", "three"]);
});

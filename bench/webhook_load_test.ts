import assert from "node:assert/strict";
import { frameResponse, percentile, requestBytes, summarise } from "./webhook_load_http.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

Deno.test("requestBytes() writes a keep-alive POST with the body's length", () => {
  const url = new URL("https://127.0.0.1:9443/mutate-v1-pod");
  const text = new TextDecoder().decode(requestBytes(url, '{"a":"\u00e9"}'));
  assert.equal(
    text,
    "POST /mutate-v1-pod HTTP/1.1\r\nHost: 127.0.0.1:9443\r\nContent-Type: application/json\r\n" +
      'Content-Length: 10\r\n\r\n{"a":"\u00e9"}',
  );
  const closing = new TextDecoder().decode(requestBytes(url, "{}", { close: true }));
  assert.match(closing, /\r\nConnection: close\r\n\r\n\{\}$/);
});

Deno.test("frameResponse() finds a Content-Length response and waits for the rest", () => {
  const response = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\ncontent-type: x\r\n\r\nhello";
  assert.deepEqual(frameResponse(bytes(response)), { status: 200, length: response.length });
  assert.equal(frameResponse(bytes(response.slice(0, -1))), undefined);
  assert.equal(frameResponse(bytes("HTTP/1.1 200 OK\r\nContent-Len")), undefined);
  // Only the first of two responses in the buffer.
  const two = bytes(response + "HTTP/1.1 500 x\r\ncontent-length: 0\r\n\r\n");
  assert.deepEqual(frameResponse(two), { status: 200, length: response.length });
  assert.deepEqual(frameResponse(two, response.length), { status: 200, length: response.length });
});

Deno.test("frameResponse() finds a chunked response's end, trailers included", () => {
  const head = "HTTP/1.1 503 Busy\r\nTransfer-Encoding: chunked\r\n\r\n";
  const body = "5\r\nhello\r\n6;x=y\r\n world\r\n0\r\n\r\n";
  const whole = head + body;
  assert.deepEqual(frameResponse(bytes(whole)), { status: 503, length: whole.length });
  for (let cut = head.length; cut < whole.length; cut++) {
    assert.equal(frameResponse(bytes(whole.slice(0, cut))), undefined, `cut at ${cut}`);
  }
  const trailed = head + "0\r\nX-T: 1\r\n\r\n";
  assert.deepEqual(frameResponse(bytes(trailed)), { status: 503, length: trailed.length });
});

Deno.test("frameResponse() refuses what is not an HTTP/1.1 response", () => {
  assert.throws(() => frameResponse(bytes("SSH-2.0\r\n\r\n")), SyntaxError);
  assert.throws(
    () => frameResponse(bytes("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n")),
    SyntaxError,
  );
});

Deno.test("percentile() takes the nearest rank", () => {
  const sorted = Float64Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(percentile(sorted, 50), 50);
  assert.equal(percentile(sorted, 99), 99);
  assert.equal(percentile(sorted, 100), 100);
  assert.equal(percentile([7], 99), 7);
  assert.ok(Number.isNaN(percentile([], 50)));
});

Deno.test("summarise() reports the rate and both latencies in ms", () => {
  const report = summarise({
    scheduled: Float64Array.from([5, 1, 3, 2, 4]),
    sent: Float64Array.from([1, 1, 1, 1, 2]),
    late: Float64Array.from([0.5, 0.25]),
    errors: 1,
    elapsedMs: 2_000,
  });
  assert.deepEqual(report, {
    requestsPerSecond: 2.5,
    requests: 5,
    p50Ms: 3,
    p90Ms: 5,
    p99Ms: 5,
    maxMs: 5,
    sendP99Ms: 2,
    lateP99Ms: 0.5,
    errors: 1,
  });
});

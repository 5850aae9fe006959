import assert from "node:assert/strict";
import { parseWrkReport } from "./webhook_wrk.ts";

const REPORT = `Running 10s test @ https://127.0.0.1:9600/mutate-v1-pod
  1 threads and 10 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   424.91us  843.34us  1.02s    97.99%
    Req/Sec     1.00k    16.11     1.04k    82.50%
  Latency Distribution
     50%  312.00us
     75%  400.00us
     90%  502.00us
     99%    3.17ms
  9990 requests in 10.00s, 2.31MB read
  Socket errors: connect 0, read 1, write 0, timeout 2
  Non-2xx or 3xx responses: 3
Requests/sec:    998.96
Transfer/sec:    236.12KB
`;

Deno.test("parseWrkReport() reads rate, percentiles, maximum and errors in milliseconds", () => {
  const report = parseWrkReport(REPORT);
  assert.equal(report.requestsPerSecond, 998.96);
  assert.equal(report.requests, 9990);
  assert.ok(Math.abs(report.p50Ms - 0.312) < 1e-9);
  assert.ok(Math.abs(report.p90Ms - 0.502) < 1e-9);
  assert.equal(report.p99Ms, 3.17);
  assert.equal(report.maxMs, 1020);
  assert.equal(report.errors, 6);
});

Deno.test("parseWrkReport() refuses output without a rate", () => {
  assert.throws(() => parseWrkReport("unable to connect to 127.0.0.1:1"), SyntaxError);
});

/**
 * The load generator against a real TLS server on loopback: it keeps its connections alive, holds
 * a fixed rate, and (coordinated omission) a server stall counts against every request scheduled
 * during it, not only the one that was in flight.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { testPki } from "../tests/webhook_fixtures.ts";
import { runLoad } from "./webhook_load.ts";

interface Server extends AsyncDisposable {
  url: string;
  caFile: string;
  bodyFile: string;
  /** Client ports seen: one per TCP connection. */
  clientPorts: Set<number>;
}

/** A TLS server answering 200; its request number `stallAt` waits `stallMs` first. */
async function startServer(stallAt: number, stallMs: number): Promise<Server> {
  const { ca, serving } = await testPki("load-test-ca");
  const dir = await Deno.makeTempDir({ prefix: "load-test-" });
  const caFile = join(dir, "ca.crt");
  const bodyFile = join(dir, "body.json");
  await Deno.writeTextFile(caFile, ca.certPem);
  await Deno.writeTextFile(bodyFile, '{"kind":"AdmissionReview"}');
  const clientPorts = new Set<number>();
  let requests = 0;
  const stop = new AbortController();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    cert: serving.certPem,
    key: serving.keyPem,
    signal: stop.signal,
    onListen() {},
  }, async (request, info) => {
    clientPorts.add(info.remoteAddr.port);
    await request.text();
    if (++requests === stallAt) await new Promise((resolve) => setTimeout(resolve, stallMs));
    return Response.json({ ok: true });
  });
  return {
    url: `https://127.0.0.1:${server.addr.port}/mutate-v1-pod`,
    caFile,
    bodyFile,
    clientPorts,
    async [Symbol.asyncDispose]() {
      stop.abort();
      await server.finished;
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("runLoad() at a fixed rate counts a stall against every request it held back", async () => {
  // 200 req/s on one connection for 2 s; the 100th request stalls 300 ms, holding back the ~60
  // requests scheduled meanwhile (15% of the run).
  await using server = await startServer(100, 300);
  const report = await runLoad({
    url: server.url,
    caFile: server.caFile,
    bodyFiles: [server.bodyFile],
    seconds: 2,
    connections: 1,
    rate: 200,
  });
  assert.equal(report.errors, 0);
  // The schedule is kept: the held-back requests are sent late, not dropped.
  assert.ok(Math.abs(report.requests - 400) <= 4, `${report.requests} requests`);
  assert.ok(report.maxMs >= 300, `max ${report.maxMs} ms`);
  // From the schedule, more than 1% of requests waited over 150 ms; from the send, one did.
  assert.ok(report.p99Ms > 150, `p99 from the schedule ${report.p99Ms} ms`);
  assert.ok(report.sendP99Ms < 150, `p99 from the send ${report.sendP99Ms} ms`);
  assert.equal(server.clientPorts.size, 1, "one keep-alive connection");
});

Deno.test("runLoad() at saturation keeps its connections; closeEach opens one per request", async () => {
  await using server = await startServer(0, 0);
  const base = { url: server.url, caFile: server.caFile, bodyFiles: [server.bodyFile] };
  const saturated = await runLoad({ ...base, seconds: 1, connections: 4 });
  assert.equal(saturated.errors, 0);
  assert.ok(saturated.requests > 100, `${saturated.requests} requests`);
  assert.equal(server.clientPorts.size, 4);
  server.clientPorts.clear();
  const closing = await runLoad({ ...base, seconds: 1, connections: 2, closeEach: true });
  assert.equal(closing.errors, 0);
  assert.ok(closing.requests > 10, `${closing.requests} requests`);
  // A new connection per request (a port may come round again; keep-alive would show 2).
  assert.ok(server.clientPorts.size > closing.requests / 2, `${server.clientPorts.size} ports`);
});

/**
 * A TCP proxy to `target` that holds each new connection `delayMs` before connecting it, so every
 * TLS handshake through it takes that much longer.
 */
function slowOpeningProxy(target: string, delayMs: number): { url: string } & AsyncDisposable {
  const upstream = new URL(target);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const piping: Promise<unknown>[] = [];
  const accepting = (async () => {
    for await (const client of listener) {
      piping.push((async () => {
        await new Promise((resolve) => setTimeout(resolve, delayMs));
        const server = await Deno.connect({ hostname: "127.0.0.1", port: Number(upstream.port) });
        await Promise.allSettled([
          client.readable.pipeTo(server.writable),
          server.readable.pipeTo(client.writable),
        ]);
      })());
    }
  })();
  return {
    url: `https://127.0.0.1:${listener.addr.port}${upstream.pathname}`,
    async [Symbol.asyncDispose]() {
      listener.close();
      await accepting.catch(() => {});
      await Promise.allSettled(piping);
    },
  };
}

Deno.test("runLoad() opens its kept-alive connections before the clock; closeEach pays each", async () => {
  // Every handshake takes 400 ms more. Opened inside the run, the first request on each
  // connection waited for it, and at 100 req/s it held back the next ~40 on the schedule.
  await using server = await startServer(0, 0);
  await using proxy = slowOpeningProxy(server.url, 400);
  const base = { url: proxy.url, caFile: server.caFile, bodyFiles: [server.bodyFile] };
  const kept = await runLoad({ ...base, seconds: 1, connections: 2, rate: 100 });
  assert.equal(kept.errors, 0);
  assert.ok(Math.abs(kept.requests - 100) <= 2, `${kept.requests} requests`);
  assert.ok(kept.maxMs < 400, `max ${kept.maxMs} ms`);
  const closing = await runLoad({ ...base, seconds: 1, connections: 1, closeEach: true });
  assert.equal(closing.errors, 0);
  assert.ok(closing.p50Ms >= 400, `p50 ${closing.p50Ms} ms with a handshake per request`);
});

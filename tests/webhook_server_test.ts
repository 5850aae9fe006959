/**
 * The admission HTTPS server on 127.0.0.1: routing and HTTP-level refusals, pod admission through
 * the real handler, slow clients, malformed input, metrics, debug logs and graceful shutdown.
 */
import assert from "node:assert/strict";
import { WEBHOOK_PATHS } from "../webhook/configurations.ts";
import type { AdmissionLookups } from "../webhook/lookups.ts";
import { startWebhookServer, type WebhookServerOptions } from "../webhook/server.ts";
import { createLogger } from "../lib/ops/logger.ts";
import { PrometheusRegistry } from "../lib/ops/metrics_registry.ts";
import {
  allocatedHostPort,
  boundClaim,
  decodePatch,
  memoryLookups,
  metricValue,
  podReview,
  StaticCertificateSource,
  testPki,
  webPod,
} from "./webhook_fixtures.ts";
import { eventually } from "./controller_harness.ts";

const pki = await testPki();
const LOOKUPS = memoryLookups([boundClaim("ns1", "a")], [allocatedHostPort("hpc-a", 9000)]);

function start(options: Partial<WebhookServerOptions> = {}) {
  return startWebhookServer({
    certificates: new StaticCertificateSource(pki.serving.certPem, pki.serving.keyPem),
    lookups: LOOKUPS,
    hostname: "127.0.0.1",
    port: 0,
    ...options,
  });
}

async function post(
  client: Deno.HttpClient,
  url: string,
  body: string,
  contentType = "application/json",
): Promise<{ status: number; text: string }> {
  const response = await fetch(url, {
    method: "POST",
    client,
    headers: { "content-type": contentType },
    body,
  });
  return { status: response.status, text: await response.text() };
}

/** Writes `payload` on a fresh TLS connection and reads until the server closes it. */
async function rawExchange(port: number, payload: string): Promise<string> {
  const conn = await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [pki.ca.certPem] });
  try {
    await conn.handshake();
    if (payload !== "") await conn.write(new TextEncoder().encode(payload));
    let text = "";
    const buffer = new Uint8Array(4096);
    for (;;) {
      const n = await conn.read(buffer).catch(() => null); // a reset also ends the exchange
      if (n === null) return text;
      text += new TextDecoder().decode(buffer.subarray(0, n));
    }
  } finally {
    conn.close();
  }
}

Deno.test("the server admits a pod through the handler and returns the injected port", async () => {
  await using server = await start();
  using client = Deno.createHttpClient({ caCerts: [pki.ca.certPem] });
  const url = `https://127.0.0.1:${server.port}${WEBHOOK_PATHS.mutatePod}`;
  const reply = await post(
    client,
    url,
    JSON.stringify(podReview("u1", "ns1", webPod("ns1", "p", "a"))),
  );

  assert.equal(reply.status, 200);
  const review = JSON.parse(reply.text);
  assert.equal(review.kind, "AdmissionReview");
  assert.equal(review.response.uid, "u1");
  assert.equal(review.response.allowed, true);
  assert.deepEqual(
    // The operations touch distinct paths: their order does not change the patched pod.
    decodePatch(review.response.patch).map((op) => [op.path, op.value]).sort(),
    [
      ["/metadata/annotations/port.hostport.rmb938.com~1web", "9000"],
      ["/metadata/labels", { "hostport.rmb938.com/claims": "true" }],
      ["/spec/containers/0/ports/0/hostPort", 9000],
    ],
  );
});

Deno.test("the server answers HTTP errors for wrong paths, methods, types and bodies", async (t) => {
  await using server = await start();
  using client = Deno.createHttpClient({ caCerts: [pki.ca.certPem] });
  const base = `https://127.0.0.1:${server.port}`;
  const pod = `${base}${WEBHOOK_PATHS.mutatePod}`;
  const cases = [
    {
      name: "unknown path",
      run: () => post(client, `${base}/mutate-v1-service`, "{}"),
      status: 404,
    },
    {
      name: "GET on a webhook path",
      run: async () => {
        const response = await fetch(pod, { client });
        return { status: response.status, text: await response.text() };
      },
      status: 405,
    },
    { name: "text/plain body", run: () => post(client, pod, "{}", "text/plain"), status: 415 },
    { name: "invalid JSON", run: () => post(client, pod, "{not json"), status: 400 },
    { name: "JSON that is no AdmissionReview", run: () => post(client, pod, "[1,2]"), status: 400 },
    {
      name: "body over the 3 MiB limit",
      run: async () => {
        const text = await rawExchange(
          server.port,
          `POST ${WEBHOOK_PATHS.mutatePod} HTTP/1.1\r\nHost: x\r\n` +
            `Content-Type: application/json\r\nContent-Length: ${3 * 1024 * 1024 + 1}\r\n\r\n`,
        );
        assert.match(text, /\r\n\r\nRequest body is larger than 3145728 bytes\n$/);
        return { status: Number(text.split(" ", 2)[1]), text };
      },
      status: 413,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const reply = await c.run();
      assert.equal(reply.status, c.status, reply.text);
    });
  }
  // After all of that the server still admits pods.
  const reply = await post(
    client,
    pod,
    JSON.stringify(podReview("u2", "ns1", webPod("ns1", "p", "a"))),
  );
  assert.equal(reply.status, 200);
});

Deno.test("/healthz answers ok in plain text", async () => {
  await using server = await start();
  using client = Deno.createHttpClient({ caCerts: [pki.ca.certPem] });
  const response = await fetch(`https://127.0.0.1:${server.port}/healthz`, { client });
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /^text\/plain/);
  assert.equal(await response.text(), "ok\n");
});

Deno.test("the server closes connections of clients that stall", async (t) => {
  await using server = await start({
    handshakeTimeoutMs: 300,
    headersTimeoutMs: 300,
    requestTimeoutMs: 600,
  });
  await t.step("no TLS handshake", async () => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    const n = await conn.read(new Uint8Array(16)).catch(() => null);
    conn.close();
    assert.equal(n, null);
  });
  await t.step("headers never finish", async () => {
    const text = await rawExchange(server.port, "POST /mutate-v1-pod HTTP/1.1\r\nHost: x\r\n");
    assert.ok(text === "" || text.startsWith("HTTP/1.1 408"), text);
  });
  await t.step("body never finishes", async () => {
    const text = await rawExchange(
      server.port,
      "POST /mutate-v1-pod HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
        "Content-Length: 100\r\n\r\n{",
    );
    assert.ok(text === "" || text.startsWith("HTTP/1.1 408"), text);
  });
});

Deno.test("the server survives bytes that are not HTTP and keeps serving", async () => {
  await using server = await start();
  const text = await rawExchange(server.port, "\x00\x01garbage\r\n\r\n");
  assert.ok(text === "" || text.startsWith("HTTP/1.1 400"), text);
  using client = Deno.createHttpClient({ caCerts: [pki.ca.certPem] });
  const response = await fetch(`https://127.0.0.1:${server.port}/healthz`, { client });
  assert.equal(await response.text(), "ok\n");
});

Deno.test("the server records its requests into the metrics registry under controller-runtime's names", async () => {
  const metrics = new PrometheusRegistry();
  await using server = await start({ metrics });
  using client = Deno.createHttpClient({ caCerts: [pki.ca.certPem] });
  const url = `https://127.0.0.1:${server.port}${WEBHOOK_PATHS.mutatePod}`;
  await post(client, url, JSON.stringify(podReview("ok", "ns1", webPod("ns1", "p", "a"))));
  await post(client, url, JSON.stringify(podReview("no", "ns1", webPod("ns1", "p", "nosuch"))));
  await post(client, url, "{bad");

  const lines = (await metrics.expose()).split("\n");
  const hook = `webhook="${WEBHOOK_PATHS.mutatePod}"`;
  for (
    const line of [
      "# TYPE controller_runtime_webhook_requests_total counter",
      `controller_runtime_webhook_requests_total{${hook},code="200"} 2`,
      `controller_runtime_webhook_requests_total{${hook},code="400"} 1`,
      `controller_runtime_webhook_requests_in_flight{${hook}} 0`,
      `controller_runtime_webhook_latency_seconds_bucket{le="+Inf",${hook}} 3`,
      `controller_runtime_webhook_latency_seconds_count{${hook}} 3`,
      `hostport_webhook_reviews_total{${hook},result="allowed"} 1`,
      `hostport_webhook_reviews_total{${hook},result="denied"} 1`,
      "hostport_webhook_tls_errors_total 0",
      "hostport_webhook_certificate_reloads_total 0",
    ]
  ) {
    assert.ok(lines.includes(line), `missing: ${line}`);
  }
});

Deno.test("request logs are JSON lines written at debug level only", async () => {
  const lines: string[] = [];
  for (const level of ["info", "debug"] as const) {
    await using server = await start({
      logger: createLogger({ level, write: (l) => lines.push(l) }),
    });
    using client = Deno.createHttpClient({ caCerts: [pki.ca.certPem] });
    const url = `https://127.0.0.1:${server.port}${WEBHOOK_PATHS.mutatePod}`;
    await post(
      client,
      url,
      JSON.stringify(podReview(`uid-${level}`, "ns1", webPod("ns1", "p", "a"))),
    );
  }
  const requests = lines.map((line) => JSON.parse(line)).filter((r) =>
    r.msg === "Admission request"
  );
  assert.equal(requests.length, 1);
  assert.equal(requests[0].level, "debug");
  assert.equal(requests[0].uid, "uid-debug");
  assert.equal(requests[0].status, 200);
  assert.equal(requests[0].path, WEBHOOK_PATHS.mutatePod);
});

Deno.test("shutdown lets an in-flight request finish, then refuses connections", async () => {
  let release!: () => void;
  const released = new Promise<void>((resolve) => release = resolve);
  let entered!: () => void;
  const inHandler = new Promise<void>((resolve) => entered = resolve);
  const slowLookups: AdmissionLookups = {
    ...LOOKUPS,
    async getClaim(namespace, name) {
      entered();
      await released;
      return await LOOKUPS.getClaim(namespace, name);
    },
  };
  const server = await start({ lookups: slowLookups });
  using client = Deno.createHttpClient({ caCerts: [pki.ca.certPem] });
  const url = `https://127.0.0.1:${server.port}${WEBHOOK_PATHS.mutatePod}`;
  const inFlight = post(
    client,
    url,
    JSON.stringify(podReview("slow", "ns1", webPod("ns1", "p", "a"))),
  );
  await inHandler;

  const shutdown = server.shutdown();
  await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port: server.port }));
  release();
  const reply = await inFlight;
  assert.equal(reply.status, 200);
  assert.equal(JSON.parse(reply.text).response.allowed, true);
  await shutdown;
});

/** Resolves once the server closes `conn` (end of stream or reset). */
async function closedByServer(conn: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(1024);
  while (await conn.read(buffer).catch(() => null) !== null);
}

Deno.test("shutdown closes idle and unused connections at once and lets an in-flight request finish", async () => {
  const graceMs = 15_000;
  let release!: () => void;
  const released = new Promise<void>((resolve) => release = resolve);
  let entered!: () => void;
  const inHandler = new Promise<void>((resolve) => entered = resolve);
  const slowLookups: AdmissionLookups = {
    ...LOOKUPS,
    async getClaim(namespace, name) {
      entered();
      await released;
      return await LOOKUPS.getClaim(namespace, name);
    },
  };
  const server = await start({ lookups: slowLookups, shutdownGraceMs: graceMs });
  // A keep-alive connection that served a request and is idle now.
  const idle = await Deno.connectTls({
    hostname: "127.0.0.1",
    port: server.port,
    caCerts: [pki.ca.certPem],
  });
  await idle.write(new TextEncoder().encode("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  assert.match(new TextDecoder().decode(await readSome(idle)), /^HTTP\/1\.1 200/);
  // A pooled connection that finished its handshake and never sent a request.
  const unused = await Deno.connectTls({
    hostname: "127.0.0.1",
    port: server.port,
    caCerts: [pki.ca.certPem],
  });
  await unused.handshake();
  // A connection whose TLS handshake has not started.
  const handshaking = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  // A request in flight.
  using client = Deno.createHttpClient({ caCerts: [pki.ca.certPem] });
  const url = `https://127.0.0.1:${server.port}${WEBHOOK_PATHS.mutatePod}`;
  const inFlight = post(
    client,
    url,
    JSON.stringify(podReview("slow", "ns1", webPod("ns1", "p", "a"))),
  );
  await inHandler;

  const started = performance.now();
  const stopped = server.shutdown();
  // Closed while the in-flight request is still held: not at the grace deadline.
  await Promise.all([idle, unused, handshaking].map(closedByServer));
  release();
  const reply = await inFlight;
  assert.equal(reply.status, 200);
  assert.equal(JSON.parse(reply.text).response.allowed, true);
  await stopped;
  const elapsedMs = performance.now() - started;
  console.log(`shutdown took ${Math.round(elapsedMs)} ms (grace ${graceMs} ms)`);
  assert.ok(elapsedMs < graceMs, `shutdown took ${elapsedMs} ms, not less than its grace`);
  for (const conn of [idle, unused, handshaking]) conn.close();
});

async function readSome(conn: Deno.Conn): Promise<Uint8Array> {
  const buffer = new Uint8Array(4096);
  const n = await conn.read(buffer);
  return buffer.subarray(0, n ?? 0);
}

Deno.test("a client that leaves before its body arrives is recorded as 499, not as an error", async () => {
  const metrics = new PrometheusRegistry();
  await using server = await start({ metrics });
  const conn = await Deno.connectTls({
    hostname: "127.0.0.1",
    port: server.port,
    caCerts: [pki.ca.certPem],
  });
  await conn.handshake();
  await conn.write(new TextEncoder().encode(
    "POST /mutate-v1-pod HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
      "Content-Length: 100\r\n\r\n{",
  ));
  const webhook = { webhook: WEBHOOK_PATHS.mutatePod };
  const inFlight = () =>
    metricValue(metrics, "controller_runtime_webhook_requests_in_flight", webhook);
  const requests = (code: string) =>
    metricValue(metrics, "controller_runtime_webhook_requests_total", { ...webhook, code });
  await eventually("the request to be in flight", async () => await inFlight() === 1 || undefined);
  conn.close();
  await eventually("the request to end", async () => await inFlight() === 0 || undefined);
  assert.equal(await requests("499"), 1);
  assert.equal(
    await metricValue(metrics, "controller_runtime_webhook_requests_total", webhook),
    1,
    "no other code, so no error either",
  );
});

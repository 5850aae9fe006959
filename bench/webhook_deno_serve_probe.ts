/**
 * Probes what keeps the admission server off `Deno.serve` (bench/results/webhook.md, "Why not
 * Deno.serve"), so that the answer can be checked again on a newer Deno:
 *
 * 1. latency of one kept-alive TLS connection by response body kind (the 40 ms Nagle stall);
 * 2. certificate swaps by a second `reusePort` listener while requests flow (failed requests);
 * 3. whether connections that stall before or inside their request are closed, and whether a
 *    graceful shutdown finishes while they stay.
 *
 * ```sh
 * ./deno run --allow-all --unstable-net bench/webhook_deno_serve_probe.ts [stall seconds, 35]
 * ```
 *
 * @module
 */
import { issueServing, testPki } from "../tests/webhook_fixtures.ts";
import { frameResponse, percentile, requestBytes } from "./webhook_load_http.ts";

const pki = await testPki("probe-ca");
const TLS = { cert: pki.serving.certPem, key: pki.serving.keyPem };
const encoder = new TextEncoder();

/** Median and p90 of `count` sequential requests on one kept-alive connection, in ms. */
async function sequential(conn: Deno.Conn, port: number, count: number): Promise<string> {
  const request = requestBytes(new URL(`https://127.0.0.1:${port}/`), "x".repeat(2_500));
  const buffer = new Uint8Array(1 << 16);
  const latencies: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    for (let written = 0; written < request.length;) {
      written += await conn.write(request.subarray(written));
    }
    let filled = 0;
    while (filled === 0 || frameResponse(buffer, filled) === undefined) {
      const read = await conn.read(buffer.subarray(filled));
      if (read === null) throw new Error("the server closed the connection");
      filled += read;
    }
    latencies.push(performance.now() - started);
  }
  latencies.sort((a, b) => a - b);
  const ms = (p: number) => percentile(latencies, p).toFixed(2);
  return `p50 ${ms(50)} ms, p90 ${ms(90)} ms`;
}

/** 1. One kept-alive connection per body kind, over TLS and, for reference, plain HTTP. */
async function bodies(): Promise<Record<string, string>> {
  const kinds: [string, boolean, (text: string) => BodyInit][] = [
    ["TLS, string body of 400 bytes", true, (text) => text.slice(0, 400)],
    ["TLS, string body of 1,000 bytes", true, (text) => text],
    ["TLS, Uint8Array body of 1,000 bytes", true, (text) => encoder.encode(text)],
    ["TLS, Blob body of 1,000 bytes", true, (text) => new Blob([text])],
    ["plain HTTP, string body of 1,000 bytes", false, (text) => text],
  ];
  const results: Record<string, string> = {};
  for (const [name, tls, body] of kinds) {
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {}, ...tls ? TLS : {} },
      async (req) => {
        await req.arrayBuffer();
        return new Response(body("y".repeat(1_000)), { headers: { "content-type": "text/plain" } });
      },
    );
    const tcp = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
    tcp.setNoDelay(true); // as the load generator and Go's net package do
    const conn = tls
      ? await Deno.startTls(tcp, { hostname: "127.0.0.1", caCerts: [pki.ca.certPem] })
      : tcp;
    try {
      results[name] = await sequential(conn, server.addr.port, 40);
    } finally {
      conn.close();
      await server.shutdown();
    }
  }
  return results;
}

/** 2. `swaps` certificate swaps: a new listener on the same port, then the old one shut down. */
async function swaps(count: number): Promise<Record<string, unknown>> {
  const handler = async (req: Request) => {
    await req.arrayBuffer();
    return new Response("ok");
  };
  const listen = (port: number, pair: { certPem: string; keyPem: string }) =>
    Deno.serve({
      hostname: "127.0.0.1",
      port,
      reusePort: true,
      cert: pair.certPem,
      key: pair.keyPem,
      onListen() {},
    }, handler);
  let server = listen(0, pki.serving);
  const url = `https://127.0.0.1:${server.addr.port}/`;
  let stop = false;
  let ok = 0;
  const failures = new Map<string, number>();
  const worker = async (fresh: boolean) => {
    const shared = fresh ? undefined : Deno.createHttpClient({ caCerts: [pki.ca.certPem] });
    while (!stop) {
      const client = shared ??
        Deno.createHttpClient({ caCerts: [pki.ca.certPem], poolMaxIdlePerHost: 0 });
      try {
        const response = await fetch(url, { method: "POST", client, body: "{}" });
        if (response.status === 200 && await response.text() === "ok") ok++;
        else {failures.set(
            `HTTP ${response.status}`,
            (failures.get(`HTTP ${response.status}`) ?? 0) + 1,
          );}
      } catch (error) {
        const cause = String((error as Error).cause ?? error).replace(/https:\/\/[^)]*/, url);
        const key = `${fresh ? "new" : "kept-alive"} connection: ${cause}`;
        failures.set(key, (failures.get(key) ?? 0) + 1);
      } finally {
        if (shared === undefined) client.close();
      }
    }
    shared?.close();
  };
  const workers = [true, true, true, true, false, false, false, false].map(worker);
  for (let i = 0; i < count; i++) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    const next = listen(server.addr.port, await issueServing(pki.ca));
    const old = server;
    server = next;
    await old.shutdown();
  }
  await new Promise((resolve) => setTimeout(resolve, 250));
  stop = true;
  await Promise.all(workers);
  await server.shutdown();
  return {
    swaps: count,
    ok,
    failed: [...failures.values()].reduce((a, b) => a + b, 0),
    failures: Object.fromEntries(failures),
  };
}

/**
 * 3. Three stalled clients: when does the server close each, within `seconds` and then after
 * `shutdown()`; and does `shutdown()` finish within 5 s while they stay?
 */
async function stalls(seconds: number): Promise<Record<string, string>> {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {}, ...TLS },
    async (req) => {
      await req.arrayBuffer().catch(() => undefined);
      return new Response("ok");
    },
  );
  const clients: [string, string][] = [
    ["no request", ""],
    ["half the headers", "POST / HTTP/1.1\r\nHost: x\r\nContent-Le"],
    ["4 of 1,000 body bytes", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n0123"],
  ];
  const started = performance.now();
  const at = () => `${((performance.now() - started) / 1000).toFixed(1)} s`;
  const ended = new Map<string, string>();
  const conns: Deno.TlsConn[] = [];
  const watching: Promise<void>[] = [];
  for (const [name, bytes] of clients) {
    const conn = await Deno.connectTls({
      hostname: "127.0.0.1",
      port: server.addr.port,
      caCerts: [pki.ca.certPem],
    });
    await conn.handshake();
    if (bytes !== "") await conn.write(encoder.encode(bytes));
    conns.push(conn);
    watching.push((async () => {
      // Reads until the server closes; an answer (an error status) is noted on the way.
      for (let answered = false;;) {
        const read = await conn.read(new Uint8Array(4096)).catch(() => null);
        if (read === null) break;
        if (!answered) ended.set(`${name}: answered`, at());
        answered = true;
      }
      ended.set(name, at());
    })());
  }
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const results: Record<string, string> = {};
  for (const [name] of clients) {
    results[name] = ended.has(name)
      ? `closed by the server at ${ended.get(name)}`
      : `still open at ${seconds} s`;
  }
  const shutdownAt = at();
  const finished = server.shutdown().then(() => `finished at ${at()}`);
  const late = new Promise<string>((resolve) =>
    setTimeout(() => resolve(`not finished at ${at()}`), 5_000)
  );
  results[`shutdown() called at ${shutdownAt}`] = await Promise.race([finished, late]);
  for (const [name] of clients) {
    results[`${name}, after shutdown()`] = ended.has(name)
      ? `closed at ${ended.get(name)}${ended.has(`${name}: answered`) ? " (after an answer)" : ""}`
      : "still open";
  }
  for (const conn of conns) conn.close();
  await Promise.all(watching);
  results["once the clients closed, shutdown()"] = await finished;
  return results;
}

if (import.meta.main) {
  const seconds = Number(Deno.args[0] ?? 35);
  console.log(JSON.stringify({ deno: Deno.version.deno, bodies: await bodies() }, null, 1));
  console.log(JSON.stringify({ swaps: await swaps(20) }, null, 1));
  console.log(JSON.stringify({ stalls: await stalls(seconds) }, null, 1));
}

/**
 * The servers of the webhook benchmark, in a child process started with the image's V8 flags
 * (`webhook_bench.ts` starts it): the young generation size decides how often and how long V8
 * pauses the server, so the server is measured as the image runs it, not with the bench
 * process's defaults. It serves our node:https server and, for reference, the same handler on
 * `Deno.serve`, over lookups of `claims` bound claims; prints the two ports as one JSON line; and
 * when its stdin closes, shuts both down and prints what the node:https server counted.
 *
 * ```sh
 * deno run --allow-all --v8-flags=... bench/webhook_bench_server.ts '{"claims":5000,...}'
 * ```
 *
 * @module
 */
import { handleAdmission } from "../webhook/handler.ts";
import { WEBHOOK_PATHS, webhookForPath } from "../webhook/configurations.ts";
import type { AdmissionLookups } from "../webhook/lookups.ts";
import { startWebhookServer } from "../webhook/server.ts";
import { metricValue, StaticCertificateSource } from "../tests/webhook_fixtures.ts";
import { PrometheusRegistry } from "../lib/ops/metrics_registry.ts";
import { benchLookups } from "./webhook_bench_data.ts";

/** What the child is started with. */
export interface BenchServerOptions {
  /** Bound claims (and as many HostPorts) in the caches. */
  claims: number;
  /** PEM files of the serving certificate and its key. */
  certFile: string;
  /** See `certFile`. */
  keyFile: string;
}

/** The ports the child listens on (its first line of output). */
export interface BenchServerPorts {
  /** Our node:https server. */
  node: number;
  /** The `Deno.serve` reference. */
  denoServe: number;
}

/** What the node:https server counted (the child's last line of output), from its `/metrics`. */
export interface BenchServerCounts {
  /** Pod admission requests. */
  requests: number;
  /** Answered `allowed: false`. */
  denied: number;
  /** Answered with an HTTP error. */
  httpErrors: number;
}

const JSON_TYPE = { "content-type": "application/json" };

/** Serves the same handler on Deno.serve, for comparison only. */
function denoServeBaseline(
  cert: string,
  key: string,
  lookups: AdmissionLookups,
  signal: AbortSignal,
) {
  return Deno.serve(
    { hostname: "127.0.0.1", port: 0, cert, key, signal, onListen() {} },
    async (req) => {
      const id = webhookForPath(new URL(req.url).pathname) ?? "mutatePod"; // the bench sends pods
      const result = await handleAdmission(id, await req.json(), lookups);
      // A string or bytes body over about 400 bytes goes out as two TLS records in two sends on
      // a socket without TCP_NODELAY (Deno 2.9.6 sets it on plain accepted sockets, not on TLS
      // ones): the second waits for the client's delayed ACK, 40 ms. A Blob is written in one.
      return result.kind === "review"
        ? new Response(new Blob([JSON.stringify(result.review)]), { headers: JSON_TYPE })
        : new Response(result.message, { status: result.status });
    },
  );
}

async function serve(options: BenchServerOptions): Promise<void> {
  const cert = await Deno.readTextFile(options.certFile);
  const key = await Deno.readTextFile(options.keyFile);
  const lookups = benchLookups(options.claims);
  const stop = new AbortController();
  const metrics = new PrometheusRegistry();
  const server = await startWebhookServer({
    certificates: new StaticCertificateSource(cert, key),
    lookups,
    hostname: "127.0.0.1",
    port: 0,
    metrics,
  });
  const baseline = denoServeBaseline(cert, key, lookups, stop.signal);
  const ports: BenchServerPorts = { node: server.port, denoServe: baseline.addr.port };
  console.log(JSON.stringify(ports));
  for await (const _ of Deno.stdin.readable) {
    // Runs until the parent closes stdin.
  }
  stop.abort();
  await Promise.all([server.shutdown(), baseline.finished]);
  const counted = (name: string, labels: Record<string, string> = {}) =>
    metricValue(metrics, name, { webhook: WEBHOOK_PATHS.mutatePod, ...labels });
  const requests = await counted("controller_runtime_webhook_requests_total");
  const answered = await counted("controller_runtime_webhook_requests_total", { code: "200" });
  const counts: BenchServerCounts = {
    requests,
    denied: await counted("hostport_webhook_reviews_total", { result: "denied" }),
    httpErrors: requests - answered,
  };
  console.log(JSON.stringify(counts));
}

if (import.meta.main) await serve(JSON.parse(Deno.args[0] ?? "{}") as BenchServerOptions);

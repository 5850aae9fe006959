/**
 * The admission HTTPS server: the seven webhook paths of the original plus `/healthz`, on
 * node:https rather than `Deno.serve`, which cannot bound a client that stalls nor swap its
 * certificate in place (measured in bench/results/webhook.md, "Why not Deno.serve").
 *
 * `shutdown()` stops it gracefully: it stops accepting, closes at once every connection
 * with no request in flight, lets in-flight requests finish (their responses say
 * `Connection: close`), and closes what remains at `shutdownGraceMs`.
 *
 * @module
 */
import https from "node:https";
import { Buffer } from "node:buffer";
import type { IncomingMessage, ServerResponse } from "node:http";
import { once } from "node:events";
import type { AddressInfo, Socket } from "node:net";
import type { AdmissionLookups, AdmissionOptions } from "./lookups.ts";
import type { Logger, MetricsRegistry } from "../lib/ops/contracts.ts";
import { createLogger } from "../lib/ops/logger.ts";
import { DEFAULT_BUCKETS, PrometheusRegistry } from "../lib/ops/metrics_registry.ts";
import { errorMessage } from "../lib/api/mod.ts";
import { handleAdmission } from "./handler.ts";
import { webhookForPath, type WebhookId } from "./configurations.ts";
import type { CertificateSource } from "./tls_source.ts";

/** Default of {@linkcode WebhookServerOptions.shutdownGraceMs}. */
export const DEFAULT_SHUTDOWN_GRACE_MS = 10_000;

/**
 * The operator's admission options. A pod naming a claim on its way to a port waits for it: 10
 * more lookups 250 ms apart, or `templateWaitMs` (`--claim-template-wait`, rounded up to whole
 * rounds) for a claim the pod's template makes; well inside the configurations' 10 s timeout.
 */
export function admissionOptionsWithTemplateWait(templateWaitMs = 6_000): AdmissionOptions {
  const intervalMs = 250;
  return {
    random: Math.random,
    waitForPort: {
      attempts: 10,
      templateAttempts: Math.ceil(templateWaitMs / intervalMs),
      intervalMs,
      delay: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    },
  };
}

/** Options of {@linkcode startWebhookServer}. */
export interface WebhookServerOptions {
  /** The serving certificate; started already (`current()` holds a pair). */
  certificates: CertificateSource;
  /** Read-only lookups for the admission logic. */
  lookups: AdmissionLookups;
  /** Options passed to `handleAdmission`; default `admissionOptionsWithTemplateWait()`. */
  admission?: AdmissionOptions;
  /** Address to bind; default `0.0.0.0` (use `127.0.0.1` outside a cluster). */
  hostname?: string;
  /** Port; default 9443 (the original's, controller-runtime's default), `0` for any free port. */
  port?: number;
  /** A TLS handshake must finish within this; default 10 s. */
  handshakeTimeoutMs?: number;
  /** The request headers must arrive within this; default 10 s. */
  headersTimeoutMs?: number;
  /** The whole request must arrive within this; default 30 s (API server timeouts are <= 30 s). */
  requestTimeoutMs?: number;
  /**
   * On shutdown, connections still open after this are closed; default 10 s, the webhook
   * configurations' timeout (the API server stops waiting for an answer by then). Keep it below
   * the process's graceful-shutdown timeout.
   */
  shutdownGraceMs?: number;
  /** Structured logs; request logs are written at `debug`. Default: silent. */
  logger?: Logger;
  /** Where the request counters and latencies are recorded (`/metrics`). Default: nowhere. */
  metrics?: MetricsRegistry;
}

/** A running admission server. */
export interface WebhookServer extends AsyncDisposable {
  /** The bound port (useful with `port: 0`). */
  readonly port: number;
  /** Shuts down gracefully; resolves once the server has shut down and every connection is closed. */
  shutdown(): Promise<void>;
}

/**
 * Starts the admission server and resolves once it listens.
 *
 * @throws {Error} when the certificate source has no pair yet, or the port cannot be bound
 */
export async function startWebhookServer(options: WebhookServerOptions): Promise<WebhookServer> {
  const pair = options.certificates.current();
  if (pair === undefined) {
    throw new Error(
      "Cannot start the webhook server: the certificate source has no certificate yet",
    );
  }
  const context: RequestContext = {
    lookups: options.lookups,
    admission: options.admission ?? admissionOptionsWithTemplateWait(),
    certificates: options.certificates,
    metrics: webhookMetrics(options.metrics ?? new PrometheusRegistry()),
    logger: options.logger ?? createLogger({ write: () => {} }),
    closing: false,
  };
  const { metrics, logger } = context;
  const server = https.createServer({
    cert: pair.certPem,
    key: pair.keyPem,
    handshakeTimeout: options.handshakeTimeoutMs ?? 10_000,
    headersTimeout: options.headersTimeoutMs ?? 10_000,
    requestTimeout: options.requestTimeoutMs ?? 30_000,
    keepAliveTimeout: 120_000, // an idle keep-alive connection: above Go's 90 s
    connectionsCheckingInterval: Math.min(1_000, options.headersTimeoutMs ?? 1_000),
    noDelay: true,
  }, (req, res) => void serveOne(req, res, context));
  const closeUnused = trackUnusedConnections(server);
  server.on("tlsClientError", (error: Error, socket: Socket) => {
    metrics.tlsErrors.inc();
    logger.debug("TLS handshake failed", { error: error.message });
    socket.destroy();
  });
  const unsubscribe = options.certificates.subscribe((next) => {
    server.setSecureContext({ cert: next.certPem, key: next.keyPem });
    metrics.certificateReloads.inc();
    logger.info("Serving a new certificate", { notAfter: next.notAfter.toISOString() });
  });
  const closed = new Promise<void>((resolve) => server.once("close", () => resolve()));
  const hostname = options.hostname ?? "0.0.0.0";
  await once(server.listen(options.port ?? 9443, hostname), "listening").catch((error) => {
    unsubscribe();
    throw error;
  });
  const port = (server.address() as AddressInfo).port;
  logger.info("Admission webhook server listening", { hostname, port });

  let shutdownPromise: Promise<void> | undefined;
  const shutdown = (): Promise<void> =>
    shutdownPromise ??= (async () => {
      context.closing = true;
      unsubscribe();
      server.close(); // stop accepting
      server.closeIdleConnections(); // keep-alive connections between requests
      closeUnused(); // handshakes under way, and connections with no request yet
      const grace = setTimeout(() => {
        server.closeAllConnections();
        closeUnused();
      }, options.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS);
      await closed;
      clearTimeout(grace);
      logger.info("Admission webhook server stopped");
    })();
  return {
    port,
    shutdown,
    [Symbol.asyncDispose]: shutdown,
  };
}

/**
 * Connections node's `closeIdleConnections` misses: a handshake under way, and a TLS connection
 * that has sent no request yet (a client's pre-opened or pooled one); returns what closes them.
 * Once a connection has sent a request, node tracks it (idle between requests, or active).
 */
function trackUnusedConnections(server: https.Server): () => void {
  const handshaking = new Map<string, Socket>();
  const unused = new Set<Socket>();
  const key = (socket: Socket) => `${socket.remoteAddress}:${socket.remotePort}`;
  server.on("connection", (socket: Socket) => {
    const id = key(socket);
    handshaking.set(id, socket);
    socket.once("close", () => {
      if (handshaking.get(id) === socket) handshaking.delete(id);
    });
  });
  server.on("secureConnection", (socket: Socket) => {
    handshaking.delete(key(socket));
    unused.add(socket);
    socket.once("close", () => unused.delete(socket));
  });
  server.on("request", (req: IncomingMessage) => unused.delete(req.socket));
  return () => {
    for (const socket of [...handshaking.values(), ...unused]) socket.destroy();
  };
}

/** What answering a request needs: the server's settings, metrics and logger, and its state. */
interface RequestContext {
  lookups: AdmissionLookups;
  admission: AdmissionOptions;
  /** Whose health `/healthz` reports. */
  certificates: CertificateSource;
  metrics: ReturnType<typeof webhookMetrics>;
  logger: Logger;
  /** Set once shutdown began: answers then close their connection. */
  closing: boolean;
}

/** How a request was answered, for metrics and logs. */
interface Answer {
  status: number;
  /** The AdmissionReview's uid and verdict, when one was answered. */
  uid?: string;
  allowed?: boolean;
  /** The plain-text answer, when one was sent. */
  message?: string;
}

/**
 * Status recorded (never sent) when the client goes away before its body arrived, as nginx's 499:
 * not a server error, so the error counter stays meaningful.
 */
const CLIENT_CLOSED = 499;

async function serveOne(
  req: IncomingMessage,
  res: ServerResponse,
  context: RequestContext,
): Promise<void> {
  const { metrics, logger } = context;
  const started = performance.now();
  const [path = "/"] = (req.url ?? "/").split("?", 1);
  const id = webhookForPath(path);
  const webhook = id !== undefined || path === "/healthz" ? path : "other";
  metrics.begin(webhook);
  const answer = await answerRequest(req, res, path, id, context);
  const seconds = (performance.now() - started) / 1000;
  metrics.finish(webhook, answer, seconds);
  logger.debug("Admission request", {
    method: req.method,
    path,
    status: answer.status,
    uid: answer.uid,
    allowed: answer.allowed,
    message: answer.message,
    durationMs: Math.round(seconds * 1e6) / 1e3,
    remote: req.socket.remoteAddress,
  });
}

const UTF8 = new TextDecoder("utf-8", { fatal: true });

/** Answers one request; never throws (a bug is answered with 500). */
async function answerRequest(
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  id: WebhookId | undefined,
  context: RequestContext,
): Promise<Answer> {
  const reply = (status: number, message: string, headers?: Record<string, string>): Answer => {
    send(res, context, status, `${message}\n`, headers);
    return { status, message };
  };
  try {
    if (path === "/healthz") {
      if (req.method !== "GET" && req.method !== "HEAD") {
        return reply(405, "Method not allowed", { allow: "GET, HEAD" });
      }
      if (context.certificates.healthy()) return reply(200, "ok");
      return reply(503, "serving certificate source is unhealthy");
    }
    if (id === undefined) return reply(404, "Not found");
    if (req.method !== "POST") return reply(405, "Method not allowed", { allow: "POST" });
    if (req.headers["content-type"]?.split(";")[0]?.trim().toLowerCase() !== "application/json") {
      return reply(415, "Content-Type must be application/json");
    }
    const body = await readBody(req);
    if (body.status === CLIENT_CLOSED) {
      res.destroy();
      return body;
    }
    // The rest of an oversized body is not read, so the connection cannot be reused.
    if (body.status === 413) return reply(413, body.message, { connection: "close" });
    let review: unknown;
    try {
      review = JSON.parse(UTF8.decode(body.bytes));
    } catch {
      return reply(400, "Request body is not valid JSON");
    }
    const result = await handleAdmission(id, review, context.lookups, context.admission);
    if (result.kind === "http") return reply(result.status, result.message);
    const { response } = result.review;
    send(res, context, 200, JSON.stringify(result.review), { "content-type": "application/json" });
    return { status: 200, uid: response.uid, allowed: response.allowed };
  } catch (error) {
    return reply(500, `Internal error: ${errorMessage(error)}`);
  }
}

function send(
  res: ServerResponse,
  context: RequestContext,
  status: number,
  body: string,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, {
    "content-type": "text/plain; charset=utf-8",
    "content-length": String(Buffer.byteLength(body)),
    ...headers,
    ...context.closing && { connection: "close" },
  });
  res.end(body);
}

/** Reads the body, refusing more than 3 MiB (by Content-Length or as it streams in). */
function readBody(req: IncomingMessage): Promise<
  | { status: 200; bytes: Uint8Array }
  | { status: 413; message: string }
  | { status: typeof CLIENT_CLOSED; message: string }
> {
  const maxBytes = 3 * 1024 * 1024; // the API server's own request limit
  const tooLarge = {
    status: 413,
    message: `Request body is larger than ${maxBytes} bytes`,
  } as const;
  if (Number(req.headers["content-length"] ?? "0") > maxBytes) return Promise.resolve(tooLarge);
  return new Promise((resolve) => {
    const chunks: Uint8Array[] = [];
    let size = 0;
    req.on("data", (chunk: Uint8Array) => {
      chunks.push(chunk);
      size += chunk.byteLength;
      if (size <= maxBytes) return;
      req.removeAllListeners("data");
      req.pause();
      resolve(tooLarge);
    });
    // A webhook request is one chunk, as a rule: taken as it is, not copied.
    req.on("end", () => {
      resolve({ status: 200, bytes: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks) });
    });
    const gone = () => resolve({ status: CLIENT_CLOSED, message: "Client closed the request" });
    req.on("error", gone);
    req.on("aborted", gone);
  });
}

/**
 * Upper bounds (seconds) of the latency histogram buckets: Prometheus' default buckets with three
 * sub-millisecond ones in front (at modest load an admission answer takes under a millisecond,
 * bench/results/webhook.md).
 */
const LATENCY_BUCKETS_SECONDS: readonly number[] = [0.0005, 0.001, 0.0025, ...DEFAULT_BUCKETS];

/**
 * The server's metrics, recorded straight into the process's registry under controller-runtime's
 * names (`controller_runtime_webhook_*`, so existing dashboards work: requests by webhook and HTTP
 * code, requests in flight, a latency histogram), plus allowed/denied answers and TLS events.
 */
function webhookMetrics(registry: MetricsRegistry) {
  const requests = registry.counter(
    "controller_runtime_webhook_requests_total",
    "Total number of admission requests by HTTP status code",
    ["webhook", "code"],
  );
  const inFlight = registry.gauge(
    "controller_runtime_webhook_requests_in_flight",
    "Current number of admission requests being served",
    ["webhook"],
  );
  const latency = registry.histogram(
    "controller_runtime_webhook_latency_seconds",
    "Histogram of the latency of processing admission requests",
    ["webhook"],
    LATENCY_BUCKETS_SECONDS,
  );
  const reviews = registry.counter(
    "hostport_webhook_reviews_total",
    "AdmissionReviews answered, by result (allowed or denied)",
    ["webhook", "result"],
  );
  const seen = new Set<string>();
  return {
    tlsErrors: registry.counter("hostport_webhook_tls_errors_total", "TLS handshakes that failed"),
    certificateReloads: registry.counter(
      "hostport_webhook_certificate_reloads_total",
      "Serving certificates swapped in after the first",
    ),
    /** Counts a request as in flight on `webhook` (a webhook path, `/healthz` or `other`). */
    begin(webhook: string): void {
      if (!seen.has(webhook)) {
        // Both results are exposed from the first request on, as zero until counted.
        seen.add(webhook);
        reviews.inc({ webhook, result: "allowed" }, 0);
        reviews.inc({ webhook, result: "denied" }, 0);
      }
      inFlight.inc({ webhook }, 1);
    },
    /** Counts the end of a request begun on `webhook`; a client that left is recorded as 499. */
    finish(webhook: string, answer: Answer, seconds: number): void {
      inFlight.inc({ webhook }, -1);
      requests.inc({ webhook, code: String(answer.status) });
      if (answer.allowed !== undefined) {
        reviews.inc({ webhook, result: answer.allowed ? "allowed" : "denied" });
      }
      latency.observe({ webhook }, seconds);
    },
  };
}

/**
 * The admission HTTPS server: the seven webhook paths of the original plus `/healthz`, on
 * node:https. `Deno.serve` is measured beside it in `bench/results/webhook.md`: with the real
 * handler both serve about 10,000 admissions/s here, and their tail latencies are within this
 * shared machine's noise. What decides is what `Deno.serve` cannot do: bound a client that
 * stalls before or inside its headers (measured: such a connection stays open for good and
 * blocks a graceful shutdown), and swap its certificate in place (only a `reusePort` listener
 * swap behind `--unstable-net`, whose closing listener can reset connections still in its accept
 * queue). node:https swaps the certificate in place (`setSecureContext`) and enforces handshake,
 * header, request and idle timeouts.
 *
 * It runs in the operator process beside the controllers. Aborting `signal` shuts it down
 * gracefully: it stops accepting, closes at once every connection with no request in flight
 * (idle keep-alive connections, connections that finished their TLS handshake but never sent a
 * request, and handshakes still under way: node's `closeIdleConnections` misses the last two),
 * lets in-flight requests finish (their responses say `Connection: close`), and closes what
 * remains at `shutdownGraceMs`.
 *
 * @module
 */
import https from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { AdmissionLookups, AdmissionOptions } from "./handler.ts";
import type { Logger, MetricsRegistry } from "../lib/ops/contracts.ts";
import { createLogger } from "../lib/ops/logger.ts";
import { answerRequest, DEFAULT_MAX_BODY_BYTES, type RequestContext } from "./server_request.ts";
import { WebhookStats, type WebhookStatsSnapshot } from "./server_stats.ts";
import { webhookForPath } from "./paths.ts";
import type { CertificateSource, ServingPair } from "./tls_source.ts";

/** Default of {@linkcode WebhookServerOptions.shutdownGraceMs}. */
export const DEFAULT_SHUTDOWN_GRACE_MS = 10_000;

/** The original's webhook port (controller-runtime's default). */
export const DEFAULT_WEBHOOK_PORT = 9443;

/**
 * Bounded waiting for a port in pod admission: 10 more lookups 250 ms apart (24, 6 s, for a pod
 * naming a claim template: its claim is new), well inside the webhook configurations' 10 s
 * timeout.
 */
export const DEFAULT_ADMISSION_OPTIONS: AdmissionOptions = {
  random: Math.random,
  waitForPort: {
    attempts: 10,
    templateAttempts: 24,
    intervalMs: 250,
    delay: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  },
};

/**
 * The default admission options with a per-pod claim wait of `templateWaitMs` (rounded up to
 * whole lookup rounds) when given.
 *
 * @param templateWaitMs `--claim-template-wait`, or undefined for the default (6 s)
 */
export function admissionOptionsWithTemplateWait(templateWaitMs?: number): AdmissionOptions {
  const wait = DEFAULT_ADMISSION_OPTIONS.waitForPort;
  if (wait === undefined || templateWaitMs === undefined) return DEFAULT_ADMISSION_OPTIONS;
  const templateAttempts = Math.ceil(templateWaitMs / wait.intervalMs);
  return { ...DEFAULT_ADMISSION_OPTIONS, waitForPort: { ...wait, templateAttempts } };
}

/** Options of {@linkcode startWebhookServer}. */
export interface WebhookServerOptions {
  /** The serving certificate; started already (`current()` holds a pair). */
  certificates: CertificateSource;
  /** Read-only lookups for the admission logic. */
  lookups: AdmissionLookups;
  /**
   * Options passed to `handleAdmission`; default {@linkcode DEFAULT_ADMISSION_OPTIONS} (a pod
   * whose claim is a moment from its port waits up to 2.5 s instead of being refused).
   */
  admission?: AdmissionOptions;
  /** Address to bind; default `0.0.0.0` (use `127.0.0.1` outside a cluster). */
  hostname?: string;
  /** Port; default 9443, `0` for any free port. */
  port?: number;
  /** Largest request body in bytes; default 3 MiB, like the API server. */
  maxBodyBytes?: number;
  /** A TLS handshake must finish within this; default 10 s. */
  handshakeTimeoutMs?: number;
  /** The request headers must arrive within this; default 10 s. */
  headersTimeoutMs?: number;
  /** The whole request must arrive within this; default 30 s (API server timeouts are <= 30 s). */
  requestTimeoutMs?: number;
  /** An idle keep-alive connection is closed after this; default 120 s (above Go's 90 s). */
  idleTimeoutMs?: number;
  /**
   * On shutdown, connections still open after this are closed; default 10 s, the webhook
   * configurations' timeout (the API server stops waiting for an answer by then). Keep it below
   * the process's graceful-shutdown timeout.
   */
  shutdownGraceMs?: number;
  /** Aborting it shuts the server down gracefully. */
  signal?: AbortSignal;
  /** Structured logs; request logs are written at `debug`. Default: silent. */
  logger?: Logger;
  /** Where the request counters and latencies are recorded (`/metrics`). Default: nowhere. */
  metrics?: MetricsRegistry;
}

/** A running admission server. */
export interface WebhookServer extends AsyncDisposable {
  /** The bound address. */
  readonly hostname: string;
  /** The bound port (useful with `port: 0`). */
  readonly port: number;
  /** Counters for the metrics endpoint. */
  stats(): WebhookStatsSnapshot;
  /** Resolves once the server has shut down and every connection is closed. */
  readonly finished: Promise<void>;
  /** Shuts down gracefully (same as aborting `signal`); resolves like `finished`. */
  shutdown(): Promise<void>;
}

function requirePair(source: CertificateSource): ServingPair {
  const pair = source.current();
  if (pair === undefined) {
    throw new Error(
      "Cannot start the webhook server: the certificate source has no certificate yet",
    );
  }
  return pair;
}

function listen(server: https.Server, port: number, hostname: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, hostname, () => {
      server.off("error", reject);
      resolve((server.address() as { port: number }).port);
    });
  });
}

/**
 * Starts the admission server and resolves once it listens.
 *
 * @throws {Error} when the certificate source has no pair yet, or the port cannot be bound
 */
export async function startWebhookServer(options: WebhookServerOptions): Promise<WebhookServer> {
  const pair = requirePair(options.certificates);
  const logger = options.logger ?? createLogger({ write: () => {} });
  const stats = new WebhookStats(options.metrics);
  let closing = false;
  const context: RequestContext = {
    lookups: options.lookups,
    admission: options.admission ?? DEFAULT_ADMISSION_OPTIONS,
    maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    healthy: () => options.certificates.healthy(),
    closing: () => closing,
  };
  const server = https.createServer({
    cert: pair.certPem,
    key: pair.keyPem,
    handshakeTimeout: options.handshakeTimeoutMs ?? 10_000,
    headersTimeout: options.headersTimeoutMs ?? 10_000,
    requestTimeout: options.requestTimeoutMs ?? 30_000,
    keepAliveTimeout: options.idleTimeoutMs ?? 120_000,
    connectionsCheckingInterval: Math.min(1_000, options.headersTimeoutMs ?? 1_000),
    noDelay: true,
  }, (req, res) => void serveOne(req, res, context, stats, logger));
  const connections = trackUnusedConnections(server);
  server.on("tlsClientError", (error: Error, socket: Socket) => {
    stats.tlsError();
    logger.debug("TLS handshake failed", { error: error.message });
    socket.destroy();
  });
  const unsubscribe = options.certificates.subscribe((next) => {
    server.setSecureContext({ cert: next.certPem, key: next.keyPem });
    stats.certificateReload();
    logger.info("Serving a new certificate", { notAfter: next.notAfter.toISOString() });
  });
  const closed = new Promise<void>((resolve) => server.once("close", () => resolve()));
  const hostname = options.hostname ?? "0.0.0.0";
  let port: number;
  try {
    port = await listen(server, options.port ?? DEFAULT_WEBHOOK_PORT, hostname);
  } catch (error) {
    unsubscribe();
    throw error;
  }
  logger.info("Admission webhook server listening", { hostname, port });

  let shutdownPromise: Promise<void> | undefined;
  const shutdown = (): Promise<void> => {
    shutdownPromise ??= (async () => {
      closing = true;
      unsubscribe();
      server.close(); // stop accepting
      server.closeIdleConnections(); // keep-alive connections between requests
      connections.closeUnused(); // handshakes under way, and connections with no request yet
      const grace = setTimeout(() => {
        server.closeAllConnections();
        connections.closeUnused();
      }, options.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS);
      await closed;
      clearTimeout(grace);
      logger.info("Admission webhook server stopped");
    })();
    return shutdownPromise;
  };
  options.signal?.addEventListener("abort", () => void shutdown(), { once: true });
  if (options.signal?.aborted) void shutdown();

  return {
    hostname,
    port,
    stats: () => stats.snapshot(),
    finished: closed,
    shutdown,
    [Symbol.asyncDispose]: shutdown,
  };
}

/**
 * Connections node's `closeIdleConnections` does not see: a TCP connection whose TLS handshake
 * is still under way, and a TLS connection that has not sent a request yet (a client's
 * pre-opened or pooled connection). Both are closed at once on shutdown; once a connection
 * has sent a request, node tracks it (idle between requests, or active).
 */
function trackUnusedConnections(server: https.Server) {
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
  const destroy = (sockets: Iterable<Socket>) => {
    for (const socket of [...sockets]) socket.destroy();
  };
  return {
    closeUnused: () => {
      destroy(handshaking.values());
      destroy(unused);
    },
  };
}

async function serveOne(
  req: IncomingMessage,
  res: ServerResponse,
  context: RequestContext,
  stats: WebhookStats,
  logger: Logger,
): Promise<void> {
  const started = performance.now();
  const path = (req.url ?? "/").split("?")[0]!;
  const statsPath = webhookForPath(path) !== undefined || path === "/healthz" ? path : "other";
  stats.begin(statsPath);
  const answer = await answerRequest(req, res, path, context);
  const seconds = (performance.now() - started) / 1000;
  stats.finish(statsPath, { ...answer, seconds });
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

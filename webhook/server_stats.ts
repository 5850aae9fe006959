/**
 * Counters of the admission server, recorded straight into the metrics registry under
 * controller-runtime's names (`controller_runtime_webhook_*`, so existing dashboards work:
 * requests by webhook and HTTP code, requests in flight, a latency histogram), plus
 * allowed/denied answers and TLS events; `snapshot()` is the same facts in memory for tests and
 * benchmarks.
 *
 * @module
 */
import type { Counter, Gauge, Histogram, MetricsRegistry } from "../lib/ops/contracts.ts";
import { DEFAULT_BUCKETS } from "../lib/ops/metrics_registry.ts";

/**
 * Upper bounds (seconds) of the latency histogram buckets; `+Inf` is implied: Prometheus' default
 * buckets with three sub-millisecond ones in front (at modest load an admission answer takes under
 * a millisecond, bench/results/webhook.md).
 */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = [
  0.0005,
  0.001,
  0.0025,
  ...DEFAULT_BUCKETS,
];

/** A cumulative latency histogram, Prometheus style. */
export interface LatencyHistogram {
  /** `counts[i]` = observations at or below `LATENCY_BUCKETS_SECONDS[i]` (cumulative). */
  readonly counts: readonly number[];
  /** Number of observations (the `+Inf` bucket). */
  readonly count: number;
  /** Sum of the observations, in seconds. */
  readonly sumSeconds: number;
}

/** What the server counted for one path (a webhook path, `/healthz`, or `other`). */
export interface PathStats {
  /** Requests answered, by HTTP status code. */
  readonly requestsByCode: Readonly<Record<number, number>>;
  /** Requests being handled right now. */
  readonly inFlight: number;
  /** AdmissionReviews answered with `allowed: true`. */
  readonly allowed: number;
  /** AdmissionReviews answered with `allowed: false`. */
  readonly denied: number;
  /** HTTP errors (bad requests, timeouts) and reviews that report a server failure (code 500). */
  readonly errors: number;
  /** Time from the request's arrival to the end of the answer. */
  readonly latency: LatencyHistogram;
}

/** A consistent copy of every counter. */
export interface WebhookStatsSnapshot {
  /** Per path. */
  readonly paths: Readonly<Record<string, PathStats>>;
  /** Requests on every path together. */
  readonly requests: number;
  /** Denied AdmissionReviews on every path together. */
  readonly denied: number;
  /** Errors on every path together. */
  readonly errors: number;
  /** TLS handshakes that failed (bad client, timeout, no shared cipher). */
  readonly tlsErrors: number;
  /** Serving certificates swapped in after the first. */
  readonly certificateReloads: number;
}

interface MutablePathStats {
  requestsByCode: Record<number, number>;
  inFlight: number;
  allowed: number;
  denied: number;
  errors: number;
  counts: number[];
  count: number;
  sumSeconds: number;
}

/** How a request ended, for {@linkcode WebhookStats.finish}. */
export interface RequestOutcome {
  /** The HTTP status sent. */
  status: number;
  /** `allowed` of the AdmissionReview sent, if one was. */
  allowed?: boolean | undefined;
  /** The answer reports a failure of the server itself (e.g. a review with code 500). */
  error?: boolean;
  /** Seconds from arrival to the end of the answer. */
  seconds: number;
}

interface WebhookMetrics {
  requests: Counter;
  inFlight: Gauge;
  latency: Histogram;
  reviews: Counter;
  tlsErrors: Counter;
  certificateReloads: Counter;
}

function webhookMetrics(registry: MetricsRegistry): WebhookMetrics {
  return {
    requests: registry.counter(
      "controller_runtime_webhook_requests_total",
      "Total number of admission requests by HTTP status code",
      ["webhook", "code"],
    ),
    inFlight: registry.gauge(
      "controller_runtime_webhook_requests_in_flight",
      "Current number of admission requests being served",
      ["webhook"],
    ),
    latency: registry.histogram(
      "controller_runtime_webhook_latency_seconds",
      "Histogram of the latency of processing admission requests",
      ["webhook"],
      LATENCY_BUCKETS_SECONDS,
    ),
    reviews: registry.counter(
      "hostport_webhook_reviews_total",
      "AdmissionReviews answered, by result (allowed or denied)",
      ["webhook", "result"],
    ),
    tlsErrors: registry.counter("hostport_webhook_tls_errors_total", "TLS handshakes that failed"),
    certificateReloads: registry.counter(
      "hostport_webhook_certificate_reloads_total",
      "Serving certificates swapped in after the first",
    ),
  };
}

/** The server's counters. Cheap enough to update on every request. */
export class WebhookStats {
  #paths = new Map<string, MutablePathStats>();
  #metrics: WebhookMetrics | undefined;
  #tlsErrors = 0;
  #certificateReloads = 0;

  /** Records into `registry` too, when given. */
  constructor(registry?: MetricsRegistry) {
    this.#metrics = registry === undefined ? undefined : webhookMetrics(registry);
  }

  /** Counts a failed TLS handshake. */
  tlsError(): void {
    this.#tlsErrors++;
    this.#metrics?.tlsErrors.inc();
  }

  /** Counts a serving certificate swapped in after the first. */
  certificateReload(): void {
    this.#certificateReloads++;
    this.#metrics?.certificateReloads.inc();
  }

  #path(path: string): MutablePathStats {
    let stats = this.#paths.get(path);
    if (stats === undefined) {
      // Both results are exposed from the first request on, as zero until counted.
      this.#metrics?.reviews.inc({ webhook: path, result: "allowed" }, 0);
      this.#metrics?.reviews.inc({ webhook: path, result: "denied" }, 0);
      stats = {
        requestsByCode: {},
        inFlight: 0,
        allowed: 0,
        denied: 0,
        errors: 0,
        counts: LATENCY_BUCKETS_SECONDS.map(() => 0),
        count: 0,
        sumSeconds: 0,
      };
      this.#paths.set(path, stats);
    }
    return stats;
  }

  /** Counts a request as in flight on `path`. */
  begin(path: string): void {
    const stats = this.#path(path);
    stats.inFlight++;
    this.#metrics?.inFlight.set({ webhook: path }, stats.inFlight);
  }

  /** Counts the end of a request begun on `path`. */
  finish(path: string, outcome: RequestOutcome): void {
    const stats = this.#path(path);
    stats.inFlight--;
    stats.requestsByCode[outcome.status] = (stats.requestsByCode[outcome.status] ?? 0) + 1;
    if (outcome.allowed === true) stats.allowed++;
    if (outcome.allowed === false) stats.denied++;
    const httpError = outcome.status >= 400 && outcome.status !== 499; // 499: the client left
    if (outcome.error || (outcome.allowed === undefined && httpError)) stats.errors++;
    stats.count++;
    stats.sumSeconds += outcome.seconds;
    for (let i = 0; i < LATENCY_BUCKETS_SECONDS.length; i++) {
      if (outcome.seconds <= LATENCY_BUCKETS_SECONDS[i]!) stats.counts[i]!++;
    }
    const metrics = this.#metrics;
    if (metrics === undefined) return;
    const webhook = { webhook: path };
    metrics.inFlight.set(webhook, stats.inFlight);
    metrics.requests.inc({ webhook: path, code: String(outcome.status) });
    if (outcome.allowed !== undefined) {
      metrics.reviews.inc({ webhook: path, result: outcome.allowed ? "allowed" : "denied" });
    }
    metrics.latency.observe(webhook, outcome.seconds);
  }

  /** A copy of every counter. */
  snapshot(): WebhookStatsSnapshot {
    const paths: Record<string, PathStats> = {};
    let requests = 0;
    let denied = 0;
    let errors = 0;
    for (const [path, s] of this.#paths) {
      paths[path] = {
        requestsByCode: { ...s.requestsByCode },
        inFlight: s.inFlight,
        allowed: s.allowed,
        denied: s.denied,
        errors: s.errors,
        latency: { counts: [...s.counts], count: s.count, sumSeconds: s.sumSeconds },
      };
      requests += s.count;
      denied += s.denied;
      errors += s.errors;
    }
    return {
      paths,
      requests,
      denied,
      errors,
      tlsErrors: this.#tlsErrors,
      certificateReloads: this.#certificateReloads,
    };
  }
}

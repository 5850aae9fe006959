/**
 * The admission server's counters as Prometheus families, under controller-runtime's names
 * (`controller_runtime_webhook_*`) so existing dashboards work, plus allowed/denied answers and
 * TLS events. Computed from a stats snapshot at each scrape.
 *
 * @module
 */
import { type Family, histogramSamples, type Sample } from "./exposition.ts";

/** The shape of the webhook server's `stats()` snapshot that is read here. */
export interface WebhookStatsView {
  /** Per path (a webhook path, `/healthz` or `other`). */
  readonly paths: Readonly<
    Record<string, {
      readonly requestsByCode: Readonly<Record<number, number>>;
      readonly inFlight: number;
      readonly allowed: number;
      readonly denied: number;
      readonly latency: {
        readonly counts: readonly number[];
        readonly count: number;
        readonly sumSeconds: number;
      };
    }>
  >;
  /** Failed TLS handshakes. */
  readonly tlsErrors: number;
  /** Certificates swapped in after the first. */
  readonly certificateReloads: number;
}

/**
 * Builds the families from `stats`; `buckets` are the upper bounds behind
 * `latency.counts` (cumulative counts).
 */
export function webhookFamilies(stats: WebhookStatsView, buckets: readonly number[]): Family[] {
  const requests: Sample[] = [];
  const inFlight: Sample[] = [];
  const reviews: Sample[] = [];
  const latency: Sample[] = [];
  for (const [webhook, path] of Object.entries(stats.paths).sort(([a], [b]) => a < b ? -1 : 1)) {
    const hook = ["webhook", webhook] as const;
    for (const [code, count] of Object.entries(path.requestsByCode)) {
      requests.push({ suffix: "", labels: [hook, ["code", code]], value: count });
    }
    inFlight.push({ suffix: "", labels: [hook], value: path.inFlight });
    reviews.push({ suffix: "", labels: [hook, ["result", "allowed"]], value: path.allowed });
    reviews.push({ suffix: "", labels: [hook, ["result", "denied"]], value: path.denied });
    latency.push(...histogramSamples([hook], {
      bounds: buckets,
      cumulative: path.latency.counts,
      count: path.latency.count,
      sum: path.latency.sumSeconds,
    }));
  }
  return [
    {
      name: "controller_runtime_webhook_requests_total",
      help: "Total number of admission requests by HTTP status code",
      type: "counter",
      samples: requests,
    },
    {
      name: "controller_runtime_webhook_requests_in_flight",
      help: "Current number of admission requests being served",
      type: "gauge",
      samples: inFlight,
    },
    {
      name: "controller_runtime_webhook_latency_seconds",
      help: "Histogram of the latency of processing admission requests",
      type: "histogram",
      samples: latency,
    },
    {
      name: "hostport_webhook_reviews_total",
      help: "AdmissionReviews answered, by result (allowed or denied)",
      type: "counter",
      samples: reviews,
    },
    {
      name: "hostport_webhook_tls_errors_total",
      help: "TLS handshakes that failed",
      type: "counter",
      samples: [{ suffix: "", labels: [], value: stats.tlsErrors }],
    },
    {
      name: "hostport_webhook_certificate_reloads_total",
      help: "Serving certificates swapped in after the first",
      type: "counter",
      samples: [{ suffix: "", labels: [], value: stats.certificateReloads }],
    },
  ];
}

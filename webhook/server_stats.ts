/**
 * Counters of the admission server, kept in memory for the metrics endpoint to read (the same
 * facts controller-runtime exports: requests by webhook and HTTP code, requests in flight, and a
 * latency histogram), plus allowed/denied answers and TLS events.
 *
 * @module
 */
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

/** The server's counters. Cheap enough to update on every request. */
export class WebhookStats {
  #paths = new Map<string, MutablePathStats>();
  /** TLS handshakes that failed. */
  tlsErrors = 0;
  /** Serving certificates swapped in after the first. */
  certificateReloads = 0;

  #path(path: string): MutablePathStats {
    let stats = this.#paths.get(path);
    if (stats === undefined) {
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
    this.#path(path).inFlight++;
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
      tlsErrors: this.tlsErrors,
      certificateReloads: this.certificateReloads,
    };
  }
}

/**
 * The pure half of the webhook load generator (`webhook_load.ts`): HTTP/1.1 request bytes, where
 * a response ends in a byte stream (`Content-Length` or chunked), and the latency summary.
 *
 * @module
 */

/** One request's bytes: request line, headers and body. */
export function requestBytes(
  url: URL,
  body: string,
  options: { close?: boolean } = {},
): Uint8Array {
  const encoder = new TextEncoder();
  const payload = encoder.encode(body);
  const head = [
    `POST ${url.pathname} HTTP/1.1`,
    `Host: ${url.host}`,
    "Content-Type: application/json",
    `Content-Length: ${payload.length}`,
    ...options.close ? ["Connection: close"] : [],
    "",
    "",
  ].join("\r\n");
  const headBytes = encoder.encode(head);
  const bytes = new Uint8Array(headBytes.length + payload.length);
  bytes.set(headBytes);
  bytes.set(payload, headBytes.length);
  return bytes;
}

/** A complete response at the start of a buffer. */
export interface FramedResponse {
  /** The status code. */
  status: number;
  /** Bytes the response takes, head and body. */
  length: number;
}

const CR = 13;
const LF = 10;

function indexOfCrlf(bytes: Uint8Array, from: number, end: number): number {
  for (let i = from; i + 1 < end; i++) {
    if (bytes[i] === CR && bytes[i + 1] === LF) return i;
  }
  return -1;
}

function headEnd(bytes: Uint8Array, end: number): number {
  for (let i = 0; i + 3 < end; i++) {
    if (bytes[i] === CR && bytes[i + 1] === LF && bytes[i + 2] === CR && bytes[i + 3] === LF) {
      return i + 4;
    }
  }
  return -1;
}

function latin1(bytes: Uint8Array, start: number, end: number): string {
  let text = "";
  for (let i = start; i < end; i++) text += String.fromCharCode(bytes[i]!);
  return text;
}

/** Where a chunked body that starts at `start` ends, or -1 while incomplete. */
function chunkedEnd(bytes: Uint8Array, start: number, end: number): number {
  let at = start;
  while (true) {
    const lineEnd = indexOfCrlf(bytes, at, end);
    if (lineEnd < 0) return -1;
    const size = parseInt(latin1(bytes, at, lineEnd).split(";")[0]!.trim(), 16);
    if (Number.isNaN(size)) throw new SyntaxError("Bad chunk size in the response");
    at = lineEnd + 2;
    if (size === 0) {
      // Trailers (none expected) end with an empty line.
      while (true) {
        const trailerEnd = indexOfCrlf(bytes, at, end);
        if (trailerEnd < 0) return -1;
        const empty = trailerEnd === at;
        at = trailerEnd + 2;
        if (empty) return at;
      }
    }
    if (at + size + 2 > end) return -1;
    at += size + 2;
  }
}

/**
 * Finds the complete response at the start of `bytes[0, end)`.
 *
 * @returns the response, or undefined while more bytes are needed
 * @throws {SyntaxError} when the bytes are not an HTTP/1.1 response
 */
export function frameResponse(bytes: Uint8Array, end = bytes.length): FramedResponse | undefined {
  const bodyStart = headEnd(bytes, end);
  if (bodyStart < 0) return undefined;
  const head = latin1(bytes, 0, bodyStart - 4);
  const lines = head.split("\r\n");
  const status = Number(lines[0]!.match(/^HTTP\/1\.[01] (\d{3})/)?.[1]);
  if (Number.isNaN(status)) throw new SyntaxError(`Not an HTTP/1.1 response: ${lines[0]}`);
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon > 0) {
      headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
  }
  if (headers.get("transfer-encoding")?.toLowerCase().includes("chunked")) {
    const bodyEnd = chunkedEnd(bytes, bodyStart, end);
    return bodyEnd < 0 ? undefined : { status, length: bodyEnd };
  }
  const length = Number(headers.get("content-length") ?? "0");
  if (!Number.isInteger(length) || length < 0) {
    throw new SyntaxError(`Bad Content-Length in the response: ${headers.get("content-length")}`);
  }
  return bodyStart + length > end ? undefined : { status, length: bodyStart + length };
}

/** What one load run measured; latencies in milliseconds. */
export interface LoadReport {
  /** Completed requests per second of the run. */
  requestsPerSecond: number;
  /** Completed requests. */
  requests: number;
  /** Median latency (from the scheduled send at a fixed rate, from the send at saturation). */
  p50Ms: number;
  /** 90th percentile. */
  p90Ms: number;
  /** 99th percentile. */
  p99Ms: number;
  /** Slowest request. */
  maxMs: number;
  /** 99th percentile from each request's actual send (what wrk 4 reports). */
  sendP99Ms: number;
  /** 99th percentile of how late the generator's timer sent a request on an idle connection. */
  lateP99Ms: number;
  /** Non-2xx responses plus connection errors. */
  errors: number;
}

/** The `p`-th percentile (0 to 100) of ascending `sorted` values, nearest rank; NaN when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** What one run recorded, in ms: one entry per completed request in `scheduled` and `sent`. */
export interface LoadSamples {
  /** Latency from the slot of a held-back request, else from its send. */
  scheduled: Float64Array;
  /** Latency from the send. */
  sent: Float64Array;
  /** The timer's lateness, per request sent on an idle connection at a fixed rate. */
  late: Float64Array;
  /** Failed requests. */
  errors: number;
  /** Length of the run. */
  elapsedMs: number;
}

/** Summarises one run. */
export function summarise(run: LoadSamples): LoadReport {
  const scheduled = run.scheduled.slice().sort();
  const sent = run.sent.slice().sort();
  return {
    requestsPerSecond: scheduled.length / (run.elapsedMs / 1000),
    requests: scheduled.length,
    p50Ms: percentile(scheduled, 50),
    p90Ms: percentile(scheduled, 90),
    p99Ms: percentile(scheduled, 99),
    maxMs: scheduled.length === 0 ? Number.NaN : scheduled[scheduled.length - 1]!,
    sendP99Ms: percentile(sent, 99),
    lateP99Ms: run.late.length === 0 ? 0 : percentile(run.late.slice().sort(), 99),
    errors: run.errors,
  };
}

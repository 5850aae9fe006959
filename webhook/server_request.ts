/**
 * One HTTP request of the admission server, from arrival to answer: routing, method and
 * content-type checks, a bounded body read, JSON parsing, the call into `handleAdmission`, and
 * the response. Every failure becomes an HTTP answer; nothing here throws to the server.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import type { IncomingMessage, ServerResponse } from "node:http";
import { handleAdmission } from "./handler.ts";
import type { AdmissionLookups, AdmissionOptions } from "./lookups.ts";
import type { WebhookId } from "./paths.ts";

/** The largest body read by default: the API server's own request limit (3 MiB). */
export const DEFAULT_MAX_BODY_BYTES = 3 * 1024 * 1024;
/**
 * Status recorded (never sent) when the client goes away before its body arrived, as nginx's 499:
 * not a server error, so the error counter stays meaningful.
 */
const CLIENT_CLOSED = 499;
/** Path of the plain-text health check. */
const HEALTHZ_PATH = "/healthz";

/** What the request pipeline needs from the server. */
export interface RequestContext {
  /** Read-only lookups for the admission logic. */
  lookups: AdmissionLookups;
  /** Options passed to `handleAdmission`. */
  admission: AdmissionOptions;
  /** Largest accepted body, in bytes. */
  maxBodyBytes: number;
  /** Whether the serving certificate source is healthy (for `/healthz`). */
  healthy: () => boolean;
  /** True once shutdown began: answers then close their connection. */
  closing: () => boolean;
}

/** How a request was answered, for metrics and logs. */
export interface Answer {
  /** HTTP status sent. */
  status: number;
  /** Request uid of the AdmissionReview answered, if any. */
  uid?: string;
  /** `allowed` of the AdmissionReview answered, if any. */
  allowed?: boolean;
  /** Short reason for an HTTP error. */
  message?: string;
}

type BodyResult =
  | { ok: true; bytes: Uint8Array }
  | { ok: false; status: 413 | typeof CLIENT_CLOSED; message: string };

function send(
  res: ServerResponse,
  context: RequestContext,
  status: number,
  body: string,
  extraHeaders: Record<string, string> = {},
): void {
  if (res.headersSent || res.destroyed) return;
  const headers: Record<string, string> = {
    "content-type": "text/plain; charset=utf-8",
    "content-length": String(Buffer.byteLength(body)),
  };
  Object.assign(headers, extraHeaders);
  if (context.closing()) headers.connection = "close";
  res.writeHead(status, headers);
  res.end(body);
}

function httpError(
  res: ServerResponse,
  context: RequestContext,
  status: number,
  message: string,
  headers?: Record<string, string>,
): Answer {
  send(res, context, status, `${message}\n`, headers);
  return { status, message };
}

/** Reads the body, refusing more than `maxBytes` (by Content-Length or as it streams in). */
function readBody(req: IncomingMessage, maxBytes: number): Promise<BodyResult> {
  const declared = Number(req.headers["content-length"] ?? "0");
  const tooLarge = `Request body is larger than ${maxBytes} bytes`;
  if (declared > maxBytes) return Promise.resolve({ ok: false, status: 413, message: tooLarge });
  return new Promise((resolve) => {
    const chunks: Uint8Array[] = [];
    let size = 0;
    req.on("data", (chunk: Uint8Array) => {
      size += chunk.byteLength;
      if (size > maxBytes) {
        req.removeAllListeners("data");
        req.pause();
        resolve({ ok: false, status: 413, message: tooLarge });
      } else {
        chunks.push(chunk);
      }
    });
    req.on("end", () => {
      // A webhook request is one chunk, as a rule: taken as it is, not copied.
      const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      resolve({ ok: true, bytes });
    });
    const gone = () =>
      resolve({ ok: false, status: CLIENT_CLOSED, message: "Client closed the request" });
    req.on("error", gone);
    req.on("aborted", gone);
  });
}

const UTF8 = new TextDecoder("utf-8", { fatal: true });

function parseJson(bytes: Uint8Array): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(UTF8.decode(bytes)) };
  } catch {
    return { ok: false };
  }
}

function isJsonContentType(header: string | undefined): boolean {
  return header?.split(";")[0]?.trim().toLowerCase() === "application/json";
}

function healthz(req: IncomingMessage, res: ServerResponse, context: RequestContext): Answer {
  if (req.method !== "GET" && req.method !== "HEAD") {
    return httpError(res, context, 405, "Method not allowed", { allow: "GET, HEAD" });
  }
  const healthy = context.healthy();
  const status = healthy ? 200 : 503;
  send(res, context, status, healthy ? "ok\n" : "serving certificate source is unhealthy\n");
  return { status };
}

/** Where a request goes: its URL path without the query string, and the webhook of that path. */
export interface Route {
  /** The URL path without the query string. */
  path: string;
  /** `webhookForPath(path)`: undefined for any other path. */
  id: WebhookId | undefined;
}

/** Answers one request. Never throws: an unexpected failure is answered with 500. */
export async function answerRequest(
  req: IncomingMessage,
  res: ServerResponse,
  { path, id }: Route,
  context: RequestContext,
): Promise<Answer> {
  try {
    if (path === HEALTHZ_PATH) return healthz(req, res, context);
    if (id === undefined) return httpError(res, context, 404, "Not found");
    if (req.method !== "POST") {
      return httpError(res, context, 405, "Method not allowed", { allow: "POST" });
    }
    if (!isJsonContentType(req.headers["content-type"])) {
      return httpError(res, context, 415, "Content-Type must be application/json");
    }
    const body = await readBody(req, context.maxBodyBytes);
    if (!body.ok && body.status === CLIENT_CLOSED) {
      res.destroy();
      return { status: CLIENT_CLOSED, message: body.message };
    }
    if (!body.ok) {
      // The rest of an oversized body is not read, so the connection cannot be reused.
      return httpError(res, context, body.status, body.message, { connection: "close" });
    }
    const json = parseJson(body.bytes);
    if (!json.ok) return httpError(res, context, 400, "Request body is not valid JSON");
    const result = await handleAdmission(path, json.value, context.lookups, context.admission);
    if (result.kind === "http") return httpError(res, context, result.status, result.message);
    const { response } = result.review;
    send(res, context, 200, JSON.stringify(result.review), { "content-type": "application/json" });
    return { status: 200, uid: response.uid, allowed: response.allowed };
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    return httpError(res, context, 500, `Internal error: ${detail}`);
  }
}

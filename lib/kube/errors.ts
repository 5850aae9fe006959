/**
 * Typed errors for non-2xx API responses, parsed from the `Status` body the API server
 * sends. Callers branch with `instanceof` (`NotFoundError`, `ConflictError`, ...) or on
 * `error.reason`.
 *
 * @module
 */
import type { Status, StatusCause } from "kubernetes-types/meta/v1.d.ts";
import * as z from "zod";

/** Where a failed request went, for error messages. */
export interface RequestContext {
  method: string;
  /** The request path (without the query string). */
  path: string;
}

/** Base class of every error the API server reports with a status code. */
export class KubeApiError extends Error {
  /** The HTTP status code (`Status.code`). */
  readonly code: number;
  /** The machine-readable reason, such as `NotFound` or `Conflict`. */
  readonly reason: string;
  /** The `Status` object (synthesised when the body was not a Status). */
  readonly status: Status;
  /** The request that failed, when known. */
  readonly request: RequestContext | undefined;

  /** Builds the error from a `Status`; use `kubeApiErrorFromStatus` to get the right subclass. */
  constructor(status: Status, request?: RequestContext) {
    const code = status.code ?? 0;
    const where = request ? `${request.method} ${request.path}` : "request";
    super(
      `Kubernetes API ${where} failed with ${code} ${status.reason ?? "Unknown"}: ${
        status.message ?? "no message"
      }`,
    );
    this.name = "KubeApiError";
    this.code = code;
    this.reason = status.reason ?? "Unknown";
    this.status = status;
    this.request = request;
  }
}

/** 401: the credentials were missing, wrong or expired. */
export class UnauthorizedError extends KubeApiError {
  /** The error name, `UnauthorizedError`. */
  override name = "UnauthorizedError";
}

/** 403: the caller may not do this (RBAC, or an admission webhook refused). */
export class ForbiddenError extends KubeApiError {
  /** The error name, `ForbiddenError`. */
  override name = "ForbiddenError";
}

/** 404: the object (or the resource type) does not exist. */
export class NotFoundError extends KubeApiError {
  /** The error name, `NotFoundError`. */
  override name = "NotFoundError";
}

/** 409 `Conflict`: a stale `resourceVersion` on update, or a failed precondition. */
export class ConflictError extends KubeApiError {
  /** The error name, `ConflictError`. */
  override name = "ConflictError";
}

/** 409 `AlreadyExists`: create of an object whose name is taken. */
export class AlreadyExistsError extends KubeApiError {
  /** The error name, `AlreadyExistsError`. */
  override name = "AlreadyExistsError";
}

/** 410 `Gone`/`Expired`: the requested resourceVersion is too old; the caller must relist. */
export class GoneError extends KubeApiError {
  /** The error name, `GoneError`. */
  override name = "GoneError";
}

/** 422 `Invalid`: the object failed validation; `causes` lists each field problem. */
export class InvalidError extends KubeApiError {
  /** The error name, `InvalidError`. */
  override name = "InvalidError";
  /** One entry per invalid field (`field`, `reason`, `message`). */
  get causes(): StatusCause[] {
    return this.status.details?.causes ?? [];
  }
}

const REASONS_BY_CODE: Record<number, string> = {
  400: "BadRequest",
  401: "Unauthorized",
  403: "Forbidden",
  404: "NotFound",
  405: "MethodNotAllowed",
  406: "NotAcceptable",
  409: "Conflict",
  410: "Gone",
  413: "RequestEntityTooLarge",
  415: "UnsupportedMediaType",
  422: "Invalid",
  429: "TooManyRequests",
  500: "InternalError",
  503: "ServiceUnavailable",
  504: "Timeout",
};

/** Returns the error subclass that matches the status code and reason. */
export function kubeApiErrorFromStatus(status: Status, request?: RequestContext): KubeApiError {
  switch (status.code) {
    case 401:
      return new UnauthorizedError(status, request);
    case 403:
      return new ForbiddenError(status, request);
    case 404:
      return new NotFoundError(status, request);
    case 409:
      return status.reason === "AlreadyExists"
        ? new AlreadyExistsError(status, request)
        : new ConflictError(status, request);
    case 410:
      return new GoneError(status, request);
    case 422:
      return new InvalidError(status, request);
    default:
      return new KubeApiError(status, request);
  }
}

const StatusBody = z.looseObject({
  kind: z.literal("Status"),
  code: z.number().int().optional(),
  reason: z.string().optional(),
  message: z.string().optional(),
});

/** The longest slice of a non-JSON error body kept in the message. */
const MAX_BODY_IN_MESSAGE = 300;

/**
 * Maps an error response to a typed error. A JSON `Status` body gives the reason, message
 * and details; any other body (a proxy's HTML page, plain text) becomes a synthesised
 * Status whose reason comes from the HTTP code and whose message is the start of the body.
 */
export function kubeApiErrorFromResponse(
  httpCode: number,
  bodyText: string,
  request?: RequestContext,
): KubeApiError {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bodyText);
  } catch {
    parsed = undefined;
  }
  const status = StatusBody.safeParse(parsed);
  if (status.success) {
    const body = status.data as Status;
    return kubeApiErrorFromStatus({ ...body, code: body.code ?? httpCode }, request);
  }
  const text = bodyText.trim();
  const message = text === ""
    ? "empty response body"
    : text.length > MAX_BODY_IN_MESSAGE
    ? `${text.slice(0, MAX_BODY_IN_MESSAGE)}...`
    : text;
  return kubeApiErrorFromStatus({
    apiVersion: "v1",
    kind: "Status",
    status: "Failure",
    code: httpCode,
    reason: REASONS_BY_CODE[httpCode] ?? "Unknown",
    message,
  }, request);
}

/** The request took longer than its timeout. */
export class KubeRequestTimeoutError extends Error {
  /** The timeout that expired, in milliseconds. */
  readonly timeoutMs: number;
  /** Builds the error for one request. */
  constructor(request: RequestContext, timeoutMs: number) {
    super(`Kubernetes API ${request.method} ${request.path} timed out after ${timeoutMs} ms`);
    this.name = "KubeRequestTimeoutError";
    this.timeoutMs = timeoutMs;
  }
}

/** The API server could not be reached (connection refused, TLS failure, DNS, reset). */
export class KubeConnectionError extends Error {
  /**
   * Builds the error; `cause` is the underlying fetch error, summarised in the message by
   * {@linkcode describeConnectionFailure}.
   */
  constructor(server: string, request: RequestContext, cause: unknown) {
    super(
      `Cannot reach the API server at "${server}" for ${request.method} ${request.path}: ${
        describeConnectionFailure(cause)
      }`,
    );
    this.name = "KubeConnectionError";
    this.cause = cause;
  }
}

/** How deep {@linkcode describeConnectionFailure} follows a `cause` chain. */
const MAX_CAUSE_DEPTH = 8;

/** Messages that say nothing beyond "it failed"; a cause below them says more. */
const UNINFORMATIVE = new Set(["fetch failed", ""]);

/**
 * Names why a connection failed, in one line: `TLS: invalid peer certificate: UnknownIssuer`,
 * `DNS: failed to lookup address information: ...`, `connection refused`, `connection reset`,
 * or the innermost message of the error's `cause` chain with the HTTP client's wrapping
 * (`error sending request for url (...)`, `client error (Connect)`) removed. Deno's `fetch`
 * rejects with a bare "fetch failed" whose `cause` holds the real reason.
 *
 * @example
 * ```ts
 * import { describeConnectionFailure } from "./errors.ts";
 * const cause = new Error(
 *   "error sending request for url (https://10.0.0.1:6443/api): client error (Connect): " +
 *     "tcp connect error: Connection refused (os error 111)",
 * );
 * describeConnectionFailure(new TypeError("fetch failed", { cause })); // "connection refused"
 * ```
 */
export function describeConnectionFailure(error: unknown): string {
  const messages: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < MAX_CAUSE_DEPTH && current !== undefined; depth++) {
    messages.push(current instanceof Error ? current.message : String(current));
    current = current instanceof Error ? current.cause : undefined;
  }
  const informative = messages.filter((message) => !UNINFORMATIVE.has(message.trim()));
  const innermost = informative.at(-1)?.trim() ?? messages[0] ?? "unknown error";
  return classifyConnectionMessage(unwrapClientMessage(innermost));
}

/** Removes hyper's and reqwest's wrapping from a fetch error message. */
function unwrapClientMessage(message: string): string {
  return message
    .replace(/^error sending request .*?\): /s, "")
    .replace(/^client error \([A-Za-z]+\): /, "")
    .replace(/\s*\(os error \d+\)$/, "")
    .replace(/\s+/g, " ")
    .trim();
}

function classifyConnectionMessage(message: string): string {
  const dns = /dns error: (.*)$/i.exec(message);
  if (dns) return `DNS: ${dns[1]}`;
  if (/connection refused/i.test(message)) return "connection refused";
  if (/connection reset/i.test(message)) return "connection reset";
  const certificate = /(invalid peer certificate.*)$/i.exec(message);
  if (certificate) return `TLS: ${certificate[1]}`;
  if (/\b(tls|ssl|certificate|handshake|fatal alert)/i.test(message)) {
    return `TLS: ${message}`;
  }
  return message === "" ? "unknown error" : message;
}

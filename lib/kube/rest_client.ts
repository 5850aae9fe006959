/**
 * The one seam every Kubernetes call goes through: `RestClient`, a single `performRequest` method
 * (so a test fake needs one method), and `KubeRestClient`, that contract on Deno's `fetch`. A
 * non-2xx answer becomes a `KubeApiError` subclass parsed from the API server's `Status` body.
 *
 * @module
 */
import type { Status } from "kubernetes-types/meta/v1.d.ts";
import * as z from "zod";
import { errorMessage } from "../api/types.ts";
import { backoffDelay, type Clock, sleep, SYSTEM_CLOCK } from "./clock.ts";
import {
  type ClientCertificate,
  type ClusterConfig,
  createCredentialSource,
  type CredentialSource,
} from "./config.ts";

/** Where a failed request went, for error messages. */
export interface RequestContext {
  method: string;
  /** Without the query string. */
  path: string;
}

/** Base class of every error the API server reports with a status code. */
export class KubeApiError extends Error {
  /** The HTTP status code. */
  readonly code: number;
  /** Such as `NotFound` or `Conflict`. */
  readonly reason: string;
  /** Synthesised when the body was not a Status. */
  readonly status: Status;
  readonly request: RequestContext | undefined;

  /** Builds the error from a `Status`; use `kubeApiErrorFromStatus` to get the right subclass. */
  constructor(status: Status, request?: RequestContext) {
    const code = status.code ?? 0;
    const reason = status.reason ?? "Unknown";
    const at = request ? `${request.method} ${request.path}` : "request";
    super(`Kubernetes API ${at} failed with ${code} ${reason}: ${status.message ?? "no message"}`);
    this.name = "KubeApiError";
    this.code = code;
    this.reason = reason;
    this.status = status;
    this.request = request;
  }
}

/** A subclass of `KubeApiError` named `name`, so callers can branch with `instanceof`. */
function reason(name: string) {
  return class extends KubeApiError {
    override name = name;
  };
}

/** 401: the credentials were missing, wrong or expired. */
export class UnauthorizedError extends reason("UnauthorizedError") {}
/** 403: the caller may not do this (RBAC, or an admission webhook refused). */
export class ForbiddenError extends reason("ForbiddenError") {}
/** 404: the object (or the resource type) does not exist. */
export class NotFoundError extends reason("NotFoundError") {}
/** 409 `Conflict`: a stale `resourceVersion` on update, or a failed precondition. */
export class ConflictError extends reason("ConflictError") {}
/** 409 `AlreadyExists`: create of an object whose name is taken. */
export class AlreadyExistsError extends reason("AlreadyExistsError") {}
/** 410 `Gone`/`Expired`: the requested resourceVersion is too old; the caller must relist. */
export class GoneError extends reason("GoneError") {}
/** 422 `Invalid`: the object failed validation (`status.details.causes`: one per field). */
export class InvalidError extends reason("InvalidError") {}

/** `request`'s answer, or `undefined` when it fails with `NotFoundError` (no such object). */
export function orUndefined<T>(request: Promise<T>): Promise<T | undefined> {
  return request.catch((error) =>
    error instanceof NotFoundError ? undefined : Promise.reject(error)
  );
}

/** The API server's reason for each HTTP code, and the error class of the code. */
const BY_CODE: Record<number, [reason: string, subclass?: typeof KubeApiError]> = {
  400: ["BadRequest"],
  401: ["Unauthorized", UnauthorizedError],
  403: ["Forbidden", ForbiddenError],
  404: ["NotFound", NotFoundError],
  405: ["MethodNotAllowed"],
  406: ["NotAcceptable"],
  409: ["Conflict", ConflictError],
  410: ["Gone", GoneError],
  413: ["RequestEntityTooLarge"],
  415: ["UnsupportedMediaType"],
  422: ["Invalid", InvalidError],
  429: ["TooManyRequests"],
  500: ["InternalError"],
  503: ["ServiceUnavailable"],
  504: ["Timeout"],
};

/** Returns the `KubeApiError` subclass of the status's code and reason. */
export function kubeApiErrorFromStatus(status: Status, request?: RequestContext): KubeApiError {
  const subclass = status.code === 409 && status.reason === "AlreadyExists"
    ? AlreadyExistsError
    : BY_CODE[status.code ?? 0]?.[1] ?? KubeApiError;
  return new subclass(status, request);
}

const StatusBody = z.looseObject({
  kind: z.literal("Status"),
  code: z.number().int().optional(),
  reason: z.string().optional(),
  message: z.string().optional(),
});

/**
 * Maps an error response to a typed error. A JSON `Status` body gives the reason, message and
 * details; any other body (a proxy's HTML page) becomes a Status whose reason comes from the
 * HTTP code and whose message is the start of the body.
 */
export function kubeApiErrorFromResponse(
  httpCode: number,
  bodyText: string,
  request?: RequestContext,
): KubeApiError {
  const status = StatusBody.safeParse(parseJson(bodyText));
  if (status.success) {
    const body = status.data as Status;
    return kubeApiErrorFromStatus({ ...body, code: body.code ?? httpCode }, request);
  }
  const text = bodyText.trim();
  const message = text.length > 300 ? `${text.slice(0, 300)}...` : text || "empty response body";
  return kubeApiErrorFromStatus({
    apiVersion: "v1",
    kind: "Status",
    status: "Failure",
    code: httpCode,
    reason: BY_CODE[httpCode]?.[0] ?? "Unknown",
    message,
  }, request);
}

/** `text` parsed as JSON, or `undefined` when it is not JSON. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The request took longer than its timeout. */
export class KubeRequestTimeoutError extends Error {
  /** Builds the error for one request. */
  constructor(request: RequestContext, timeoutMs: number) {
    super(`Kubernetes API ${request.method} ${request.path} timed out after ${timeoutMs} ms`);
    this.name = "KubeRequestTimeoutError";
  }
}

/** The API server could not be reached (connection refused, TLS failure, DNS, reset). */
export class KubeConnectionError extends Error {
  /** Builds the error; `cause` is the fetch error, summarised by `describeConnectionFailure`. */
  constructor(server: string, request: RequestContext, cause: unknown) {
    const at = `${request.method} ${request.path}`;
    const reason = describeConnectionFailure(cause);
    super(`Cannot reach the API server at "${server}" for ${at}: ${reason}`, { cause });
    this.name = "KubeConnectionError";
  }
}

/**
 * Names why a connection failed, in one line (`TLS: ...`, `DNS: ...`, `connection refused`, or
 * the innermost informative message). Deno's `fetch` rejects with a bare "fetch failed" whose
 * `cause` chain holds the real reason.
 */
export function describeConnectionFailure(error: unknown): string {
  const messages: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 8 && current !== undefined; depth++) {
    messages.push(errorMessage(current));
    current = current instanceof Error ? current.cause : undefined;
  }
  const informative = messages.filter((m) => m.trim() !== "" && m.trim() !== "fetch failed");
  const message = (informative.at(-1)?.trim() ?? messages[0] ?? "unknown error")
    .replace(/^error sending request .*?\): /s, "")
    .replace(/^client error \([A-Za-z]+\): /, "")
    .replace(/\s*\(os error \d+\)$/, "")
    .replace(/\s+/g, " ")
    .trim();
  const dns = /dns error: (.*)$/i.exec(message);
  if (dns) return `DNS: ${dns[1]}`;
  if (/connection refused/i.test(message)) return "connection refused";
  if (/connection reset/i.test(message)) return "connection reset";
  const certificate = /(invalid peer certificate.*)$/i.exec(message);
  if (certificate) return `TLS: ${certificate[1]}`;
  if (/\b(tls|ssl|certificate|handshake|fatal alert)/i.test(message)) return `TLS: ${message}`;
  return message === "" ? "unknown error" : message;
}

/** One request to the API server; `path` starts with `/` and is appended to the server URL. */
export interface RequestOptions {
  method: "GET" | "POST" | "DELETE" | "PUT" | "PATCH";
  path: string;
  querystring?: URLSearchParams | undefined;
  /** Aborts the request (and, for streams, the body: reading it throws the reason). */
  abortSignal?: AbortSignal | undefined;
  /** Defaults to `application/json`. */
  contentType?: string | undefined;
  /** Serialised with `JSON.stringify`. */
  bodyJson?: unknown;
  /** Resolve with the JSON values of the body's lines, read as they come. */
  expectStream?: boolean;
}

/** cloudydeno's contract for JSON; a non-2xx response rejects with a `KubeApiError` subclass. */
export interface RestClient {
  /** Performs one request and returns the JSON values of the body's lines; leaving ends it. */
  performRequest(opts: RequestOptions & { expectStream: true }): Promise<AsyncIterable<unknown>>;
  /** Performs one request and returns the parsed JSON body (`null` for an empty one). */
  performRequest(opts: RequestOptions): Promise<unknown>;
}

/**
 * Parses each non-blank line of `res`'s body as JSON. Leaving the loop cancels the body.
 *
 * @throws {SyntaxError} for a line that is not JSON
 */
export async function* jsonLines(res: Response): AsyncGenerator<unknown, void, undefined> {
  if (!res.body) return;
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let partial = "";
  try {
    for (let done = false; !done;) {
      const chunk = await reader.read();
      done = chunk.done;
      const lines = (partial + decoder.decode(chunk.value, { stream: !done })).split(/\r?\n/);
      partial = done ? "" : lines.pop()!;
      for (const line of lines) {
        if (line.trim() === "") continue;
        const value = parseJson(line);
        if (value === undefined) {
          throw new SyntaxError(`Cannot parse a streamed line as JSON: ${line.slice(0, 200)}`);
        }
        yield value;
      }
    }
  } finally {
    await reader.cancel().catch(() => {});
    // Deno 2.9.6 loses the abort of a request whose Response was garbage-collected, and the
    // read would never end: the generator holds `res` until here (tests/aborted_watch_gc.ts).
    res.bodyUsed;
  }
}

const TIMEOUT_MS = 30_000;

/**
 * One signal for fetch that aborts when the caller's does or the timeout expires. `release()`
 * unlinks a finished request from the caller's signal: a controller's signal lives as long as
 * the process, and each listener left on it would keep its request alive for as long.
 */
function linkAbort(callerSignal: AbortSignal | undefined) {
  const controller = new AbortController();
  let timedOut = false;
  const onAbort = () => controller.abort(callerSignal?.reason);
  if (callerSignal?.aborted) controller.abort(callerSignal.reason);
  callerSignal?.addEventListener("abort", onAbort, { once: true });
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, TIMEOUT_MS);
  return {
    signal: controller.signal,
    stopTimer: () => clearTimeout(timer),
    release: () => {
      clearTimeout(timer);
      callerSignal?.removeEventListener("abort", onAbort);
    },
    timedOut: () => timedOut,
  };
}

type Link = ReturnType<typeof linkAbort>;

/** A `RestClient` for one cluster config. Call `close()` to free connections. */
export class KubeRestClient implements RestClient {
  #credentials: CredentialSource;
  #httpClients = new Map<string, Deno.HttpClient>();

  /** Creates a client (no connection until the first request); non-stream timeout 30 s. */
  constructor(readonly config: ClusterConfig) {
    this.#credentials = createCredentialSource(config);
  }

  performRequest(opts: RequestOptions & { expectStream: true }): Promise<AsyncIterable<unknown>>;
  performRequest(opts: RequestOptions): Promise<unknown>;
  /**
   * Performs one request; a 401 with a rotating token or an exec credential is retried once
   * with fresh credentials.
   *
   * @throws {KubeApiError} (a subclass per reason) for a non-2xx response
   * @throws {KubeRequestTimeoutError} when the timeout expires (for streams: before the headers)
   * @throws {KubeConnectionError} when the server cannot be reached
   * @throws the signal's reason when `abortSignal` aborts
   */
  async performRequest(opts: RequestOptions): Promise<unknown> {
    const context: RequestContext = { method: opts.method, path: opts.path };
    let [res, link] = await this.#fetch(opts, context);
    if (res.status === 401 && this.#credentials.invalidate) {
      link.release();
      await res.body?.cancel();
      this.#credentials.invalidate();
      [res, link] = await this.#fetch(opts, context);
    }
    if (!res.ok) {
      const text = await this.#readBody(res, link, opts, context);
      throw kubeApiErrorFromResponse(res.status, text, context);
    }
    if (opts.expectStream) {
      // A watch may be quiet for minutes (the informer handles stalls); the caller's signal
      // must still end it, so the link stays.
      link.stopTimer();
      return jsonLines(res);
    }
    const text = await this.#readBody(res, link, opts, context);
    return text.trim() === "" ? null : JSON.parse(text);
  }

  async #fetch(opts: RequestOptions, context: RequestContext): Promise<[Response, Link]> {
    const credentials = await this.#credentials.get();
    const headers = new Headers({
      "Accept": "application/json",
      "User-Agent": "hostport-allocator",
    });
    if (credentials.authorization) headers.set("Authorization", credentials.authorization);
    const body = opts.bodyJson === undefined ? null : JSON.stringify(opts.bodyJson);
    if (body !== null) headers.set("Content-Type", opts.contentType ?? "application/json");
    const link = linkAbort(opts.abortSignal);
    const query = opts.querystring?.toString();
    const url = `${this.config.server}${opts.path}${query ? `?${query}` : ""}`;
    const res = await fetch(url, {
      method: opts.method,
      headers,
      body,
      signal: link.signal,
      client: this.#httpClient(credentials.clientCertificate),
      redirect: "error",
    }).catch((error) => {
      link.release();
      throw this.#failure(error, link, opts, context);
    });
    return [res, link];
  }

  /** The error to throw when fetching or reading a body failed. */
  #failure(error: unknown, link: Link, opts: RequestOptions, context: RequestContext): unknown {
    if (opts.abortSignal?.aborted) return opts.abortSignal.reason;
    if (link.timedOut()) return new KubeRequestTimeoutError(context, TIMEOUT_MS);
    return new KubeConnectionError(this.config.server, context, error);
  }

  #readBody(res: Response, link: Link, opts: RequestOptions, context: RequestContext) {
    return res.text()
      .catch((error) => Promise.reject(this.#failure(error, link, opts, context)))
      .finally(link.release);
  }

  /** One pooled client per client certificate, so an exec plugin's new cert gets new connections. */
  #httpClient(certificate: ClientCertificate | undefined): Deno.HttpClient {
    const key = certificate ? `${certificate.certPem}\n${certificate.keyPem}` : "";
    let client = this.#httpClients.get(key);
    if (!client) {
      client = Deno.createHttpClient({
        ...(this.config.caPem ? { caCerts: [this.config.caPem] } : {}),
        ...(this.config.proxyUrl ? { proxy: { url: this.config.proxyUrl } } : {}),
        ...(certificate ? { cert: certificate.certPem, key: certificate.keyPem } : {}),
      });
      this.#httpClients.set(key, client);
    }
    return client;
  }

  /** Closes every pooled connection; later requests open new ones. */
  close(): void {
    for (const client of this.#httpClients.values()) client.close();
    this.#httpClients.clear();
  }
}

/** Returns the username the API server knows `rest` by. @throws a `KubeApiError` or `Error` */
export async function selfUsername(rest: RestClient, signal?: AbortSignal): Promise<string> {
  const review = await rest.performRequest({
    method: "POST",
    // GA since 1.28; every authenticated user may create one.
    path: "/apis/authentication.k8s.io/v1/selfsubjectreviews",
    bodyJson: { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" },
    abortSignal: signal,
  });
  const username = (review as { status?: { userInfo?: { username?: unknown } } } | null)?.status
    ?.userInfo?.username;
  if (typeof username !== "string" || username === "") {
    throw new Error("The SelfSubjectReview answer carries no username");
  }
  return username;
}

/**
 * Asks who `rest` is, retrying with backoff until it answers or `signal` aborts. `username()`
 * reads the answer without waiting; `known` resolves with it, or `undefined` when stopped first.
 */
export function learnSelfUsername(
  rest: RestClient,
  options: { signal?: AbortSignal; onError?: (error: unknown) => void; clock?: Clock } = {},
): { username(): string | undefined; known: Promise<string | undefined> } {
  let username: string | undefined;
  const stopped = () => options.signal?.aborted === true;
  const known = (async () => {
    for (let attempt = 0; !stopped(); attempt++) {
      try {
        return username = await selfUsername(rest, options.signal);
      } catch (error) {
        if (stopped()) break;
        options.onError?.(error);
        await sleep(options.clock ?? SYSTEM_CLOCK, backoffDelay(attempt), options.signal);
      }
    }
    return undefined;
  })();
  return { username: () => username, known };
}

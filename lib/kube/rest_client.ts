/**
 * The one seam every Kubernetes call goes through: a `RestClient` with a single `performRequest`
 * method, shaped like the `@cloudydeno/kubernetes-client` contract (so a test fake needs one
 * method), and `KubeRestClient`, that contract on Deno's `fetch`, with TLS from
 * `Deno.createHttpClient`, credentials per request, typed errors and request timeouts. Watch
 * responses are split into lines (one JSON object per line).
 *
 * @module
 */
import {
  type ClientCertificate,
  type ClusterConfig,
  loadClusterConfig,
  type LoadClusterConfigOptions,
} from "./config.ts";
import { createCredentialSource, type CredentialSource } from "./credentials.ts";
import {
  kubeApiErrorFromResponse,
  KubeConnectionError,
  KubeRequestTimeoutError,
  type RequestContext,
} from "./errors.ts";

/** A JSON value as returned by `JSON.parse`. */
export type JsonValue =
  | string
  | number
  | boolean
  | null
  | JsonValue[]
  | { [key: string]: JsonValue };

/** The HTTP methods the Kubernetes API uses. */
export type HttpMethod = "GET" | "POST" | "DELETE" | "PUT" | "PATCH" | "OPTIONS" | "HEAD";

/** One request to the API server; `path` starts with `/` and is appended to the server URL. */
export interface RequestOptions {
  method: HttpMethod;
  /** The request path, for example `/api/v1/namespaces/default/pods`. */
  path: string;
  querystring?: URLSearchParams;
  /** Aborts the request (and, for streams, the body). */
  abortSignal?: AbortSignal;
  /** The body's content type; defaults to `application/json` when `bodyJson` is set. */
  contentType?: string;
  /** A body serialised with `JSON.stringify` (any JSON-serialisable value). */
  bodyJson?: unknown;
  /** The `Accept` header; defaults to `application/json`. */
  accept?: string;
  /** Resolve with the response body as a stream instead of reading it whole. */
  expectStream?: boolean;
  /** Parse the body as JSON (with `expectStream`: one JSON value per line). */
  expectJson?: boolean;
  /**
   * Gives up after this many milliseconds; for streams only until the response headers
   * arrive. Defaults to the client's request timeout.
   */
  timeoutMs?: number;
}

/**
 * The client contract. The overloads pick the result from the flags: a stream of parsed
 * JSON lines, a byte stream, a parsed JSON body, or the raw body bytes.
 *
 * Errors: a non-2xx response rejects with a `KubeApiError` subclass (see `errors.ts`).
 */
export interface RestClient {
  /** Performs one request and returns a stream of JSON values, one per line. */
  performRequest(
    opts: RequestOptions & { expectStream: true; expectJson: true },
  ): Promise<ReadableStream<JsonValue>>;
  /** Performs one request and returns the body as a byte stream. */
  performRequest(
    opts: RequestOptions & { expectStream: true },
  ): Promise<ReadableStream<Uint8Array>>;
  /** Performs one request and returns the parsed JSON body. */
  performRequest(opts: RequestOptions & { expectJson: true }): Promise<JsonValue>;
  /** Performs one request and returns the body bytes. */
  performRequest(opts: RequestOptions): Promise<Uint8Array>;
  /** The namespace of the current context (or the pod's namespace in-cluster). */
  defaultNamespace?: string;
}

/** Incremental splitter: feed chunks, get the lines they complete. */
export class LineSplitter {
  #decoder = new TextDecoder();
  #partial = "";

  /** Adds a chunk and returns the lines it completes, without their line endings. */
  push(chunk: Uint8Array | string): string[] {
    const text = typeof chunk === "string" ? chunk : this.#decoder.decode(chunk, { stream: true });
    const parts = (this.#partial + text).split("\n");
    this.#partial = parts.pop() ?? "";
    return clean(parts);
  }

  /** Ends the input and returns the last line if it had no final newline. */
  end(): string[] {
    const rest = this.#partial + this.#decoder.decode();
    this.#partial = "";
    return clean([rest]);
  }
}

function clean(lines: string[]): string[] {
  const out: string[] = [];
  for (const line of lines) {
    const trimmed = line.endsWith("\r") ? line.slice(0, -1) : line;
    if (trimmed.trim() !== "") out.push(trimmed);
  }
  return out;
}

/** A `TransformStream` from bytes to lines, built on `LineSplitter`. */
export function lineSplitterStream(): TransformStream<Uint8Array, string> {
  const splitter = new LineSplitter();
  return new TransformStream({
    transform(chunk, controller) {
      for (const line of splitter.push(chunk)) controller.enqueue(line);
    },
    flush(controller) {
      for (const line of splitter.end()) controller.enqueue(line);
    },
  });
}

/** Options of `KubeRestClient`. */
export interface KubeRestClientOptions {
  credentials?: CredentialSource;
  /** Default timeout of non-streaming requests, in ms; defaults to 30 s. */
  timeoutMs?: number;
}

/** The default timeout of non-streaming requests, in ms. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

function jsonLinesStream(): TransformStream<string, JsonValue> {
  return new TransformStream({
    transform(line, controller) {
      try {
        controller.enqueue(JSON.parse(line) as JsonValue);
      } catch {
        controller.error(
          new SyntaxError(`Cannot parse a streamed line as JSON: ${line.slice(0, 200)}`),
        );
      }
    },
  });
}

/**
 * The body of `res`, through a pass-through stream whose closure holds `res`. Under Deno
 * 2.9.6, once a Response is garbage-collected, aborting its request no longer errors the body
 * still being read, so an aborted watch would hang until the server ends it (reproduced with
 * `--v8-flags=--expose-gc`). Holding the Response for as long as the stream lives avoids that.
 */
function keepResponseAlive(res: Response): ReadableStream<Uint8Array> {
  const body = res.body ?? new ReadableStream<Uint8Array>({ start: (c) => c.close() });
  // The stream keeps its transformer, and the transformer keeps the Response.
  const transformer: Transformer<Uint8Array, Uint8Array> & { response: Response } = {
    response: res,
    transform(chunk, controller) {
      controller.enqueue(chunk);
    },
  };
  return body.pipeThrough(new TransformStream(transformer));
}

/**
 * One signal for fetch that aborts when the caller's signal does or the timeout expires,
 * and tells which of the two happened. `release()` unlinks a finished request from the
 * caller's signal: a controller's signal lives as long as the process, and each listener left
 * on it would keep its request's controller, signal and timer alive for as long.
 */
function linkAbort(callerSignal: AbortSignal | undefined, timeoutMs: number) {
  const controller = new AbortController();
  let timedOut = false;
  const onAbort = () => controller.abort(callerSignal?.reason);
  if (callerSignal?.aborted) controller.abort(callerSignal.reason);
  callerSignal?.addEventListener("abort", onAbort, { once: true });
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
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

/** A `RestClient` for one cluster config. Call `close()` (or `using`) to free connections. */
export class KubeRestClient implements RestClient {
  readonly config: ClusterConfig;
  readonly defaultNamespace: string;
  #credentials: CredentialSource;
  #timeoutMs: number;
  #httpClients = new Map<string, Deno.HttpClient>();

  /** Loads the configuration (`--kubeconfig`, `KUBECONFIG`, in-cluster, `~/.kube/config`). */
  static async fromEnvironment(
    options: LoadClusterConfigOptions & KubeRestClientOptions = {},
  ): Promise<KubeRestClient> {
    return new KubeRestClient(await loadClusterConfig(options), options);
  }

  /** Creates a client; no connection is made until the first request. */
  constructor(config: ClusterConfig, options: KubeRestClientOptions = {}) {
    this.config = config;
    this.defaultNamespace = config.namespace;
    this.#credentials = options.credentials ?? createCredentialSource(config);
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  }

  /** Performs one request and returns a stream of JSON values, one per line. */
  performRequest(
    opts: RequestOptions & { expectStream: true; expectJson: true },
  ): Promise<ReadableStream<JsonValue>>;
  /** Performs one request and returns the body as a byte stream. */
  performRequest(
    opts: RequestOptions & { expectStream: true },
  ): Promise<ReadableStream<Uint8Array>>;
  /** Performs one request and returns the parsed JSON body. */
  performRequest(opts: RequestOptions & { expectJson: true }): Promise<JsonValue>;
  /** Performs one request and returns the body bytes. */
  performRequest(opts: RequestOptions): Promise<Uint8Array>;
  /**
   * Performs one request.
   *
   * @throws {KubeApiError} (a subclass per reason) for a non-2xx response
   * @throws {KubeRequestTimeoutError} when the timeout expires
   * @throws {KubeConnectionError} when the server cannot be reached
   * @throws the signal's reason when `abortSignal` aborts
   */
  async performRequest(
    opts: RequestOptions,
  ): Promise<ReadableStream<JsonValue> | ReadableStream<Uint8Array> | JsonValue | Uint8Array> {
    const context: RequestContext = { method: opts.method, path: opts.path };
    const refreshable = this.config.auth.type === "tokenFile" || this.config.auth.type === "exec";
    let response = await this.#fetch(opts, context);
    if (response.res.status === 401 && refreshable) {
      response.release();
      await response.res.body?.cancel();
      this.#credentials.invalidate(); // a rotated token or an expired exec credential
      response = await this.#fetch(opts, context);
    }
    return await this.#read(response.res, response, opts, context);
  }

  async #fetch(opts: RequestOptions, context: RequestContext) {
    const credentials = await this.#credentials.get();
    const headers = new Headers({
      "Accept": opts.accept ?? "application/json",
      "User-Agent": "hostport-allocator",
    });
    if (credentials.authorization) headers.set("Authorization", credentials.authorization);
    const body = opts.bodyJson === undefined ? undefined : JSON.stringify(opts.bodyJson);
    if (body !== undefined) headers.set("Content-Type", opts.contentType ?? "application/json");

    const timeoutMs = opts.timeoutMs ?? this.#timeoutMs;
    const { signal, stopTimer, release, timedOut } = linkAbort(opts.abortSignal, timeoutMs);
    const query = opts.querystring?.toString();
    const url = `${this.config.server}${opts.path}${query ? `?${query}` : ""}`;
    try {
      const res = await fetch(url, {
        method: opts.method,
        headers,
        body: body ?? null,
        signal,
        client: this.#httpClient(credentials.clientCertificate),
        redirect: "error",
      });
      return { res, stopTimer, release };
    } catch (error) {
      release();
      if (opts.abortSignal?.aborted) throw opts.abortSignal.reason;
      if (timedOut()) throw new KubeRequestTimeoutError(context, timeoutMs);
      throw new KubeConnectionError(this.config.server, context, error);
    }
  }

  async #read(
    res: Response,
    link: { stopTimer: () => void; release: () => void },
    opts: RequestOptions,
    context: RequestContext,
  ): Promise<ReadableStream<JsonValue> | ReadableStream<Uint8Array> | JsonValue | Uint8Array> {
    if (!res.ok) {
      const text = await this.#readBody(res, link.release, opts, context);
      throw kubeApiErrorFromResponse(res.status, new TextDecoder().decode(text), context);
    }
    if (opts.expectStream) {
      // A watch may be quiet for minutes (the caller handles stalls); the caller's signal must
      // still end it, so the link stays (a watch's signal is its own, not the process's).
      link.stopTimer();
      const stream = keepResponseAlive(res);
      return opts.expectJson
        ? stream.pipeThrough(lineSplitterStream()).pipeThrough(jsonLinesStream())
        : stream;
    }
    const bytes = await this.#readBody(res, link.release, opts, context);
    if (!opts.expectJson) return bytes;
    const text = new TextDecoder().decode(bytes);
    return text.trim() === "" ? null : JSON.parse(text) as JsonValue;
  }

  async #readBody(
    res: Response,
    release: () => void,
    opts: RequestOptions,
    context: RequestContext,
  ): Promise<Uint8Array> {
    try {
      return new Uint8Array(await res.arrayBuffer());
    } catch (error) {
      if (opts.abortSignal?.aborted) throw opts.abortSignal.reason;
      if (error instanceof DOMException && error.name === "AbortError") {
        throw new KubeRequestTimeoutError(context, opts.timeoutMs ?? this.#timeoutMs);
      }
      throw new KubeConnectionError(this.config.server, context, error);
    } finally {
      release();
    }
  }

  #httpClient(certificate: ClientCertificate | undefined): Deno.HttpClient {
    const key = certificate ? `${certificate.certPem}\n${certificate.keyPem}` : "";
    let client = this.#httpClients.get(key);
    if (!client) {
      // One pooled client per client certificate, so an exec plugin's new cert gets new connections.
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

  /** Same as `close()`. */
  [Symbol.dispose](): void {
    this.close();
  }
}

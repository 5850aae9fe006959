/**
 * `KubeRestClient`: the `RestClient` contract on Deno's `fetch`, with TLS from
 * `Deno.createHttpClient`, credentials per request, typed errors, request timeouts and an
 * optional rate limit.
 *
 * @module
 */
import type { ClientCertificate, ClusterConfig } from "./cluster_config.ts";
import { createCredentialSource, type CredentialSource } from "./credentials.ts";
import {
  kubeApiErrorFromResponse,
  KubeConnectionError,
  KubeRequestTimeoutError,
  type RequestContext,
} from "./errors.ts";
import { lineSplitterStream } from "./line_splitter.ts";
import { loadClusterConfig, type LoadClusterConfigOptions } from "./load_config.ts";
import { TokenBucket } from "./rate_limiter.ts";
import type { JsonValue, RequestOptions, RestClient } from "./rest_contract.ts";

/** Options of `KubeRestClient`. */
export interface KubeRestClientOptions {
  /** Overrides the credentials derived from the config. */
  credentials?: CredentialSource;
  /** Default timeout of non-streaming requests, in ms; defaults to 30 s. */
  timeoutMs?: number;
  /** A client-side rate limit; none by default (see `rate_limiter.ts`). */
  rateLimit?: { qps: number; burst?: number };
  /** The `User-Agent` header; defaults to `hostport-allocator`. */
  userAgent?: string;
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
  /** The resolved configuration. */
  readonly config: ClusterConfig;
  /** The context's namespace. */
  readonly defaultNamespace: string;
  #credentials: CredentialSource;
  #timeoutMs: number;
  #limiter: TokenBucket | undefined;
  #userAgent: string;
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
    this.#limiter = options.rateLimit ? new TokenBucket(options.rateLimit) : undefined;
    this.#userAgent = options.userAgent ?? "hostport-allocator";
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
    await this.#limiter?.take(opts.abortSignal);
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
      "User-Agent": this.#userAgent,
    });
    if (credentials.authorization) headers.set("Authorization", credentials.authorization);
    let body: BodyInit | undefined;
    if (opts.bodyRaw !== undefined) body = opts.bodyRaw as Uint8Array<ArrayBuffer>;
    else if (opts.bodyJson !== undefined) body = JSON.stringify(opts.bodyJson);
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

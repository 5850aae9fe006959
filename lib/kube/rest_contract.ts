/**
 * The one seam every Kubernetes call goes through: a `RestClient` with a single
 * `performRequest` method, shaped like the `@cloudydeno/kubernetes-client` contract so
 * code written against that contract runs on our client (and a test fake needs one method).
 *
 * @module
 */

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
  /** The HTTP method. */
  method: HttpMethod;
  /** The request path, for example `/api/v1/namespaces/default/pods`. */
  path: string;
  /** Query parameters. */
  querystring?: URLSearchParams;
  /** Aborts the request (and, for streams, the body). */
  abortSignal?: AbortSignal;
  /** The body's content type; defaults to `application/json` when `bodyJson` is set. */
  contentType?: string;
  /** A raw body. */
  bodyRaw?: Uint8Array;
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

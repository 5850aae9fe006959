/**
 * A minimal HTTPS client for the test apiserver (the harness's own needs: readiness, CRDs,
 * TokenRequest). It is not the operator's Kubernetes client.
 *
 * @module
 */
import { ControlPlaneError } from "./errors.ts";

/** TLS material for talking to the apiserver. */
export interface ApiClientTls {
  /** CA that signed the apiserver's serving certificate (PEM). */
  caPem: string;
  /** Client certificate (PEM); omit to authenticate with a bearer token or not at all. */
  certPem?: string;
  /** Client key (PEM), with `certPem`. */
  keyPem?: string;
  /** Bearer token sent in `Authorization`. */
  token?: string;
}

/** A decoded JSON response. */
export interface JsonResponse {
  /** HTTP status code. */
  status: number;
  /** Parsed body, or the raw text when it is not JSON. */
  body: unknown;
}

/** HTTPS client bound to one apiserver URL and one identity. */
export class ApiClient {
  /** Base URL, `https://127.0.0.1:<port>`. */
  readonly url: string;
  #client: Deno.HttpClient;
  #token: string | undefined;

  /** Creates a client for `url` with `tls`; call {@linkcode ApiClient.close} when done. */
  constructor(url: string, tls: ApiClientTls) {
    this.url = url;
    this.#token = tls.token;
    this.#client = tls.certPem !== undefined && tls.keyPem !== undefined
      ? Deno.createHttpClient({ caCerts: [tls.caPem], cert: tls.certPem, key: tls.keyPem })
      : Deno.createHttpClient({ caCerts: [tls.caPem] });
  }

  /** Sends a request to `path` (such as `/api/v1/namespaces`) and returns the raw response. */
  fetch(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.#token !== undefined) headers.set("authorization", `Bearer ${this.#token}`);
    return fetch(new URL(path, this.url), { ...init, headers, client: this.#client });
  }

  /** Sends `body` as JSON (or as `contentType`) and decodes the JSON answer. */
  async json(
    method: string,
    path: string,
    options: { body?: unknown; contentType?: string } = {},
  ): Promise<JsonResponse> {
    const init: RequestInit = { method, headers: { accept: "application/json" } };
    if (options.body !== undefined) {
      init.body = JSON.stringify(options.body);
      init.headers = { ...init.headers, "content-type": options.contentType ?? "application/json" };
    }
    const response = await this.fetch(path, init);
    const text = await response.text();
    try {
      return { status: response.status, body: JSON.parse(text) };
    } catch {
      return { status: response.status, body: text };
    }
  }

  /** Like {@linkcode ApiClient.json}, but throws unless the status is one of `accept`. */
  async expect(
    accept: readonly number[],
    method: string,
    path: string,
    options: { body?: unknown; contentType?: string } = {},
  ): Promise<JsonResponse> {
    const response = await this.json(method, path, options);
    if (!accept.includes(response.status)) {
      throw new ControlPlaneError(
        `Cannot ${method} ${path}: HTTP ${response.status}: ${JSON.stringify(response.body)}`,
      );
    }
    return response;
  }

  /** Closes pooled connections. */
  close(): void {
    this.#client.close();
  }
}

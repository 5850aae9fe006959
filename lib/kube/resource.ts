/**
 * Typed access to one resource type: a descriptor of the kind (group, version, plural, scope, and
 * how to validate objects), the URL paths built from it, and `ResourceClient<T>` with get, list,
 * create, update, patch, delete, `/status` and watch over any `RestClient`. A watch response (one
 * JSON event per line) is decoded into typed events: an `ERROR` event with code 410 ends the
 * iteration with a `GoneError` (the caller must relist); an object that fails `decode` comes as an
 * `UNDECODABLE` event (with its resourceVersion) instead of ending the stream.
 *
 * @module
 */
import * as z from "zod";
import type { Status } from "kubernetes-types/meta/v1.d.ts";
import {
  GoneError,
  type KubeApiError,
  kubeApiErrorFromStatus,
  type RequestContext,
} from "./errors.ts";
import type { JsonValue, RestClient } from "./rest_client.ts";
import { isPlainObject } from "../api/types.ts";

/**
 * The metadata fields the client itself reads. Loose enough that both `kubernetes-types`
 * objects and zod-inferred ones (whose optional fields admit `undefined`) fit.
 */
export interface KubeObjectMeta {
  name?: string | undefined;
  namespace?: string | undefined;
  /** The version for optimistic concurrency and watches. */
  resourceVersion?: string | undefined;
  uid?: string | undefined;
}

/** The common shape of every Kubernetes object. */
export interface KubeObject {
  /** `group/version`, or `v1` for the core group. */
  apiVersion?: string | undefined;
  /** The kind, for example `Pod`. */
  kind?: string | undefined;
  metadata?: KubeObjectMeta | undefined;
}

/** An object from the API server failed validation against its kind's schema. */
export class KubeDecodeError extends TypeError {
  /** Builds `Cannot decode <Kind> "<name>": <detail>`. */
  constructor(kind: string, name: string, detail: string, options?: ErrorOptions) {
    super(`Cannot decode ${kind} "${name}": ${detail}`, options);
    this.name = "KubeDecodeError";
  }
}

/** An object the server sent that does not match its kind's schema, kept as it came. */
export interface UndecodableObject {
  /** The object as the server sent it (with `apiVersion` and `kind` filled in). */
  raw: Record<string, unknown>;
  /** Why it could not be decoded. */
  error: KubeDecodeError;
}

/** The outcome of {@linkcode decodeLeniently}: the typed object, or the raw one and why. */
export type LenientDecodeResult<T> =
  | { ok: true; object: T }
  | { ok: false; undecodable: UndecodableObject };

/**
 * Decodes one object of a list or watch (without its `metadata.managedFields`, see
 * {@linkcode withoutManagedFields}), returning a failure as a value so one bad object does not
 * fail the rest.
 *
 * @throws {KubeDecodeError} when the value is not even an object (the response is malformed)
 */
export function decodeLeniently<T extends KubeObject>(
  resource: Pick<ResourceDescriptor<T>, "apiVersion" | "kind" | "decode">,
  value: unknown,
): LenientDecodeResult<T> {
  if (!isPlainObject(value)) throw new KubeDecodeError(resource.kind, "", "it is not an object");
  try {
    return { ok: true, object: resource.decode(withoutManagedFields(value)) };
  } catch (error) {
    if (!(error instanceof KubeDecodeError)) throw error;
    const raw = {
      ...value,
      apiVersion: value.apiVersion ?? resource.apiVersion,
      kind: value.kind ?? resource.kind,
    };
    return { ok: false, undecodable: { raw, error } };
  }
}

/**
 * The object without `metadata.managedFields` (often half its size), for what lists and watches
 * fill the caches with: nothing here reads it, and an update that leaves it out keeps the
 * server's unchanged (only an explicit `[{}]` clears it).
 */
export function withoutManagedFields(value: unknown): unknown {
  if (
    !isPlainObject(value) || !isPlainObject(value.metadata) || !("managedFields" in value.metadata)
  ) {
    return value;
  }
  const { managedFields: _dropped, ...metadata } = value.metadata;
  return { ...value, metadata };
}

/** Anything with a zod-like `parse` (a zod schema, or a hand-written validator). */
export interface ObjectParser<T> {
  /** Returns the validated object or throws. */
  parse(value: unknown): T;
}

/** Describes one resource type of the API. */
export interface ResourceDescriptor<T extends KubeObject> {
  /** The API group; `""` for the core group. */
  readonly group: string;
  /** The version, for example `v1`. */
  readonly version: string;
  /** `group/version`, or just the version for the core group. */
  readonly apiVersion: string;
  /** The kind, for example `Pod`. */
  readonly kind: string;
  /** The URL segment, for example `pods`. */
  readonly plural: string;
  readonly namespaced: boolean;
  /**
   * Validates an object from the server, filling in `apiVersion` and `kind` (list items
   * of built-in kinds come without them).
   *
   * @throws {KubeDecodeError} when the object does not match
   */
  decode(value: unknown): T;
}

/** Input of `defineResource`. */
export interface ResourceDefinition<T extends KubeObject> {
  /** The API group; `""` for the core group. */
  group: string;
  version: string;
  kind: string;
  plural: string;
  namespaced: boolean;
  /**
   * Validates objects; a zod schema fits. Without it, objects are only checked to be
   * objects with `metadata.name` (enough for built-in kinds, typed by `kubernetes-types`).
   */
  schema?: ObjectParser<T>;
}

function nameOf(value: Record<string, unknown>): string {
  const metadata = value.metadata;
  return isPlainObject(metadata) && typeof metadata.name === "string" ? metadata.name : "";
}

/** Builds a descriptor, for example `defineResource<Pod>({ group: "", version: "v1", ... })`. */
export function defineResource<T extends KubeObject>(
  definition: ResourceDefinition<T>,
): ResourceDescriptor<T> {
  const apiVersion = definition.group === ""
    ? definition.version
    : `${definition.group}/${definition.version}`;
  const kind = definition.kind;
  return {
    group: definition.group,
    version: definition.version,
    apiVersion,
    kind,
    plural: definition.plural,
    namespaced: definition.namespaced,
    decode(value: unknown): T {
      if (!isPlainObject(value)) throw new KubeDecodeError(kind, "", "it is not an object");
      const filled = {
        ...value,
        apiVersion: value.apiVersion ?? apiVersion,
        kind: value.kind ?? kind,
      };
      const name = nameOf(filled);
      if (!definition.schema) {
        if (name === "") throw new KubeDecodeError(kind, name, "metadata.name is missing");
        return filled as T;
      }
      try {
        return definition.schema.parse(filled);
      } catch (error) {
        throw new KubeDecodeError(kind, name, describe(error), { cause: error });
      }
    },
  };
}

function describe(error: unknown): string {
  const issues = (error as { issues?: { path: unknown; message: string }[] }).issues;
  if (Array.isArray(issues) && issues.length > 0) {
    return issues.slice(0, 3).map((issue) => {
      const path = Array.isArray(issue.path)
        ? issue.path.map(String).join(".")
        : String(issue.path);
      return path === "" ? issue.message : `${path}: ${issue.message}`;
    }).join("; ");
  }
  return error instanceof Error ? error.message : String(error);
}

/** Where a path points. */
export interface PathOptions {
  /** The namespace (namespaced kinds only; omit to address all namespaces in a list). */
  namespace?: string | undefined;
  name?: string | undefined;
  /** A subresource such as `status`. */
  subresource?: string | undefined;
}

/**
 * Builds the URL path of a collection or object, for example
 * `/apis/hostport.rmb938.com/v1alpha1/namespaces/default/hostportclaims/web/status`.
 *
 * @throws {TypeError} for a namespace on a cluster-scoped kind, a named object of a
 *   namespaced kind without a namespace, or a subresource without a name
 */
export function resourcePath(
  resource: ResourceDescriptor<KubeObject>,
  options: PathOptions = {},
): string {
  const { name, subresource } = options;
  const namespace = options.namespace || undefined; // "" means all namespaces, as in kubectl
  if (namespace !== undefined && !resource.namespaced) {
    throw new TypeError(
      `Cannot address ${resource.kind} in namespace "${namespace}" as it is cluster-scoped`,
    );
  }
  if (name !== undefined && resource.namespaced && namespace === undefined) {
    throw new TypeError(`Cannot address ${resource.kind} "${name}" as its namespace is missing`);
  }
  if (subresource !== undefined && name === undefined) {
    throw new TypeError(
      `Cannot address the ${subresource} of ${resource.kind} as the name is missing`,
    );
  }
  const base = resource.group === ""
    ? `/api/${resource.version}`
    : `/apis/${resource.group}/${resource.version}`;
  let path = namespace === undefined ? base : `${base}/namespaces/${encodeURIComponent(namespace)}`;
  path += `/${resource.plural}`;
  if (name !== undefined) path += `/${encodeURIComponent(name)}`;
  if (subresource !== undefined) path += `/${subresource}`;
  return path;
}

/** Options every call accepts. */
export interface CallOptions {
  abortSignal?: AbortSignal | undefined;
}

/** Where a named object lives (namespaced kinds need a namespace). */
export interface ObjectOptions extends CallOptions {
  namespace?: string | undefined;
}

/** An RFC 7386 JSON merge patch (`null` deletes a key), the one patch the operator sends. */
export interface Patch {
  type: "merge";
  body: unknown;
}

/** Options of delete. */
export interface DeleteOptions extends ObjectOptions {
  /** Delete only if the object still has this uid and/or resourceVersion (else 409). */
  preconditions?: { uid?: string | undefined; resourceVersion?: string | undefined } | undefined;
  /** Seconds before the object is deleted (pods); 0 means now. */
  gracePeriodSeconds?: number | undefined;
}

/** Selectors shared by list and watch. */
export interface SelectorOptions extends CallOptions {
  /** Limit to one namespace; omit for all namespaces (or a cluster-scoped kind). */
  namespace?: string | undefined;
  /** A label selector such as `app=web,tier!=db`. */
  labelSelector?: string | undefined;
}

/** Options of one list page. */
export interface ListOptions extends SelectorOptions {
  limit?: number | undefined;
  /** The `continue` token of the previous page. */
  continue?: string | undefined;
  /** Serve from this resourceVersion (`"0"`: any cached version). */
  resourceVersion?: string | undefined;
}

/** Options of a watch. */
export interface WatchOptions extends SelectorOptions {
  /** Start after this version; omit to get synthetic ADDED events for every object first. */
  resourceVersion?: string | undefined;
  /** Ask the server to end the watch after this many seconds. */
  timeoutSeconds?: number | undefined;
  /** Ask for BOOKMARK events; defaults to true. */
  allowWatchBookmarks?: boolean | undefined;
}

/** Builds a query string, leaving out undefined values. */
export function toQuery(
  params: Record<string, string | number | boolean | undefined>,
): URLSearchParams {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined) query.set(key, String(value));
  }
  return query;
}

/** One watch event. */
export type WatchEvent<T extends KubeObject> =
  | { type: "ADDED" | "MODIFIED" | "DELETED"; object: T }
  /** A progress marker: everything up to `resourceVersion` has been sent. */
  | { type: "BOOKMARK"; resourceVersion: string }
  /** The server reported a problem; the stream usually ends right after. */
  | { type: "ERROR"; status: Status; error: KubeApiError }
  /** An object event whose object does not match its kind; `raw` is the object as sent. */
  | {
    type: "UNDECODABLE";
    eventType: "ADDED" | "MODIFIED" | "DELETED";
    raw: Record<string, unknown>;
    /** Why it could not be decoded. */
    error: KubeDecodeError;
    /** The object's resourceVersion (`""` if it has none): a watch resumes after it. */
    resourceVersion: string;
  };

const RawEvent = z.object({
  type: z.enum(["ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"]),
  object: z.record(z.string(), z.unknown()),
});

const Bookmark = z.looseObject({
  metadata: z.looseObject({ resourceVersion: z.string().min(1) }),
});

/**
 * Turns one raw event into a typed one.
 *
 * @throws {SyntaxError} for a line that is not a watch event
 */
export function decodeWatchEvent<T extends KubeObject>(
  raw: unknown,
  decode: (value: unknown) => T,
  request?: RequestContext,
): WatchEvent<T> {
  const event = RawEvent.safeParse(raw);
  if (!event.success) {
    throw new SyntaxError(`Cannot decode a watch event: ${JSON.stringify(raw).slice(0, 200)}`);
  }
  const { type, object } = event.data;
  switch (type) {
    case "BOOKMARK": {
      const bookmark = Bookmark.safeParse(object);
      if (!bookmark.success) {
        throw new SyntaxError("Cannot decode a watch bookmark without resourceVersion");
      }
      return { type, resourceVersion: bookmark.data.metadata.resourceVersion };
    }
    case "ERROR": {
      const status = object as Status;
      return { type, status, error: kubeApiErrorFromStatus(status, request) };
    }
    default:
      try {
        return { type, object: decode(object) };
      } catch (error) {
        if (!(error instanceof KubeDecodeError)) throw error;
        return {
          type: "UNDECODABLE",
          eventType: type,
          raw: object,
          error,
          resourceVersion: rv(object),
        };
      }
  }
}

function rv(object: Record<string, unknown>): string {
  const metadata = object.metadata;
  if (typeof metadata !== "object" || metadata === null) return "";
  const version = (metadata as Record<string, unknown>).resourceVersion;
  return typeof version === "string" ? version : "";
}

/**
 * Iterates the typed events of a stream of parsed JSON lines. Leaving the loop early (or
 * an error) cancels the stream, which closes the connection. When `signal` aborts, the
 * stream is cancelled too (a second path besides fetch's own abort) and the iteration
 * throws the signal's reason.
 *
 * @throws {GoneError} when the server reports 410 (the resourceVersion is too old)
 */
export async function* decodeWatchStream<T extends KubeObject>(
  stream: ReadableStream<JsonValue>,
  decode: (value: unknown) => T,
  options: { request?: RequestContext; signal?: AbortSignal | undefined } = {},
): AsyncGenerator<WatchEvent<T>, void, undefined> {
  const reader = stream.getReader();
  const signal = options.signal;
  const onAbort = () => void reader.cancel(signal?.reason).catch(() => {});
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    while (true) {
      if (signal?.aborted) throw signal.reason;
      const { done, value } = await reader.read();
      if (signal?.aborted) throw signal.reason;
      if (done) return;
      const event = decodeWatchEvent(value, decode, options.request);
      if (event.type === "ERROR" && event.error instanceof GoneError) throw event.error;
      yield event;
    }
  } finally {
    signal?.removeEventListener("abort", onAbort);
    await reader.cancel().catch(() => {});
  }
}

const ListBody = z.looseObject({
  metadata: z.looseObject({
    resourceVersion: z.string().optional(),
    continue: z.string().optional(),
  }).optional(),
  items: z.array(z.unknown()).nullable(),
});

/**
 * A page of a list: the objects that decode in `items`, and those that do not (valid to the API
 * server, which may have stored them under an older schema, but not to ours) in `undecodable`.
 */
export interface ListPage<T extends KubeObject> {
  items: T[];
  /** The objects that failed `resource.decode`, in list order. */
  undecodable: readonly UndecodableObject[];
  /** The collection's resourceVersion (watch from here). */
  resourceVersion: string;
  /** The token for the next page, absent on the last page. */
  continue?: string | undefined;
}

/** The default page size of `listAll`. */
export const DEFAULT_PAGE_SIZE = 500;

/** Typed access to one resource type. Errors are the `KubeApiError` family. */
export class ResourceClient<T extends KubeObject> {
  readonly resource: ResourceDescriptor<T>;
  #client: RestClient;

  /** Creates a client for `resource` over `client`. */
  constructor(client: RestClient, resource: ResourceDescriptor<T>) {
    this.#client = client;
    this.resource = resource;
  }

  #path(name: string | undefined, namespace: string | undefined, subresource?: string): string {
    return resourcePath(this.resource, { name, namespace, subresource });
  }

  async #request(
    method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE",
    path: string,
    options: CallOptions & { query?: URLSearchParams; body?: unknown; contentType?: string },
  ): Promise<unknown> {
    return await this.#client.performRequest({
      method,
      path,
      expectJson: true,
      ...(options.query && options.query.size > 0 ? { querystring: options.query } : {}),
      ...(options.body === undefined ? {} : { bodyJson: options.body }),
      ...(options.contentType ? { contentType: options.contentType } : {}),
      ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
    });
  }

  /** Reads one object. @throws {NotFoundError} when it does not exist */
  async get(name: string, options: ObjectOptions = {}): Promise<T> {
    const body = await this.#request("GET", this.#path(name, options.namespace), options);
    return this.resource.decode(body);
  }

  /**
   * Reads one page of objects (all namespaces unless `namespace` is set). An object that does
   * not decode does not fail the page: it is returned in `undecodable`.
   */
  async list(options: ListOptions = {}): Promise<ListPage<T>> {
    const query = toQuery({
      labelSelector: options.labelSelector,
      limit: options.limit,
      continue: options.continue,
      resourceVersion: options.resourceVersion,
    });
    const raw = await this.#request("GET", this.#path(undefined, options.namespace), {
      ...options,
      query,
    });
    const body = ListBody.parse(raw);
    const items: T[] = [];
    const undecodable: UndecodableObject[] = [];
    for (const item of body.items ?? []) {
      const decoded = decodeLeniently(this.resource, item);
      if (decoded.ok) items.push(decoded.object);
      else undecodable.push(decoded.undecodable);
    }
    const page: ListPage<T> = {
      items,
      undecodable,
      resourceVersion: body.metadata?.resourceVersion ?? "",
    };
    if (body.metadata?.continue) page.continue = body.metadata.continue;
    return page;
  }

  /**
   * Reads every page (`limit` per request, default 500) from one consistent snapshot. Objects
   * that do not decode are returned in `undecodable`, not thrown: a caller for whom a missing
   * object is unsafe (one that frees what objects hold) must check it.
   *
   * @throws {GoneError} when the continue token expires between pages (list again)
   */
  async listAll(options: Omit<ListOptions, "continue"> = {}): Promise<ListPage<T>> {
    const limit = options.limit ?? DEFAULT_PAGE_SIZE;
    const items: T[] = [];
    const undecodable: UndecodableObject[] = [];
    let token: string | undefined;
    let resourceVersion = "";
    do {
      const page = await this.list({ ...options, limit, ...(token ? { continue: token } : {}) });
      items.push(...page.items);
      undecodable.push(...page.undecodable);
      resourceVersion = page.resourceVersion;
      token = page.continue;
    } while (token);
    return { items, undecodable, resourceVersion };
  }

  /** Creates an object. @throws {AlreadyExistsError} when the name is taken */
  async create(object: T, options: ObjectOptions = {}): Promise<T> {
    const namespace = this.resource.namespaced
      ? (object.metadata?.namespace ?? options.namespace)
      : undefined;
    const body = await this.#request("POST", this.#path(undefined, namespace), {
      ...options,
      body: object,
    });
    return this.resource.decode(body);
  }

  /** Replaces an object (PUT); a stale `metadata.resourceVersion` gives `ConflictError`. */
  update(object: T, options: ObjectOptions = {}): Promise<T> {
    return this.#put(object, options);
  }

  /** Replaces the `/status` subresource; changes outside `status` are ignored by the server. */
  updateStatus(object: T, options: ObjectOptions = {}): Promise<T> {
    return this.#put(object, options, "status");
  }

  async #put(object: T, options: ObjectOptions, subresource?: string): Promise<T> {
    const name = object.metadata?.name;
    if (!name) {
      throw new TypeError(`Cannot write ${this.resource.kind} as metadata.name is missing`);
    }
    const namespace = this.resource.namespaced
      ? (object.metadata?.namespace ?? options.namespace)
      : undefined;
    const body = await this.#request("PUT", this.#path(name, namespace, subresource), {
      ...options,
      body: object,
    });
    return this.resource.decode(body);
  }

  /** Merge-patches an object. */
  patch(name: string, patch: Patch, options: ObjectOptions = {}): Promise<T> {
    return this.#patch(name, patch, options);
  }

  /** Merge-patches the `/status` subresource. */
  patchStatus(name: string, patch: Patch, options: ObjectOptions = {}): Promise<T> {
    return this.#patch(name, patch, options, "status");
  }

  async #patch(name: string, patch: Patch, options: ObjectOptions, sub?: string): Promise<T> {
    const body = await this.#request("PATCH", this.#path(name, options.namespace, sub), {
      ...options,
      body: patch.body,
      contentType: "application/merge-patch+json",
    });
    return this.resource.decode(body);
  }

  /**
   * Deletes an object. Returns the object when the server still holds it (finalizers,
   * graceful deletion), or undefined when it was deleted at once (the server answers a Status).
   *
   * @throws {NotFoundError} when it does not exist
   * @throws {ConflictError} when a precondition fails
   */
  async delete(name: string, options: DeleteOptions = {}): Promise<T | undefined> {
    const deleteOptions: Record<string, unknown> = { apiVersion: "v1", kind: "DeleteOptions" };
    if (options.preconditions) deleteOptions.preconditions = options.preconditions;
    if (options.gracePeriodSeconds !== undefined) {
      deleteOptions.gracePeriodSeconds = options.gracePeriodSeconds;
    }
    const body = await this.#request("DELETE", this.#path(name, options.namespace), {
      ...options,
      body: deleteOptions,
    });
    const kind = (body as { kind?: unknown } | null)?.kind;
    return kind === this.resource.kind ? this.resource.decode(body) : undefined;
  }

  /**
   * Watches for changes. The iteration ends when the server closes the watch; abort with
   * `abortSignal` or leave the loop to close it early. An object that does not decode comes as
   * an `UNDECODABLE` event carrying its resourceVersion, so a watch can resume after it.
   *
   * @throws {GoneError} when `resourceVersion` is too old (relist, then watch again)
   */
  async *watch(options: WatchOptions = {}): AsyncGenerator<WatchEvent<T>, void, undefined> {
    const path = this.#path(undefined, options.namespace);
    const querystring = toQuery({
      watch: true,
      labelSelector: options.labelSelector,
      resourceVersion: options.resourceVersion,
      timeoutSeconds: options.timeoutSeconds,
      allowWatchBookmarks: options.allowWatchBookmarks ?? true,
    });
    const stream = await this.#client.performRequest({
      method: "GET",
      path,
      querystring,
      expectStream: true,
      expectJson: true,
      ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
    });
    yield* decodeWatchStream(stream, (value) => this.resource.decode(withoutManagedFields(value)), {
      request: { method: "GET", path },
      signal: options.abortSignal,
    });
  }
}

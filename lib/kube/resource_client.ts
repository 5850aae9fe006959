/**
 * `ResourceClient<T>`: typed get, list, create, update, patch, delete, `/status` and watch
 * for one resource type, over any `RestClient`.
 *
 * @module
 */
import * as z from "zod";
import {
  decodeLeniently,
  type KubeObject,
  type ResourceDescriptor,
  resourcePath,
  type UndecodableObject,
  withoutManagedFields,
} from "./resource.ts";
import {
  type CallOptions,
  type DeleteOptions,
  type ListOptions,
  type ListPage,
  type ObjectOptions,
  type Patch,
  PATCH_CONTENT_TYPES,
  type PatchOptions,
  toQuery,
  type WatchOptions,
  type WriteOptions,
  writeQuery,
} from "./resource_options.ts";
import type { RestClient } from "./rest_contract.ts";
import { decodeWatchStream, type WatchEvent } from "./watch.ts";

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
export interface LenientListPage<T extends KubeObject> extends ListPage<T> {
  /** The objects that failed `resource.decode`, in list order. */
  undecodable: readonly UndecodableObject[];
}

/** The default page size of `listAll`. */
export const DEFAULT_PAGE_SIZE = 500;

/** Typed access to one resource type. Errors are the `KubeApiError` family. */
export class ResourceClient<T extends KubeObject> {
  /** The descriptor this client was built from. */
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

  #target(object: T, options: ObjectOptions): { name: string; namespace: string | undefined } {
    const name = object.metadata?.name;
    if (!name) {
      throw new TypeError(`Cannot write ${this.resource.kind} as metadata.name is missing`);
    }
    const namespace = this.resource.namespaced
      ? (object.metadata?.namespace ?? options.namespace)
      : undefined;
    return { name, namespace };
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
  async list(options: ListOptions = {}): Promise<LenientListPage<T>> {
    const query = toQuery({
      labelSelector: options.labelSelector,
      fieldSelector: options.fieldSelector,
      limit: options.limit,
      continue: options.continue,
      resourceVersion: options.resourceVersion,
      resourceVersionMatch: options.resourceVersionMatch,
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
    const page: LenientListPage<T> = {
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
  async listAll(options: Omit<ListOptions, "continue"> = {}): Promise<LenientListPage<T>> {
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
  async create(object: T, options: WriteOptions = {}): Promise<T> {
    const namespace = this.resource.namespaced
      ? (object.metadata?.namespace ?? options.namespace)
      : undefined;
    const body = await this.#request("POST", this.#path(undefined, namespace), {
      ...options,
      query: writeQuery(options),
      body: object,
    });
    return this.resource.decode(body);
  }

  /** Replaces an object (PUT); a stale `metadata.resourceVersion` gives `ConflictError`. */
  update(object: T, options: WriteOptions = {}): Promise<T> {
    return this.#put(object, options);
  }

  /** Replaces the `/status` subresource; changes outside `status` are ignored by the server. */
  updateStatus(object: T, options: WriteOptions = {}): Promise<T> {
    return this.#put(object, options, "status");
  }

  async #put(object: T, options: WriteOptions, subresource?: string): Promise<T> {
    const { name, namespace } = this.#target(object, options);
    const body = await this.#request("PUT", this.#path(name, namespace, subresource), {
      ...options,
      query: writeQuery(options),
      body: object,
    });
    return this.resource.decode(body);
  }

  /** Patches an object (merge, JSON, strategic, or server-side apply). */
  patch(name: string, patch: Patch, options: PatchOptions = {}): Promise<T> {
    return this.#patch(name, patch, options);
  }

  /** Patches the `/status` subresource. */
  patchStatus(name: string, patch: Patch, options: PatchOptions = {}): Promise<T> {
    return this.#patch(name, patch, options, "status");
  }

  /** Server-side apply of `object` (a partial object naming only the fields you own). */
  apply(object: T, options: PatchOptions & { fieldManager: string }): Promise<T> {
    const { name, namespace } = this.#target(object, options);
    return this.#patch(name, { type: "apply", body: object }, { ...options, namespace });
  }

  async #patch(name: string, patch: Patch, options: PatchOptions, sub?: string): Promise<T> {
    if (patch.type === "apply" && !options.fieldManager) {
      throw new TypeError(
        `Cannot apply ${this.resource.kind} "${name}" as fieldManager is missing`,
      );
    }
    const body = await this.#request("PATCH", this.#path(name, options.namespace, sub), {
      ...options,
      query: writeQuery(options),
      body: patch.type === "json" ? patch.operations : patch.body,
      contentType: PATCH_CONTENT_TYPES[patch.type],
    });
    return this.resource.decode(body);
  }

  /** Reads the `/status` subresource (the whole object). */
  async getStatus(name: string, options: ObjectOptions = {}): Promise<T> {
    const path = this.#path(name, options.namespace, "status");
    return this.resource.decode(await this.#request("GET", path, options));
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
    if (options.propagationPolicy) deleteOptions.propagationPolicy = options.propagationPolicy;
    if (options.gracePeriodSeconds !== undefined) {
      deleteOptions.gracePeriodSeconds = options.gracePeriodSeconds;
    }
    if (options.dryRun) deleteOptions.dryRun = ["All"];
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
      fieldSelector: options.fieldSelector,
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

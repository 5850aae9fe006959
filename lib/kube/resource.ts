/**
 * Typed access to resource types: a descriptor per kind (URL parts and validation) and
 * `ResourceClient<T>` over any `RestClient`. An object that fails `decode` does not end a list or
 * a watch: it comes back as undecodable.
 *
 * @module
 */
import * as z from "zod";
import type { Status } from "kubernetes-types/meta/v1.d.ts";
import type {
  MutatingWebhookConfiguration,
  ValidatingWebhookConfiguration,
} from "kubernetes-types/admissionregistration/v1.d.ts";
import type { CustomResourceDefinition } from "kubernetes-types/apiextensions/v1.d.ts";
import type { StatefulSet } from "kubernetes-types/apps/v1.d.ts";
import type { Lease } from "kubernetes-types/coordination/v1.d.ts";
import type { ConfigMap, Pod, ResourceQuota, Secret } from "kubernetes-types/core/v1.d.ts";
import type { Event } from "kubernetes-types/events/v1.d.ts";
import {
  GoneError,
  type KubeApiError,
  kubeApiErrorFromStatus,
  type RequestContext,
  type RequestOptions,
  type RestClient,
} from "./rest_client.ts";
import { GROUP, KIND, PLURAL, VERSION } from "../api/constants.ts";
import {
  errorMessage,
  HostPortClaimSchema,
  HostPortClaimTemplateSchema,
  HostPortClassSchema,
  HostPortSchema,
  isPlainObject,
  parseObject,
} from "../api/types.ts";

/** The common shape of every Kubernetes object. */
export interface KubeObject {
  apiVersion?: string | undefined;
  kind?: string | undefined;
  metadata?: {
    name?: string | undefined;
    namespace?: string | undefined;
    resourceVersion?: string | undefined;
    uid?: string | undefined;
  } | undefined;
}

/** An object from the API server failed validation against its kind's schema. */
export class KubeDecodeError extends TypeError {
  /** Builds `Cannot decode <Kind> "<name>": <detail>`. */
  constructor(kind: string, name: string, detail: string, options?: ErrorOptions) {
    super(`Cannot decode ${kind} "${name}": ${detail}`, options);
    this.name = "KubeDecodeError";
  }
}

/** An object the server sent that does not match its kind's schema. */
export interface UndecodableObject {
  /** As sent, with `apiVersion` and `kind` filled in. */
  raw: Record<string, unknown>;
  error: KubeDecodeError;
}

/** Describes one resource type of the API. */
export interface ResourceDescriptor<T extends KubeObject> {
  /** The API group; `""` for the core group. */
  readonly group: string;
  readonly version: string;
  readonly apiVersion: string;
  readonly kind: string;
  readonly plural: string;
  readonly namespaced: boolean;
  /** Validates an object, filling in `apiVersion` and `kind`. @throws {KubeDecodeError} */
  decode(value: unknown): T;
}

/**
 * Decodes one listed or watched object (without `metadata.managedFields`), returning a failure as
 * a value.
 *
 * @throws {KubeDecodeError} when the value is not even an object
 */
export function decodeLeniently<T extends KubeObject>(
  resource: Pick<ResourceDescriptor<T>, "apiVersion" | "kind" | "decode">,
  value: unknown,
): { ok: true; object: T } | { ok: false; undecodable: UndecodableObject } {
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
 * The object without `metadata.managedFields` (often half its size): nothing here reads it, and
 * an update that leaves it out keeps the server's unchanged (only an explicit `[{}]` clears it).
 */
function withoutManagedFields(value: Record<string, unknown>): Record<string, unknown> {
  if (!isPlainObject(value.metadata) || !("managedFields" in value.metadata)) return value;
  const { managedFields: _dropped, ...metadata } = value.metadata;
  return { ...value, metadata };
}

/** Builds a descriptor; without `schema` objects are only checked to have `metadata.name`. */
export function defineResource<T extends KubeObject>(definition: {
  group: string;
  version: string;
  kind: string;
  plural: string;
  namespaced: boolean;
  schema?: { parse(value: unknown): T };
}): ResourceDescriptor<T> {
  const { schema, ...names } = definition;
  const { group, version, kind } = names;
  const apiVersion = group === "" ? version : `${group}/${version}`;
  return {
    ...names,
    apiVersion,
    decode(value: unknown): T {
      if (!isPlainObject(value)) throw new KubeDecodeError(kind, "", "it is not an object");
      const filled = {
        ...value,
        apiVersion: value.apiVersion ?? apiVersion,
        kind: value.kind ?? kind,
      };
      const name = isPlainObject(value.metadata) && typeof value.metadata.name === "string"
        ? value.metadata.name
        : "";
      if (!schema) {
        if (name === "") throw new KubeDecodeError(kind, name, "metadata.name is missing");
        return filled as T;
      }
      try {
        return schema.parse(filled);
      } catch (error) {
        throw new KubeDecodeError(kind, name, describe(error), { cause: error });
      }
    },
  };
}

function describe(error: unknown): string {
  const issues = (error as { issues?: { path: unknown; message: string }[] }).issues;
  if (!Array.isArray(issues) || issues.length === 0) return errorMessage(error);
  return issues.slice(0, 3).map((issue) => {
    const path = Array.isArray(issue.path) ? issue.path.map(String).join(".") : String(issue.path);
    return path === "" ? issue.message : `${path}: ${issue.message}`;
  }).join("; ");
}

/** Where a collection, an object or its subresource is. */
export interface ObjectAddress {
  namespace?: string | undefined;
  name?: string | undefined;
  subresource?: string | undefined;
}

/**
 * Builds the URL path of a collection or object (`namespace: ""` means all namespaces).
 *
 * @throws {TypeError} for a path that cannot address this kind
 */
export function resourcePath(
  resource: ResourceDescriptor<KubeObject>,
  options: ObjectAddress = {},
): string {
  const { name, subresource } = options;
  const { kind, namespaced } = resource;
  const namespace = options.namespace || undefined;
  if (namespace !== undefined && !namespaced) {
    throw new TypeError(
      `Cannot address ${kind} in namespace "${namespace}" as it is cluster-scoped`,
    );
  }
  if (name !== undefined && namespaced && namespace === undefined) {
    throw new TypeError(`Cannot address ${kind} "${name}" as its namespace is missing`);
  }
  if (subresource !== undefined && name === undefined) {
    throw new TypeError(`Cannot address the ${subresource} of ${kind} as the name is missing`);
  }
  let path = resource.group === ""
    ? `/api/${resource.version}`
    : `/apis/${resource.group}/${resource.version}`;
  if (namespace !== undefined) path += `/namespaces/${encodeURIComponent(namespace)}`;
  path += `/${resource.plural}`;
  if (name !== undefined) path += `/${encodeURIComponent(name)}`;
  return subresource === undefined ? path : `${path}/${subresource}`;
}

/** Where a named object lives, and the call's abort signal. */
export interface ObjectOptions {
  namespace?: string | undefined;
  abortSignal?: AbortSignal | undefined;
}

/** Options of a list (`namespace` omitted: all namespaces). */
export interface ListOptions extends ObjectOptions {
  labelSelector?: string | undefined;
}

/** Options of a watch. */
export interface WatchOptions extends ListOptions {
  /** Start after this version; omit to get synthetic ADDED events for every object first. */
  resourceVersion?: string | undefined;
  timeoutSeconds?: number | undefined;
}

function toQuery(params: Record<string, string | number | boolean | undefined>): URLSearchParams {
  const set = Object.entries(params).filter(([, value]) => value !== undefined);
  return new URLSearchParams(set.map(([key, value]) => [key, String(value)]));
}

/** One watch event. */
export type WatchEvent<T extends KubeObject> =
  | { type: "ADDED" | "MODIFIED" | "DELETED"; object: T }
  /** A progress marker: everything up to `resourceVersion` has been sent. */
  | { type: "BOOKMARK"; resourceVersion: string }
  | { type: "ERROR"; status: Status; error: KubeApiError }
  /** An object that does not match its kind, with its resourceVersion (`""` if none). */
  | UndecodableObject & {
    type: "UNDECODABLE";
    eventType: "ADDED" | "MODIFIED" | "DELETED";
    resourceVersion: string;
  };

const RawEvent = z.object({
  type: z.enum(["ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"]),
  object: z.record(z.string(), z.unknown()),
});

/** Turns one raw event into a typed one. @throws {SyntaxError} for a line that is not an event */
export function decodeWatchEvent<T extends KubeObject>(
  raw: unknown,
  resource: Pick<ResourceDescriptor<T>, "apiVersion" | "kind" | "decode">,
  request?: RequestContext,
): WatchEvent<T> {
  const event = RawEvent.safeParse(raw);
  if (!event.success) {
    throw new SyntaxError(`Cannot decode a watch event: ${JSON.stringify(raw).slice(0, 200)}`);
  }
  const { type, object } = event.data;
  if (type === "BOOKMARK") {
    const resourceVersion = versionOf(object);
    if (resourceVersion === "") {
      throw new SyntaxError("Cannot decode a watch bookmark without resourceVersion");
    }
    return { type, resourceVersion };
  }
  if (type === "ERROR") {
    const status = object as Status;
    return { type, status, error: kubeApiErrorFromStatus(status, request) };
  }
  const decoded = decodeLeniently(resource, object);
  if (decoded.ok) return { type, object: decoded.object };
  const resourceVersion = versionOf(object);
  return { type: "UNDECODABLE", eventType: type, ...decoded.undecodable, resourceVersion };
}

function versionOf(object: Record<string, unknown>): string {
  const version = isPlainObject(object.metadata) ? object.metadata.resourceVersion : undefined;
  return typeof version === "string" ? version : "";
}

const ListBody = z.looseObject({
  metadata: z.looseObject({
    resourceVersion: z.string().optional(),
    continue: z.string().optional(),
  }).optional(),
  items: z.array(z.unknown()).nullable(),
});

/** A list: the objects that decode, and those that do not. */
export interface ListResult<T extends KubeObject> {
  items: T[];
  undecodable: UndecodableObject[];
  /** The collection's resourceVersion (watch from here). */
  resourceVersion: string;
}

/** Typed access to one resource type. Errors are the `KubeApiError` family. */
export class ResourceClient<T extends KubeObject> {
  #client: RestClient;

  /** Creates a client for `resource` over `client`. */
  constructor(client: RestClient, readonly resource: ResourceDescriptor<T>) {
    this.#client = client;
  }

  async #send(
    method: RequestOptions["method"],
    at: ObjectAddress,
    options: ObjectOptions & { query?: URLSearchParams; body?: unknown; contentType?: string },
  ): Promise<unknown> {
    return await this.#client.performRequest({
      method,
      path: resourcePath(this.resource, at),
      querystring: options.query,
      bodyJson: options.body,
      contentType: options.contentType,
      abortSignal: options.abortSignal,
    });
  }

  #namespaceOf(object: T, options: ObjectOptions): string | undefined {
    return this.resource.namespaced ? (object.metadata?.namespace ?? options.namespace) : undefined;
  }

  /** Reads one object. @throws {NotFoundError} when it does not exist */
  async get(name: string, options: ObjectOptions = {}): Promise<T> {
    const at = { name, namespace: options.namespace };
    return this.resource.decode(await this.#send("GET", at, options));
  }

  /**
   * Reads every page (500 objects per request) from one consistent snapshot; an object that does
   * not decode is returned in `undecodable`. A caller for whom a missing object is unsafe (one
   * that frees what objects hold) must check `undecodable`.
   *
   * @throws {GoneError} when the continue token expires between pages (list again)
   */
  async listAll(options: ListOptions = {}): Promise<ListResult<T>> {
    const all: ListResult<T> = { items: [], undecodable: [], resourceVersion: "" };
    let token: string | undefined;
    do {
      const query = toQuery({ labelSelector: options.labelSelector, limit: 500, continue: token });
      const at = { namespace: options.namespace };
      const body = ListBody.parse(await this.#send("GET", at, { ...options, query }));
      for (const item of body.items ?? []) {
        const decoded = decodeLeniently(this.resource, item);
        if (decoded.ok) all.items.push(decoded.object);
        else all.undecodable.push(decoded.undecodable);
      }
      all.resourceVersion = body.metadata?.resourceVersion ?? "";
      token = body.metadata?.continue;
    } while (token);
    return all;
  }

  /** Creates an object. @throws {AlreadyExistsError} when the name is taken */
  async create(object: T, options: ObjectOptions = {}): Promise<T> {
    const at = { namespace: this.#namespaceOf(object, options) };
    return this.resource.decode(await this.#send("POST", at, { ...options, body: object }));
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
    const at = { name, namespace: this.#namespaceOf(object, options), subresource };
    return this.resource.decode(await this.#send("PUT", at, { ...options, body: object }));
  }

  /** Applies an RFC 7386 JSON merge patch (`null` deletes a key) to an object. */
  patch(name: string, body: unknown, options: ObjectOptions = {}): Promise<T> {
    return this.#patch(name, body, options);
  }

  /** Merge-patches the `/status` subresource. */
  patchStatus(name: string, body: unknown, options: ObjectOptions = {}): Promise<T> {
    return this.#patch(name, body, options, "status");
  }

  async #patch(name: string, body: unknown, options: ObjectOptions, sub?: string): Promise<T> {
    const at = { name, namespace: options.namespace, subresource: sub };
    const request = { ...options, body, contentType: "application/merge-patch+json" };
    return this.resource.decode(await this.#send("PATCH", at, request));
  }

  /**
   * Deletes an object; returns it while finalizers hold it, undefined once it is gone.
   *
   * @throws {NotFoundError} when it does not exist
   * @throws {ConflictError} when a precondition fails
   */
  async delete(
    name: string,
    options: ObjectOptions & { preconditions?: { uid?: string | undefined } } = {},
  ): Promise<T | undefined> {
    const { preconditions } = options; // JSON leaves out an undefined one
    const body = { apiVersion: "v1", kind: "DeleteOptions", preconditions };
    const at = { name, namespace: options.namespace };
    const answer = await this.#send("DELETE", at, { ...options, body });
    const kind = (answer as { kind?: unknown } | null)?.kind;
    return kind === this.resource.kind ? this.resource.decode(answer) : undefined;
  }

  /**
   * Watches until the server closes the watch, `abortSignal` aborts or the loop is left.
   *
   * @throws {GoneError} when `resourceVersion` is too old (relist, then watch again)
   */
  async *watch(options: WatchOptions = {}): AsyncGenerator<WatchEvent<T>, void, undefined> {
    const path = resourcePath(this.resource, { namespace: options.namespace });
    const stream = await this.#client.performRequest({
      method: "GET",
      path,
      querystring: toQuery({
        watch: true,
        labelSelector: options.labelSelector,
        resourceVersion: options.resourceVersion,
        timeoutSeconds: options.timeoutSeconds,
        allowWatchBookmarks: true,
      }),
      expectStream: true,
      abortSignal: options.abortSignal,
    });
    for await (const value of stream) {
      options.abortSignal?.throwIfAborted(); // events may still be buffered
      const event = decodeWatchEvent(value, this.resource, { method: "GET", path });
      if (event.type === "ERROR" && event.error instanceof GoneError) throw event.error;
      yield event;
    }
  }
}

/** A built-in `v1` kind of `group` (`""`: core), whose plural is its lower-cased kind + s. */
function builtin<T extends KubeObject>(group: string, kind: string, namespaced = true) {
  const plural = `${kind.toLowerCase()}s`;
  return defineResource<T>({ group, version: "v1", kind, plural, namespaced });
}

/** One of our kinds; its objects parse with `schema`, as `parseObject` reports issues. */
function ours<T extends KubeObject>(
  kind: keyof typeof KIND,
  namespaced: boolean,
  schema: z.ZodType<T>,
) {
  const plural = PLURAL[kind];
  return defineResource<T>({
    group: GROUP,
    version: VERSION,
    kind,
    plural,
    namespaced,
    schema: { parse: (value: unknown) => parseObject(schema, value, kind) },
  });
}

/** `v1` Pods. */
export const POD_RESOURCE = builtin<Pod>("", "Pod");
/** `v1` ConfigMaps (the allocation record). */
export const CONFIG_MAP_RESOURCE = builtin<ConfigMap>("", "ConfigMap");
/** `apiextensions.k8s.io/v1` CustomResourceDefinitions. */
export const CUSTOM_RESOURCE_DEFINITION_RESOURCE = builtin<CustomResourceDefinition>(
  "apiextensions.k8s.io",
  "CustomResourceDefinition",
  false,
);
/** Cluster-scoped HostPortClasses (pools of ports). */
export const HOST_PORT_CLASS_RESOURCE = ours("HostPortClass", false, HostPortClassSchema);
/** Namespaced HostPortClaims. */
export const HOST_PORT_CLAIM_RESOURCE = ours("HostPortClaim", true, HostPortClaimSchema);
/** Cluster-scoped HostPorts (one allocated port each). */
export const HOST_PORT_RESOURCE = ours("HostPort", false, HostPortSchema);

/** One `ResourceClient` per kind the operator uses, over one `RestClient` (`rest`). */
export type KubeClients = ReturnType<typeof clientsOver>;

/** Builds the typed clients over `rest`. */
export const createKubeClients: (rest: RestClient) => KubeClients = clientsOver;

function clientsOver(rest: RestClient) {
  const client = <T extends KubeObject>(resource: ResourceDescriptor<T>) =>
    new ResourceClient(rest, resource);
  const admission = "admissionregistration.k8s.io";
  return {
    rest,
    pods: client(POD_RESOURCE),
    secrets: client(builtin<Secret>("", "Secret")),
    events: client(builtin<Event>("events.k8s.io", "Event")),
    leases: client(builtin<Lease>("coordination.k8s.io", "Lease")),
    mutatingWebhookConfigurations: client(
      builtin<MutatingWebhookConfiguration>(admission, "MutatingWebhookConfiguration", false),
    ),
    validatingWebhookConfigurations: client(
      builtin<ValidatingWebhookConfiguration>(admission, "ValidatingWebhookConfiguration", false),
    ),
    hostPortClasses: client(HOST_PORT_CLASS_RESOURCE),
    hostPortClaims: client(HOST_PORT_CLAIM_RESOURCE),
    hostPorts: client(HOST_PORT_RESOURCE),
    hostPortClaimTemplates: client(
      ours("HostPortClaimTemplate", true, HostPortClaimTemplateSchema),
    ),
    statefulSets: client(builtin<StatefulSet>("apps", "StatefulSet")),
    quotas: client(builtin<ResourceQuota>("", "ResourceQuota")),
  };
}

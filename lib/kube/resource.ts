/**
 * Resource descriptors: what the client needs to know about a kind (group, version,
 * plural, scope, and how to validate objects) and the URL paths built from it.
 *
 * @module
 */
/**
 * The metadata fields the client itself reads. Loose enough that both `kubernetes-types`
 * objects and zod-inferred ones (whose optional fields admit `undefined`) fit.
 */
export interface KubeObjectMeta {
  /** The object's name. */
  name?: string | undefined;
  /** The namespace of a namespaced object. */
  namespace?: string | undefined;
  /** The version for optimistic concurrency and watches. */
  resourceVersion?: string | undefined;
  /** The unique id. */
  uid?: string | undefined;
}

/** The common shape of every Kubernetes object. */
export interface KubeObject {
  /** `group/version`, or `v1` for the core group. */
  apiVersion?: string | undefined;
  /** The kind, for example `Pod`. */
  kind?: string | undefined;
  /** Standard object metadata. */
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
  if (!isRecord(value)) throw new KubeDecodeError(resource.kind, "", "it is not an object");
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
  if (!isRecord(value) || !isRecord(value.metadata) || !("managedFields" in value.metadata)) {
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
  /** Whether objects live in namespaces. */
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
  /** The version. */
  version: string;
  /** The kind. */
  kind: string;
  /** The plural URL segment. */
  plural: string;
  /** Whether objects live in namespaces. */
  namespaced: boolean;
  /**
   * Validates objects; a zod schema fits. Without it, objects are only checked to be
   * objects with `metadata.name` (enough for built-in kinds, typed by `kubernetes-types`).
   */
  schema?: ObjectParser<T>;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function nameOf(value: Record<string, unknown>): string {
  const metadata = value.metadata;
  return isRecord(metadata) && typeof metadata.name === "string" ? metadata.name : "";
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
      if (!isRecord(value)) throw new KubeDecodeError(kind, "", "it is not an object");
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
  /** The object's name. */
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

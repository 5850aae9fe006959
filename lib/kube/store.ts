/**
 * The informer's cache as a reducer (kube-rs `reflector::store` shape): watch events go in,
 * the changes they caused come out, and no I/O happens. A relist is applied atomically:
 * `initStart`, then `initApply` per listed object, then `initDone` swaps the new set in and
 * reports objects that appeared, changed (by resourceVersion) or vanished between lists.
 *
 * @module
 */
import type { KubeObject } from "./resource.ts";

/** An input to the store. */
export type StoreEvent<T extends KubeObject> =
  /** An object was added or modified. */
  | { type: "apply"; object: T }
  /** An object was deleted. */
  | { type: "delete"; object: T }
  /** A relist begins; objects are buffered until `initDone`. */
  | { type: "initStart" }
  /** One listed object. */
  | { type: "initApply"; object: T }
  /** The relist is complete; the buffer replaces the cache. */
  | { type: "initDone" };

/** A change the store reports. */
export type StoreChange<T extends KubeObject> =
  | { type: "added"; object: T }
  | { type: "updated"; previous: T; object: T }
  | { type: "deleted"; object: T };

/** Maps an object to the index values it is found under (must not throw). */
export type IndexFunction<T> = (object: T) => readonly string[];

/** The index every store has: objects by namespace (`""` for cluster-scoped ones). */
export const NAMESPACE_INDEX = "namespace";

/** Returns `namespace/name`, or `name` for a cluster-scoped object. */
export function objectKey(object: KubeObject): string {
  const name = object.metadata?.name ?? "";
  const namespace = object.metadata?.namespace;
  return namespace ? `${namespace}/${name}` : name;
}

/** A cache of objects by key, with secondary indexes. */
export class Store<T extends KubeObject> {
  #objects = new Map<string, T>();
  #buffer: Map<string, T> | undefined;
  #indexers: Map<string, IndexFunction<T>>;
  /** index name -> index value -> keys */
  #indexes = new Map<string, Map<string, Set<string>>>();

  /** Creates an empty store; `indexers` adds named indexes besides `namespace`. */
  constructor(indexers: Record<string, IndexFunction<T>> = {}) {
    this.#indexers = new Map(Object.entries(indexers));
    this.#indexers.set(NAMESPACE_INDEX, (o) => [o.metadata?.namespace ?? ""]);
    for (const name of this.#indexers.keys()) this.#indexes.set(name, new Map());
  }

  /** Applies one event and returns the changes it caused. */
  apply(event: StoreEvent<T>): StoreChange<T>[] {
    switch (event.type) {
      case "apply":
        return [this.#put(event.object)];
      case "delete":
        return [this.#remove(event.object)];
      case "initStart":
        this.#buffer = new Map();
        return [];
      case "initApply":
        (this.#buffer ??= new Map()).set(objectKey(event.object), event.object);
        return [];
      case "initDone":
        return this.#swap();
    }
  }

  #put(object: T): StoreChange<T> {
    const key = objectKey(object);
    const previous = this.#objects.get(key);
    if (previous) this.#unindex(key, previous);
    this.#objects.set(key, object);
    this.#index(key, object);
    return previous ? { type: "updated", previous, object } : { type: "added", object };
  }

  #remove(object: T): StoreChange<T> {
    const key = objectKey(object);
    const previous = this.#objects.get(key);
    if (previous) {
      this.#unindex(key, previous);
      this.#objects.delete(key);
    }
    // Report the last known state, the deleted object's state if we never saw it.
    return { type: "deleted", object: previous ?? object };
  }

  #swap(): StoreChange<T>[] {
    const next = this.#buffer ?? new Map<string, T>();
    this.#buffer = undefined;
    const changes: StoreChange<T>[] = [];
    for (const [key, previous] of this.#objects) {
      if (!next.has(key)) changes.push(this.#remove(previous));
    }
    for (const [key, object] of next) {
      const previous = this.#objects.get(key);
      const same = previous !== undefined &&
        previous.metadata?.resourceVersion === object.metadata?.resourceVersion;
      if (!same) changes.push(this.#put(object));
    }
    return changes;
  }

  #index(key: string, object: T): void {
    for (const [name, fn] of this.#indexers) {
      const index = this.#indexes.get(name)!;
      for (const value of fn(object)) {
        let keys = index.get(value);
        if (!keys) index.set(value, keys = new Set());
        keys.add(key);
      }
    }
  }

  #unindex(key: string, object: T): void {
    for (const [name, fn] of this.#indexers) {
      const index = this.#indexes.get(name)!;
      for (const value of fn(object)) {
        const keys = index.get(value);
        keys?.delete(key);
        if (keys?.size === 0) index.delete(value);
      }
    }
  }

  /** Whether a relist is being buffered. */
  get initializing(): boolean {
    return this.#buffer !== undefined;
  }

  /** The number of cached objects. */
  get size(): number {
    return this.#objects.size;
  }

  /** Returns the object with this key (`namespace/name` or `name`). */
  get(key: string): T | undefined {
    return this.#objects.get(key);
  }

  /** Returns the object by name (and namespace, for namespaced kinds). */
  getByName(name: string, namespace?: string): T | undefined {
    return this.#objects.get(namespace ? `${namespace}/${name}` : name);
  }

  /** Every cached object. */
  list(): T[] {
    return [...this.#objects.values()];
  }

  /** Every key. */
  keys(): string[] {
    return [...this.#objects.keys()];
  }

  /**
   * The objects an index maps `value` to (`byIndex(NAMESPACE_INDEX, "default")`).
   *
   * @throws {RangeError} for an index that was not configured
   */
  byIndex(indexName: string, value: string): T[] {
    const index = this.#indexes.get(indexName);
    if (!index) throw new RangeError(`Cannot read index "${indexName}" as it is not configured`);
    return [...(index.get(value) ?? [])].map((key) => this.#objects.get(key)!);
  }

  /** The values an index currently holds. */
  indexValues(indexName: string): string[] {
    const index = this.#indexes.get(indexName);
    if (!index) throw new RangeError(`Cannot read index "${indexName}" as it is not configured`);
    return [...index.keys()];
  }
}

/**
 * An informer (list + watch reflector) over one resource type, and its indexed cache `Store`.
 * Objects that do not decode leave the cache (handlers hear a delete), wait in `quarantined`,
 * are reported once per resourceVersion, and come back when a version that decodes arrives.
 *
 * @module
 */
import { backoffDelay, type BackoffOptions, type Clock, sleep, SYSTEM_CLOCK } from "./clock.ts";
import { GoneError } from "./rest_client.ts";
import type { KubeDecodeError, KubeObject, ResourceClient, UndecodableObject } from "./resource.ts";

/** An input to the store: a watch event, or a relist's result. */
export type StoreEvent<T extends KubeObject> =
  | { type: "apply" | "delete"; object: T }
  | { type: "replace"; objects: readonly T[] };

/** A change the store reports. */
export type StoreChange<T extends KubeObject> =
  | { type: "added"; object: T }
  | { type: "updated"; previous: T; object: T }
  | { type: "deleted"; object: T };

/** Maps an object to the index values it is found under. */
export type IndexFunction<T> = (object: T) => readonly string[];

/** The index every store has: objects by namespace (`""` for cluster-scoped ones). */
export const NAMESPACE_INDEX = "namespace";

/** Returns `namespace/name`, or `name` for a cluster-scoped object. */
export function objectKey(object: KubeObject): string {
  const name = object.metadata?.name ?? "";
  const namespace = object.metadata?.namespace;
  return namespace ? `${namespace}/${name}` : name;
}

/** A cache of objects by key, with secondary indexes; a pure reducer of `StoreEvent`s. */
export class Store<T extends KubeObject> {
  #objects = new Map<string, T>();
  /** Per index: its function, and the keys of the objects it maps each value to. */
  #indexes = new Map<string, { fn: IndexFunction<T>; keys: Map<string, Set<string>> }>();

  /** Creates an empty store with `indexers` besides `namespace`. */
  constructor(indexers: Record<string, IndexFunction<T>> = {}) {
    const all = { ...indexers, [NAMESPACE_INDEX]: (o: T) => [o.metadata?.namespace ?? ""] };
    for (const [name, fn] of Object.entries(all)) this.#indexes.set(name, { fn, keys: new Map() });
  }

  /** Applies one event and returns the changes it caused. */
  apply(event: StoreEvent<T>): StoreChange<T>[] {
    switch (event.type) {
      case "apply":
        return [this.#put(event.object)];
      case "delete":
        return [this.#remove(event.object)];
      case "replace": {
        const next = new Map(event.objects.map((object) => [objectKey(object), object]));
        const changes: StoreChange<T>[] = [];
        for (const [key, previous] of this.#objects) {
          if (!next.has(key)) changes.push(this.#remove(previous));
        }
        for (const [key, object] of next) {
          const previous = this.#objects.get(key);
          const same = previous?.metadata?.resourceVersion === object.metadata?.resourceVersion;
          if (!previous || !same) changes.push(this.#put(object));
        }
        return changes;
      }
    }
  }

  #put(object: T): StoreChange<T> {
    const key = objectKey(object);
    const previous = this.#objects.get(key);
    if (previous) this.#index(key, previous, false);
    this.#objects.set(key, object);
    this.#index(key, object, true);
    return previous ? { type: "updated", previous, object } : { type: "added", object };
  }

  #remove(object: T): StoreChange<T> {
    const key = objectKey(object);
    const previous = this.#objects.get(key);
    if (previous) {
      this.#index(key, previous, false);
      this.#objects.delete(key);
    }
    return { type: "deleted", object: previous ?? object };
  }

  #index(key: string, object: T, add: boolean): void {
    for (const { fn, keys: index } of this.#indexes.values()) {
      for (const value of fn(object)) {
        let keys = index.get(value);
        if (add) {
          if (!keys) index.set(value, keys = new Set());
          keys.add(key);
        } else {
          keys?.delete(key);
          if (keys?.size === 0) index.delete(value);
        }
      }
    }
  }

  #indexNamed(indexName: string): Map<string, Set<string>> {
    const index = this.#indexes.get(indexName)?.keys;
    if (!index) throw new RangeError(`Cannot read index "${indexName}" as it is not configured`);
    return index;
  }

  /** The number of cached objects. */
  get size(): number {
    return this.#objects.size;
  }

  /** Returns the object with this key. */
  get(key: string): T | undefined {
    return this.#objects.get(key);
  }

  /** Returns the object by name (and namespace, for namespaced kinds). */
  getByName(name: string, namespace?: string): T | undefined {
    return this.#objects.get(objectKey({ metadata: { name, namespace } }));
  }

  /** Every cached object. */
  list(): T[] {
    return [...this.#objects.values()];
  }

  /** Every key. */
  keys(): string[] {
    return [...this.#objects.keys()];
  }

  /** The objects an index maps `value` to. @throws {RangeError} for an unknown index */
  byIndex(indexName: string, value: string): T[] {
    return [...(this.#indexNamed(indexName).get(value) ?? [])].map((key) =>
      this.#objects.get(key)!
    );
  }

  /** The values an index currently holds. @throws {RangeError} for an unknown index */
  indexValues(indexName: string): string[] {
    return [...this.#indexNamed(indexName).keys()];
  }
}

/** Callbacks for cache changes; they run synchronously after the cache is updated. */
export interface InformerHandlers<T> {
  onAdd?(object: T): void;
  onUpdate?(previous: T, object: T): void;
  /** Deleted, or missing from a relist. */
  onDelete?(object: T): void;
}

/** Read access to the informer's cache. */
export type StoreReader<T extends KubeObject> = Pick<
  Store<T>,
  "get" | "getByName" | "list" | "keys" | "byIndex" | "indexValues" | "size"
>;

/** An object the informer keeps out of its cache because it does not decode. */
export interface QuarantinedObject {
  readonly raw: Record<string, unknown>;
  /** The decode error's message. */
  readonly reason: string;
  readonly resourceVersion: string;
}

/** Options of `Informer`. */
export interface InformerOptions<T> {
  labelSelector?: string | undefined;
  indexers?: Record<string, IndexFunction<T>>;
  /** Server-side watch timeout; defaults to a random 300-600 s per watch, as client-go. */
  watchTimeoutSeconds?: number;
  /**
   * Abort a watch after this long without an event or bookmark; defaults to 180 s. The API
   * server sends a bookmark about once a minute on a quiet watch (kube-apiserver 1.35: the first
   * after 120 s), so 180 s of silence means a dead connection; a false alarm costs a rewatch.
   */
  stallTimeoutMs?: number;
  backoff?: BackoffOptions;
  /** For jitter and watch timeouts. */
  random?: () => number;
  clock?: Clock;
  /** Told about each failure retried in `retryInMs` (not about Gone relists or stalls). */
  onError?: (error: unknown, context: { phase: "list" | "watch"; retryInMs: number }) => void;
  /** Told once per object resourceVersion that does not decode. */
  onUndecodable?: (object: Record<string, unknown>, error: KubeDecodeError) => void;
  /** Told after every change of `quarantined`. */
  onQuarantineChanged?: (quarantined: ReadonlyMap<string, QuarantinedObject>) => void;
}

/** Keeps a cache of one resource type in sync with the API server. */
export class Informer<T extends KubeObject> {
  readonly store: StoreReader<T>;
  /** Resolves `true` at the first complete list, or `false` if stopped before it. */
  readonly synced: Promise<boolean>;
  /** Objects that do not decode, keyed like the store. */
  readonly quarantined: ReadonlyMap<string, QuarantinedObject>;
  #quarantine = new Map<string, QuarantinedObject>();
  #store: Store<T>;
  #client: ResourceClient<T>;
  #options: InformerOptions<T>;
  #clock: Clock;
  #random: () => number;
  #handlers = new Set<InformerHandlers<T>>();
  #stop = new AbortController();
  #resolveSynced!: (synced: boolean) => void;
  #loop: Promise<void> | undefined;
  #resourceVersion: string | undefined;

  /** Creates a stopped informer; call `start()`. */
  constructor(client: ResourceClient<T>, options: InformerOptions<T> = {}) {
    this.#client = client;
    this.#options = options;
    this.#clock = options.clock ?? SYSTEM_CLOCK;
    this.#random = options.random ?? Math.random;
    this.#store = new Store<T>(options.indexers);
    this.store = this.#store;
    this.quarantined = this.#quarantine;
    this.synced = new Promise((resolve) => this.#resolveSynced = resolve);
  }

  /**
   * Adds handlers; returns a function that removes them. As in client-go, they first hear
   * `onAdd` for every object already cached, so a consumer that joins late misses nothing.
   */
  addEventHandler(handlers: InformerHandlers<T>): () => void {
    this.#handlers.add(handlers);
    for (const object of this.#store.list()) this.#dispatchTo(handlers, { type: "added", object });
    return () => this.#handlers.delete(handlers);
  }

  /** Starts listing and watching. */
  start(): void {
    if (this.#loop || this.#stop.signal.aborted) return;
    this.#loop = this.#run();
  }

  /** Aborts the open request and waits for the loop to end. */
  async stop(): Promise<void> {
    this.#stop.abort();
    this.#resolveSynced(false);
    await this.#loop;
  }

  async #run(): Promise<void> {
    let attempt = 0;
    while (!this.#stop.signal.aborted) {
      let phase: "list" | "watch" = "list";
      try {
        if (this.#resourceVersion === undefined) {
          await this.#list();
          attempt = 0;
        }
        phase = "watch";
        const started = this.#clock.now();
        // A watch that ends within a second without any event counts as a failure (backoff).
        if (await this.#watch() || this.#clock.now() - started >= 1000) attempt = 0;
        else await this.#backoff(attempt++, undefined, phase);
      } catch (error) {
        if (this.#stop.signal.aborted) break;
        if (error instanceof GoneError) {
          this.#resourceVersion = undefined; // too old: relist at once
          continue;
        }
        await this.#backoff(attempt++, error, phase);
      }
    }
  }

  async #backoff(attempt: number, error: unknown, phase: "list" | "watch"): Promise<void> {
    const delay = backoffDelay(attempt, this.#options.backoff, this.#random);
    if (error !== undefined) this.#options.onError?.(error, { phase, retryInMs: delay });
    await sleep(this.#clock, delay, this.#stop.signal);
  }

  async #list(): Promise<void> {
    const { items, undecodable, resourceVersion } = await this.#client.listAll({
      labelSelector: this.#options.labelSelector,
      abortSignal: this.#stop.signal,
    });
    // Quarantine first: a handler told that an object left the cache finds it quarantined.
    this.#rebuildQuarantine(undecodable);
    this.#apply({ type: "replace", objects: items });
    this.#resourceVersion = resourceVersion;
    this.#resolveSynced(true);
  }

  /** Runs one watch, advancing `#resourceVersion` per event; true if one came or it stalled. */
  async #watch(): Promise<boolean> {
    const abort = new AbortController();
    const stop = this.#stop.signal;
    const onStop = () => abort.abort(stop.reason);
    stop.addEventListener("abort", onStop, { once: true });
    if (stop.aborted) onStop();
    let stalled = false;
    let timer: unknown;
    const arm = () => {
      this.#clock.clearTimeout(timer);
      timer = this.#clock.setTimeout(() => {
        stalled = true;
        abort.abort(new Error("Watch stalled"));
      }, this.#options.stallTimeoutMs ?? 180_000);
    };
    let events = 0;
    arm(); // also covers waiting for the response headers
    try {
      for await (
        const event of this.#client.watch({
          labelSelector: this.#options.labelSelector,
          resourceVersion: this.#resourceVersion,
          timeoutSeconds: this.#options.watchTimeoutSeconds ??
            Math.floor(300 * (1 + this.#random())),
          abortSignal: abort.signal,
        })
      ) {
        arm();
        events++;
        if (event.type === "ERROR") throw event.error;
        if (event.type === "BOOKMARK") {
          this.#resourceVersion = event.resourceVersion;
        } else if (event.type === "UNDECODABLE") {
          this.#undecodable(event);
          this.#resourceVersion = event.resourceVersion || this.#resourceVersion;
        } else {
          this.#apply({
            type: event.type === "DELETED" ? "delete" : "apply",
            object: event.object,
          });
          this.#resourceVersion = event.object.metadata?.resourceVersion ?? this.#resourceVersion;
        }
      }
    } catch (error) {
      if (!stalled || stop.aborted) throw error;
    } finally {
      this.#clock.clearTimeout(timer);
      stop.removeEventListener("abort", onStop);
    }
    return events > 0 || stalled;
  }

  #apply(event: StoreEvent<T>): void {
    if (event.type === "apply" || event.type === "delete") {
      if (this.#quarantine.delete(objectKey(event.object))) this.#quarantineChanged();
    }
    for (const change of this.#store.apply(event)) this.#dispatch(change);
  }

  /** Takes an object that no longer decodes out of the cache, into quarantine. */
  #undecodable(event: UndecodableObject & { eventType: string }): void {
    const key = objectKey(event.raw as KubeObject);
    // Quarantine first: a handler told that the object left the cache finds it quarantined.
    const changed = event.eventType === "DELETED"
      ? this.#quarantine.delete(key)
      : this.#enterQuarantine(key, event);
    if (changed) this.#quarantineChanged();
    const cached = this.#store.get(key);
    if (!cached) return;
    for (const change of this.#store.apply({ type: "delete", object: cached })) {
      this.#dispatch(change);
    }
  }

  /** After a relist: the quarantine holds exactly the listed objects that do not decode. */
  #rebuildQuarantine(undecodable: readonly UndecodableObject[]): void {
    const listed = new Set<string>();
    let changed = false;
    for (const object of undecodable) {
      const key = objectKey(object.raw as KubeObject);
      listed.add(key);
      changed = this.#enterQuarantine(key, object) || changed;
    }
    for (const key of this.#quarantine.keys()) {
      if (!listed.has(key)) changed = this.#quarantine.delete(key) || changed;
    }
    if (changed) this.#quarantineChanged();
  }

  /** Quarantines `object`, reporting it unless this resourceVersion was reported already. */
  #enterQuarantine(key: string, object: UndecodableObject): boolean {
    const resourceVersion = (object.raw as KubeObject).metadata?.resourceVersion ?? "";
    if (this.#quarantine.get(key)?.resourceVersion === resourceVersion) return false;
    this.#quarantine.set(key, { raw: object.raw, reason: object.error.message, resourceVersion });
    this.#safely(() => this.#options.onUndecodable?.(object.raw, object.error));
    return true;
  }

  #quarantineChanged(): void {
    this.#safely(() => this.#options.onQuarantineChanged?.(this.#quarantine));
  }

  #dispatch(change: StoreChange<T>): void {
    for (const handler of this.#handlers) this.#dispatchTo(handler, change);
  }

  #dispatchTo(handler: InformerHandlers<T>, change: StoreChange<T>): void {
    this.#safely(() => {
      if (change.type === "added") handler.onAdd?.(change.object);
      else if (change.type === "updated") handler.onUpdate?.(change.previous, change.object);
      else handler.onDelete?.(change.object);
    });
  }

  /** Runs a callback; one that fails must not stop the cache. */
  #safely(callback: () => void): void {
    try {
      callback();
    } catch (error) {
      this.#options.onError?.(error, { phase: "watch", retryInMs: 0 });
    }
  }
}

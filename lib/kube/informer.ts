/**
 * An informer (list + watch reflector) over one resource type:
 *
 * - lists page by page and swaps the result into the `Store` atomically;
 * - watches from the list's resourceVersion with bookmarks, and after the server closes the
 *   watch resumes from the last seen resourceVersion (no relist);
 * - relists on 410 Gone; backs off with jitter on other errors;
 * - aborts and rewatches a connection that stays silent (no event, no bookmark) too long;
 * - calls handlers for every change, and `stop()` ends requests and timers;
 * - quarantines objects that do not decode (valid to the API server, not to our schema): they
 *   leave the cache (handlers hear a delete if a good version was cached), wait in
 *   `quarantined`, are reported once per resourceVersion through `onUndecodable`, and come back
 *   when a version that decodes arrives. One such object never stops the list or the watch, and
 *   the next watch resumes after it.
 *
 * @module
 */
import {
  backoffDelay,
  type BackoffOptions,
  type Clock,
  DEFAULT_BACKOFF,
  sleep,
  SYSTEM_CLOCK,
} from "./clock.ts";
import { GoneError } from "./errors.ts";
import type {
  KubeDecodeError,
  KubeObject,
  ResourceClient,
  UndecodableObject,
  WatchEvent,
} from "./resource.ts";
import {
  type IndexFunction,
  objectKey,
  Store,
  type StoreChange,
  type StoreEvent,
} from "./store.ts";

/** Callbacks for cache changes; they run synchronously after the cache is updated. */
export interface InformerHandlers<T> {
  /** An object appeared. */
  onAdd?(object: T): void;
  /** An object changed (its resourceVersion differs). */
  onUpdate?(previous: T, object: T): void;
  /** An object vanished (deleted, or missing from a relist). */
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
  /** Why it does not decode (the decode error's message). */
  readonly reason: string;
  /** Its resourceVersion (`""` if it has none). */
  readonly resourceVersion: string;
}

/** What failed and what happens next. */
export interface InformerErrorContext {
  phase: "list" | "watch";
  /** The delay before the retry, in ms. */
  retryInMs: number;
}

/** Options of `Informer`. */
export interface InformerOptions<T> {
  /** Only objects matching this label selector. */
  labelSelector?: string | undefined;
  /** Secondary indexes of the cache (besides `namespace`). */
  indexers?: Record<string, IndexFunction<T>>;
  /** Server-side watch timeout; defaults to a random 300-600 s per watch, as client-go. */
  watchTimeoutSeconds?: number;
  /** Abort a watch after this long without an event or bookmark; defaults to 180 s. */
  stallTimeoutMs?: number;
  /** Retry curve after errors; defaults to `DEFAULT_BACKOFF`. */
  backoff?: BackoffOptions;
  /** Random source for jitter and watch timeouts; defaults to `Math.random`. */
  random?: () => number;
  /** Time source; defaults to the system clock. */
  clock?: Clock;
  /** Told about each failure that is retried (not about Gone relists or stalls). */
  onError?: (error: unknown, context: InformerErrorContext) => void;
  /** Told once per object resourceVersion that does not decode (the object is quarantined). */
  onUndecodable?: (object: Record<string, unknown>, error: KubeDecodeError) => void;
  /** Told after every change of `quarantined` (an object entered or left it). */
  onQuarantineChanged?: (quarantined: ReadonlyMap<string, QuarantinedObject>) => void;
}

/** A watch that ends sooner than this without any event counts as a failure (backoff). */
const MIN_HEALTHY_WATCH_MS = 1000;

/**
 * The default stall limit. The API server promises a bookmark about once a minute on a quiet
 * watch (measured with kube-apiserver 1.35: the first one after 120 s), so 180 s of silence
 * means a dead connection; a false alarm only costs a rewatch, never a relist.
 */
export const DEFAULT_STALL_TIMEOUT_MS = 180_000;

/** Keeps a cache of one resource type in sync with the API server. */
export class Informer<T extends KubeObject> {
  readonly store: StoreReader<T>;
  /** Resolves `true` at the first complete list, or `false` if stopped before it. */
  readonly synced: Promise<boolean>;
  /** Objects that do not decode, keyed like the store (`namespace/name` or `name`). */
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
  #hasSynced = false;
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
   * Adds handlers; returns a function that removes them. As in client-go, handlers added to a
   * running informer first hear `onAdd` for every object already cached, so a consumer that
   * joins late (the leader's controllers on the caches every replica keeps) misses nothing.
   */
  addEventHandler(handlers: InformerHandlers<T>): () => void {
    this.#handlers.add(handlers);
    for (const object of this.#store.list()) {
      this.#dispatchTo(handlers, { type: "added", object });
    }
    return () => this.#handlers.delete(handlers);
  }

  /** The resourceVersion the next watch would start from. */
  get resourceVersion(): string | undefined {
    return this.#resourceVersion;
  }

  /** Starts listing and watching (idempotent). */
  start(): void {
    if (this.#loop || this.#stop.signal.aborted) return;
    this.#loop = this.#run();
  }

  /** Stops: aborts the open request, cancels timers, and waits for the loop to end. */
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
        const result = await this.#watch(this.#resourceVersion!);
        this.#resourceVersion = result.resourceVersion;
        const closedAtOnce = this.#clock.now() - started < MIN_HEALTHY_WATCH_MS;
        if (result.events > 0 || result.stalled || !closedAtOnce) attempt = 0;
        else await this.#backoff(attempt++, undefined, phase); // do not spin on instant closes
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
    const delay = backoffDelay(attempt, this.#options.backoff ?? DEFAULT_BACKOFF, this.#random);
    if (error !== undefined) this.#options.onError?.(error, { phase, retryInMs: delay });
    await sleep(this.#clock, delay, this.#stop.signal);
  }

  async #list(): Promise<void> {
    this.#store.apply({ type: "initStart" });
    const { items, undecodable, resourceVersion } = await this.#client.listAll({
      labelSelector: this.#options.labelSelector,
      abortSignal: this.#stop.signal,
    });
    for (const object of items) this.#store.apply({ type: "initApply", object });
    // Quarantine first: a handler told that an object left the cache finds it quarantined.
    this.#rebuildQuarantine(undecodable);
    this.#apply({ type: "initDone" });
    this.#resourceVersion = resourceVersion;
    if (!this.#hasSynced) {
      this.#hasSynced = true;
      this.#resolveSynced(true);
    }
  }

  #watch(resourceVersion: string) {
    const timeoutSeconds = this.#options.watchTimeoutSeconds ??
      Math.floor(300 * (1 + this.#random()));
    return runWatch(this.#client, {
      resourceVersion,
      timeoutSeconds,
      labelSelector: this.#options.labelSelector,
      stallTimeoutMs: this.#options.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS,
      clock: this.#clock,
      stopSignal: this.#stop.signal,
      apply: (event) => this.#apply(event),
      undecodable: (event) => this.#undecodable(event),
      progress: (version) => this.#resourceVersion = version,
    });
  }

  #apply(event: StoreEvent<T>): void {
    if (event.type === "apply" || event.type === "delete") {
      if (this.#quarantine.delete(objectKey(event.object))) this.#quarantineChanged();
    }
    for (const change of this.#store.apply(event)) this.#dispatch(change);
  }

  /** An object event whose object does not decode: take it out of the cache, into quarantine. */
  #undecodable(event: UndecodableWatchEvent): void {
    const key = objectKey(event.raw as KubeObject);
    if (event.eventType === "DELETED") {
      if (this.#quarantine.delete(key)) this.#quarantineChanged();
    } else {
      // Quarantine first: a handler told that the object left the cache finds it quarantined.
      const before = this.#quarantine.get(key);
      this.#enterQuarantine(key, { raw: event.raw, error: event.error });
      if (this.#quarantine.get(key) !== before) this.#quarantineChanged();
    }
    const cached = this.#store.get(key);
    if (!cached) return;
    for (const change of this.#store.apply({ type: "delete", object: cached })) {
      this.#dispatch(change);
    }
  }

  /** After a relist: the quarantine holds exactly the listed objects that do not decode. */
  #rebuildQuarantine(undecodable: readonly UndecodableObject[]): void {
    const previous = new Map(this.#quarantine);
    this.#quarantine.clear();
    for (const object of undecodable) {
      const key = objectKey(object.raw as KubeObject);
      const before = previous.get(key);
      if (before) this.#quarantine.set(key, before);
      this.#enterQuarantine(key, object);
    }
    const same = previous.size === this.#quarantine.size &&
      [...previous].every(([key, entry]) => this.#quarantine.get(key) === entry);
    if (!same) this.#quarantineChanged();
  }

  /** Quarantines `object`, reporting it unless this resourceVersion was reported already. */
  #enterQuarantine(key: string, object: UndecodableObject): void {
    const resourceVersion = (object.raw as KubeObject).metadata?.resourceVersion ?? "";
    const before = this.#quarantine.get(key);
    if (before?.resourceVersion === resourceVersion) return;
    this.#quarantine.set(key, { raw: object.raw, reason: object.error.message, resourceVersion });
    try {
      this.#options.onUndecodable?.(object.raw, object.error);
    } catch (error) {
      this.#options.onError?.(error, { phase: "watch", retryInMs: 0 });
    }
  }

  #quarantineChanged(): void {
    try {
      this.#options.onQuarantineChanged?.(this.#quarantine);
    } catch (error) {
      this.#options.onError?.(error, { phase: "watch", retryInMs: 0 });
    }
  }

  #dispatch(change: StoreChange<T>): void {
    for (const handler of this.#handlers) this.#dispatchTo(handler, change);
  }

  #dispatchTo(handler: InformerHandlers<T>, change: StoreChange<T>): void {
    try {
      if (change.type === "added") handler.onAdd?.(change.object);
      else if (change.type === "updated") handler.onUpdate?.(change.previous, change.object);
      else handler.onDelete?.(change.object);
    } catch (error) {
      // A failing handler must not stop the cache; report it and go on.
      this.#options.onError?.(error, { phase: "watch", retryInMs: 0 });
    }
  }
}

/** An object event whose object does not decode. */
export type UndecodableWatchEvent = Extract<WatchEvent<KubeObject>, { type: "UNDECODABLE" }>;

/** Inputs of `runWatch`. */
export interface RunWatchOptions<T extends KubeObject> {
  /** Start after this version. */
  resourceVersion: string;
  timeoutSeconds: number;
  labelSelector?: string | undefined;
  /** Abort after this long without any event. */
  stallTimeoutMs: number;
  clock: Clock;
  /** Ends the watch when the informer stops. */
  stopSignal: AbortSignal;
  apply: (event: StoreEvent<T>) => void;
  /** Receives each event whose object does not decode. */
  undecodable: (event: UndecodableWatchEvent) => void;
  /** Told the resourceVersion after each event (resume from here, even if the watch then fails). */
  progress: (resourceVersion: string) => void;
}

/** How a watch ended without an error. */
export interface RunWatchResult {
  /** The last resourceVersion seen (resume from here). */
  resourceVersion: string;
  /** How many events arrived (bookmarks included). */
  events: number;
  /** Whether it was aborted for silence. */
  stalled: boolean;
}

/** A watchdog that aborts `abort` unless `arm()` is called again within `ms`. */
function watchdog(clock: Clock, ms: number, abort: AbortController) {
  let timer: unknown;
  const state = {
    fired: false,
    arm() {
      clock.clearTimeout(timer);
      timer = clock.setTimeout(() => {
        state.fired = true;
        abort.abort(new Error("Watch stalled"));
      }, ms);
    },
    clear() {
      clock.clearTimeout(timer);
    },
  };
  return state;
}

/**
 * Runs one watch until the server closes it, it stalls, or the informer stops.
 *
 * @throws {GoneError} when the resourceVersion is too old
 * @throws {KubeApiError} for an `ERROR` event or a failed request
 */
export async function runWatch<T extends KubeObject>(
  client: ResourceClient<T>,
  options: RunWatchOptions<T>,
): Promise<RunWatchResult> {
  const abort = new AbortController();
  const onStop = () => abort.abort(options.stopSignal.reason);
  options.stopSignal.addEventListener("abort", onStop, { once: true });
  if (options.stopSignal.aborted) onStop(); // stopped before this watch began
  const stall = watchdog(options.clock, options.stallTimeoutMs, abort);
  const result: RunWatchResult = {
    resourceVersion: options.resourceVersion,
    events: 0,
    stalled: false,
  };
  stall.arm(); // also covers waiting for the response headers
  try {
    const events = client.watch({
      labelSelector: options.labelSelector,
      resourceVersion: options.resourceVersion,
      timeoutSeconds: options.timeoutSeconds,
      allowWatchBookmarks: true,
      abortSignal: abort.signal,
    });
    for await (const event of events) {
      stall.arm();
      result.events++;
      if (event.type === "ERROR") throw event.error;
      if (event.type === "BOOKMARK") {
        result.resourceVersion = event.resourceVersion;
      } else if (event.type === "UNDECODABLE") {
        options.undecodable(event);
        result.resourceVersion = event.resourceVersion || result.resourceVersion;
      } else {
        options.apply({
          type: event.type === "DELETED" ? "delete" : "apply",
          object: event.object,
        });
        result.resourceVersion = event.object.metadata?.resourceVersion ?? result.resourceVersion;
      }
      options.progress(result.resourceVersion);
    }
  } catch (error) {
    if (!stall.fired || options.stopSignal.aborted) throw error;
  } finally {
    stall.clear();
    options.stopSignal.removeEventListener("abort", onStop);
  }
  return { ...result, stalled: stall.fired };
}

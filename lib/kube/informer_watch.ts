/**
 * One watch of the informer: applies events to the cache, follows the resourceVersion
 * (bookmarks and undecodable objects included, so a watch never resumes before an event it
 * already saw), and aborts the connection when it stays silent past a limit.
 *
 * @module
 */
import type { Clock } from "./clock.ts";
import type { KubeObject } from "./resource.ts";
import type { ResourceClient } from "./resource_client.ts";
import type { StoreEvent } from "./store.ts";
import type { WatchEvent } from "./watch.ts";

/** An object event whose object does not decode. */
export type UndecodableWatchEvent = Extract<WatchEvent<KubeObject>, { type: "UNDECODABLE" }>;

/** Inputs of `runWatch`. */
export interface RunWatchOptions<T extends KubeObject> {
  /** Start after this version. */
  resourceVersion: string;
  /** Server-side timeout. */
  timeoutSeconds: number;
  /** Namespace filter. */
  namespace?: string | undefined;
  /** Label selector. */
  labelSelector?: string | undefined;
  /** Field selector. */
  fieldSelector?: string | undefined;
  /** Abort after this long without any event. */
  stallTimeoutMs: number;
  /** Time source for the stall timer. */
  clock: Clock;
  /** Ends the watch when the informer stops. */
  stopSignal: AbortSignal;
  /** Receives each object event. */
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
      namespace: options.namespace,
      labelSelector: options.labelSelector,
      fieldSelector: options.fieldSelector,
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

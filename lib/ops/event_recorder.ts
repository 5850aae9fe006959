/**
 * Kubernetes Events: `record()` never throws or waits; a background worker writes
 * `events.k8s.io/v1` Events (a create, then `series` patches for repeats) under a global token
 * bucket. The pure `EventCorrelator` joins repeats into series and gives each object a spam
 * budget, as client-go does; what does not fit the bounded queue is dropped and counted.
 *
 * @module
 */
import type { Event, EventSeries } from "kubernetes-types/events/v1.d.ts";
import type { Counter, EventRecorder, EventSubject, Logger, MetricsRegistry } from "./contracts.ts";
import {
  AlreadyExistsError,
  type Clock,
  orUndefined,
  type ResourceClient,
  sleep,
  SYSTEM_CLOCK,
} from "../kube/mod.ts";

/** Formats epoch milliseconds as RFC 3339 with six fractional digits, in UTC. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

/** One series of identical events; `publishedCount` is what the API server has (0: none). */
interface SeriesEntry {
  count: number;
  firstMs: number;
  lastMs: number;
  eventName: string | undefined;
  publishedCount: number;
}

type Bucket = { tokens: number; lastMs: number };

/** Adds to `bucket` what it earned since its last use (a token per `perTokenMs`, up to `burst`). */
function refill(bucket: Bucket, nowMs: number, perTokenMs: number, burst: number): number {
  bucket.tokens = Math.min(burst, bucket.tokens + Math.max(0, nowMs - bucket.lastMs) / perTokenMs);
  bucket.lastMs = nowMs;
  return bucket.tokens;
}

function touch<K, V>(map: Map<K, V>, key: K, value: V, limit: number): void {
  map.delete(key); // re-insert: Map order is then least recently used first
  map.set(key, value);
  if (map.size > limit) map.delete(map.keys().next().value!);
}

/** The limits of `EventCorrelator` (see there). */
export interface CorrelatorOptions {
  spamBurst?: number;
  spamRefillMs?: number;
  seriesWindowMs?: number;
  maxTracked?: number;
}

/**
 * Tracks series (repeats closer than `seriesWindowMs`, 6 min) and per-object budgets (`spamBurst`,
 * 25, then one per `spamRefillMs`, 5 min): at most `maxTracked` (4096) of each, LRU first out.
 */
export class EventCorrelator {
  #o: Required<CorrelatorOptions>;
  #series = new Map<string, SeriesEntry>();
  #buckets = new Map<string, Bucket>();

  /** Creates an empty correlator. */
  constructor(options: CorrelatorOptions = {}) {
    const { spamBurst = 25, spamRefillMs = 300_000, seriesWindowMs = 360_000 } = options;
    this.#o = { spamBurst, spamRefillMs, seriesWindowMs, maxTracked: options.maxTracked ?? 4096 };
  }

  /** Records one occurrence; `free` ones (their series' write is queued) skip the budget. */
  observe(
    seriesKey: string,
    objectKey: string,
    nowMs: number,
    free = false,
  ): { action: "publish"; entry: SeriesEntry } | { action: "drop"; reason: "spam" } {
    let entry = this.#series.get(seriesKey);
    const { spamBurst, spamRefillMs, seriesWindowMs, maxTracked } = this.#o;
    if (entry && nowMs - entry.lastMs > seriesWindowMs) entry = undefined; // series finished
    if (!free) {
      const bucket = this.#buckets.get(objectKey) ?? { tokens: spamBurst, lastMs: nowMs };
      const allowed = refill(bucket, nowMs, spamRefillMs, spamBurst) >= 1;
      if (allowed) bucket.tokens -= 1;
      touch(this.#buckets, objectKey, bucket, maxTracked);
      if (!allowed) return { action: "drop", reason: "spam" };
    }
    if (entry) {
      entry.count += 1;
      entry.lastMs = nowMs;
    } else {
      entry = { count: 1, firstMs: nowMs, lastMs: nowMs, eventName: undefined, publishedCount: 0 };
    }
    touch(this.#series, seriesKey, entry, maxTracked);
    return { action: "publish", entry };
  }

  /** The live series for `seriesKey`, if any. */
  get(seriesKey: string): SeriesEntry | undefined {
    return this.#series.get(seriesKey);
  }
}

/** Where a subject's Events go: its namespace, or `default` for a cluster-scoped subject. */
function eventNamespace(subject: EventSubject): string {
  return subject.metadata.namespace || "default";
}

function truncate(text: string, limit: number): string {
  return text.length <= limit ? text : `${text.slice(0, limit - 3)}...`;
}

/** The `events.k8s.io/v1` Event client the recorder writes through. */
export type EventClient = Pick<ResourceClient<Event>, "create" | "patch">;

/**
 * Options of `KubeEventRecorder`: `instance` is the `reportingInstance` (the pod name); writes
 * go at `qps` (5) with bursts of `burst` (25); at most `maxQueued` (1000) wait.
 */
export interface EventRecorderOptions extends CorrelatorOptions {
  instance: string;
  qps?: number;
  burst?: number;
  maxQueued?: number;
  clock?: Clock;
  logger?: Logger;
  metrics?: MetricsRegistry;
}

interface Pending {
  subject: EventSubject;
  type: "Normal" | "Warning";
  reason: string;
  message: string;
}

/** Records Events asynchronously; call `close()` on shutdown to flush. */
export class KubeEventRecorder implements EventRecorder {
  #events: EventClient;
  #options: EventRecorderOptions;
  #clock: Clock;
  #correlator: EventCorrelator;
  #limiter: Bucket;
  #pending = new Map<string, Pending>();
  #abort = new AbortController();
  #closed = false;
  #worker: Promise<void> | undefined;
  #sequence = 0;
  #dropped: Counter | undefined;
  #writes: Counter | undefined;

  /** Creates a recorder writing through `events`. */
  constructor(events: EventClient, options: EventRecorderOptions) {
    this.#events = events;
    this.#options = options;
    this.#clock = options.clock ?? SYSTEM_CLOCK;
    this.#correlator = new EventCorrelator(options);
    this.#limiter = { tokens: options.burst ?? 25, lastMs: this.#clock.now() };
    this.#dropped = options.metrics?.counter(
      "hostport_events_dropped_total",
      "Events not written, by reason (spam, queue_full, invalid, stopped)",
      ["reason"],
    );
    this.#writes = options.metrics?.counter(
      "hostport_events_writes_total",
      "Event writes to the API server, by operation and result",
      ["operation", "result"],
    );
  }

  /** Records an Event; never throws and never waits. */
  record(subject: EventSubject, type: "Normal" | "Warning", reason: string, message: string): void {
    try {
      this.#record({ subject, type, reason, message });
    } catch (error) {
      this.#options.logger?.debug("cannot record event", { error, reason });
      this.#dropped?.inc({ reason: "invalid" });
    }
  }

  #record(item: Pending): void {
    if (this.#closed) return this.#dropped?.inc({ reason: "stopped" });
    const { apiVersion, kind, metadata } = item.subject;
    if (!metadata.name || !item.reason) return this.#dropped?.inc({ reason: "invalid" });
    const { namespace, name, uid } = metadata;
    const object = JSON.stringify([apiVersion, kind, namespace, name, uid]);
    const seriesKey = JSON.stringify([object, item.type, item.reason, item.message]);
    const queued = this.#pending.has(seriesKey);
    if (!queued && this.#pending.size >= (this.#options.maxQueued ?? 1000)) {
      return this.#dropped?.inc({ reason: "queue_full" });
    }
    const outcome = this.#correlator.observe(seriesKey, object, this.#clock.now(), queued);
    if (outcome.action === "drop") return this.#dropped?.inc({ reason: outcome.reason });
    this.#pending.set(seriesKey, item);
    this.#worker ??= this.#drain();
  }

  /** Reserves a write from the global bucket and waits until it is due. */
  #take(): Promise<void> {
    const qps = this.#options.qps ?? 5;
    const tokens = refill(this.#limiter, this.#clock.now(), 1000 / qps, this.#options.burst ?? 25);
    this.#limiter.tokens = tokens - 1; // a reservation: later writes queue behind this one
    if (tokens >= 1) return Promise.resolve();
    return sleep(this.#clock, Math.ceil(((1 - tokens) / qps) * 1000), this.#abort.signal);
  }

  /** Writes until the queue is empty; `#publish` never throws, so nothing is left behind. */
  async #drain(): Promise<void> {
    while (this.#pending.size > 0 && !this.#abort.signal.aborted) {
      await this.#take();
      const next = this.#pending.entries().next();
      if (next.done || this.#abort.signal.aborted) break;
      const [key, item] = next.value;
      this.#pending.delete(key);
      const entry = this.#correlator.get(key);
      if (entry) await this.#publish(item, entry);
    }
    this.#worker = undefined;
  }

  async #publish(item: Pending, entry: SeriesEntry): Promise<void> {
    const count = entry.count;
    const nowMs = this.#clock.now();
    const series: EventSeries = { count, lastObservedTime: microTime(nowMs) };
    const abortSignal = this.#abort.signal;
    let operation: "create" | "patch" = "patch";
    try {
      if (entry.eventName !== undefined && count > entry.publishedCount) {
        const namespace = eventNamespace(item.subject);
        const patch = this.#events.patch(entry.eventName, { series }, { namespace, abortSignal });
        if (await orUndefined(patch) === undefined) {
          entry.eventName = undefined; // expired (Events live an hour): create it again
        }
      }
      if (entry.eventName === undefined) {
        operation = "create";
        // `<object name>.<hex time>` as client-go names Events, kept under 253 characters.
        const unique = BigInt(Math.floor(nowMs)) * 1_000_000n +
          BigInt(this.#sequence++ % 1_000_000);
        const suffix = unique.toString(16);
        const name = `${item.subject.metadata.name!.slice(0, 253 - suffix.length - 1)}.${suffix}`;
        const event = this.#event(item, name, entry.firstMs);
        if (count > 1) event.series = series;
        await this.#events.create(event, { abortSignal }).catch((error) => {
          if (!(error instanceof AlreadyExistsError)) throw error; // a retried create landed
        });
        entry.eventName = name;
      }
      entry.publishedCount = Math.max(entry.publishedCount, count);
      this.#writes?.inc({ operation, result: "success" });
    } catch (error) {
      this.#writes?.inc({ operation, result: "error" });
      this.#options.logger?.debug("cannot write event", { error, reason: item.reason });
    }
  }

  /** The Event `name` about a series that started at `firstMs`, within the API's limits. */
  #event(item: Pending, name: string, firstMs: number): Event {
    const { apiVersion, kind, metadata } = item.subject;
    const reason = truncate(item.reason, 128);
    return {
      apiVersion: "events.k8s.io/v1",
      kind: "Event",
      metadata: { name, namespace: eventNamespace(item.subject) },
      eventTime: microTime(firstMs),
      reportingController: "hostport.rmb938.com/hostport-allocator",
      reportingInstance: truncate(this.#options.instance, 128),
      action: reason,
      reason,
      note: truncate(item.message, 1024),
      type: item.type,
      regarding: {
        apiVersion,
        kind,
        name: metadata.name ?? "",
        ...(metadata.namespace ? { namespace: metadata.namespace } : {}),
        ...(metadata.uid ? { uid: metadata.uid } : {}),
      },
    };
  }

  /** Stops accepting events, drains for up to `timeoutMs`, and resolves how many it dropped. */
  async close(timeoutMs: number): Promise<number> {
    this.#closed = true;
    await Promise.race([this.#worker, sleep(this.#clock, timeoutMs, this.#abort.signal)]);
    this.#abort.abort(); // stops the worker and clears the timeout
    const lost = this.#pending.size;
    if (lost > 0) this.#dropped?.inc({ reason: "stopped" }, lost);
    this.#pending.clear();
    await this.#worker;
    return lost;
  }
}

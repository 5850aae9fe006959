/**
 * Kubernetes Events. `KubeEventRecorder` is the `EventRecorder` of the contracts: `record()` is
 * synchronous and never throws; a background worker writes `events.k8s.io/v1` Events through an
 * `EventSink` (`kubeEventSink`: create, and a merge patch of `series` for repeats) under a global
 * token bucket. The pure bookkeeping (`EventCorrelator`, time as an argument) decides which
 * occurrences are identical and join one series (one Event whose `series.count` grows), and
 * gives each object a spam budget (a token bucket per object, as client-go's
 * `EventSourceObjectSpamFilter`); the queue is bounded: what does not fit is dropped and counted.
 * `buildEvent` makes Events that pass the API server's validation: a `MicroTime` eventTime, the
 * reporting controller and instance, `action`, the length limits, and the `default` namespace
 * for cluster-scoped subjects.
 *
 * @module
 */
import type { Event, EventSeries } from "kubernetes-types/events/v1.d.ts";
import type { EventRecorder, EventSubject, Logger, MetricsRegistry } from "./contracts.ts";
import {
  AlreadyExistsError,
  type Clock,
  NotFoundError,
  type ResourceClient,
  sleep,
  SYSTEM_CLOCK,
  TokenBucket,
} from "../kube/mod.ts";

/** Formats epoch milliseconds as RFC 3339 with six fractional digits, in UTC. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

/** Settings of `EventCorrelator`. */
export interface EventCorrelatorOptions {
  /** Events one object may cause in a burst; defaults to 25. */
  spamBurst?: number;
  /** One more event per object every this many ms; defaults to 5 min. */
  spamRefillMs?: number;
  /** Identical events closer than this join a series; defaults to 6 min. */
  seriesWindowMs?: number;
  /** Bound on tracked series and objects (oldest forgotten first); defaults to 4096. */
  maxTracked?: number;
}

/** One series of identical events. */
export interface SeriesEntry {
  /** Occurrences so far. */
  count: number;
  /** When the series started, in ms. */
  firstMs: number;
  /** The latest occurrence, in ms. */
  lastMs: number;
  /** The Event object's name once created. */
  eventName: string | undefined;
  /** The count written to the API server so far (0 before the create). */
  publishedCount: number;
}

/** What an occurrence leads to. */
export type Correlation =
  | { action: "publish"; entry: SeriesEntry }
  | { action: "drop"; reason: "spam" };

interface Bucket {
  tokens: number;
  lastMs: number;
}

function touch<K, V>(map: Map<K, V>, key: K, value: V, limit: number): void {
  map.delete(key); // re-insert: Map order is then least recently used first
  map.set(key, value);
  if (map.size > limit) map.delete(map.keys().next().value!);
}

/** Tracks series and per-object budgets. */
export class EventCorrelator {
  #burst: number;
  #refillMs: number;
  #windowMs: number;
  #max: number;
  #series = new Map<string, SeriesEntry>();
  #buckets = new Map<string, Bucket>();

  /** Creates an empty correlator. */
  constructor(options: EventCorrelatorOptions = {}) {
    this.#burst = options.spamBurst ?? 25;
    this.#refillMs = options.spamRefillMs ?? 300_000;
    this.#windowMs = options.seriesWindowMs ?? 360_000;
    this.#max = options.maxTracked ?? 4096;
  }

  /**
   * Records one occurrence of the event `seriesKey` about the object `objectKey` at `nowMs`.
   * `free` occurrences (ones that cost no extra write, because a write of the same series
   * is already queued) skip the spam filter.
   */
  observe(seriesKey: string, objectKey: string, nowMs: number, free = false): Correlation {
    let entry = this.#series.get(seriesKey);
    if (entry && nowMs - entry.lastMs > this.#windowMs) entry = undefined; // series finished
    if (!free && !this.#take(objectKey, nowMs)) return { action: "drop", reason: "spam" };
    if (entry) {
      entry.count += 1;
      entry.lastMs = nowMs;
    } else {
      entry = { count: 1, firstMs: nowMs, lastMs: nowMs, eventName: undefined, publishedCount: 0 };
    }
    touch(this.#series, seriesKey, entry, this.#max);
    return { action: "publish", entry };
  }

  /** The live series for `seriesKey`, if any. */
  get(seriesKey: string): SeriesEntry | undefined {
    return this.#series.get(seriesKey);
  }

  /** How many series are tracked. */
  get size(): number {
    return this.#series.size;
  }

  #take(objectKey: string, nowMs: number): boolean {
    const bucket = this.#buckets.get(objectKey) ?? { tokens: this.#burst, lastMs: nowMs };
    const refill = Math.max(0, nowMs - bucket.lastMs) / this.#refillMs;
    bucket.tokens = Math.min(this.#burst, bucket.tokens + refill);
    bucket.lastMs = nowMs;
    const allowed = bucket.tokens >= 1;
    if (allowed) bucket.tokens -= 1;
    touch(this.#buckets, objectKey, bucket, this.#max);
    return allowed;
  }
}

/** The API server's limits (`pkg/apis/core/validation/events.go`). */
const NOTE_LIMIT = 1024;
const REASON_LIMIT = 128;
const INSTANCE_LIMIT = 128;

/** A series value for `count` occurrences, the latest at `nowMs`. */
export function seriesOf(count: number, nowMs: number): EventSeries {
  return { count, lastObservedTime: microTime(nowMs) };
}

function truncate(text: string, limit: number): string {
  return text.length <= limit ? text : `${text.slice(0, limit - 3)}...`;
}

/** What `buildEvent` needs to know about one event and its series. */
export interface EventInput {
  subject: EventSubject;
  /** `Normal` or `Warning`. */
  type: "Normal" | "Warning";
  reason: string;
  message: string;
}

/**
 * Builds the Event `name` about a series that started at `firstMs` (without `series`; the
 * caller adds it for repeats).
 */
export function buildEvent(
  input: EventInput,
  name: string,
  firstMs: number,
  reporter: { controller: string; instance: string },
): Event {
  const { apiVersion, kind, metadata } = input.subject;
  const reason = truncate(input.reason, REASON_LIMIT);
  return {
    apiVersion: "events.k8s.io/v1",
    kind: "Event",
    metadata: { name, namespace: metadata.namespace || "default" },
    eventTime: microTime(firstMs),
    reportingController: reporter.controller,
    reportingInstance: truncate(reporter.instance, INSTANCE_LIMIT),
    action: reason,
    reason,
    note: truncate(input.message, NOTE_LIMIT),
    type: input.type,
    regarding: {
      apiVersion,
      kind,
      name: metadata.name ?? "",
      ...(metadata.namespace ? { namespace: metadata.namespace } : {}),
      ...(metadata.uid ? { uid: metadata.uid } : {}),
    },
  };
}

/** Where Events go; `kubeEventSink` writes them to the API server. */
export interface EventSink {
  /** Creates an Event. */
  create(event: Event, signal: AbortSignal): Promise<void>;
  /** Updates an Event's series; resolves `"gone"` when the Event no longer exists. */
  patchSeries(event: Event, signal: AbortSignal): Promise<"ok" | "gone">;
}

/** Options of `KubeEventRecorder`. */
export interface EventRecorderOptions extends EventCorrelatorOptions {
  /** `reportingController`, a qualified name; defaults to `hostport.rmb938.com/hostport-allocator`. */
  controller?: string;
  /** `reportingInstance`, for example the pod name (at most 128 characters). */
  instance: string;
  /** Global rate of writes per second; defaults to 5. */
  qps?: number;
  /** Writes allowed at once after a quiet period; defaults to 25. */
  burst?: number;
  /** Bound on queued writes; defaults to 1000. */
  maxQueued?: number;
  /** Time source; defaults to the system clock. */
  clock?: Clock;
  /** Where failures are logged (at debug level: Events are best effort). */
  logger?: Logger;
  /** Where the sent, dropped and failed counts go. */
  metrics?: MetricsRegistry;
}

interface Pending {
  subject: EventSubject;
  type: "Normal" | "Warning";
  reason: string;
  message: string;
}

/** Why an event was not written. */
export type DropReason = "spam" | "queue_full" | "invalid" | "stopped";

/** The default `reportingController`. */
export const DEFAULT_REPORTING_CONTROLLER = "hostport.rmb938.com/hostport-allocator";

/** Records Events asynchronously; call `close()` on shutdown to flush. */
export class KubeEventRecorder implements EventRecorder {
  #sink: EventSink;
  #options: EventRecorderOptions;
  #clock: Clock;
  #correlator: EventCorrelator;
  #limiter: TokenBucket;
  #pending = new Map<string, Pending>();
  #abort = new AbortController();
  #closed = false;
  #worker: Promise<void> | undefined;
  #dropped = 0;
  #sequence = 0;
  #onDrop: (reason: DropReason) => void;
  #onSend: (operation: "create" | "patch", ok: boolean) => void;

  /** Creates a recorder writing to `sink`. */
  constructor(sink: EventSink, options: EventRecorderOptions) {
    this.#sink = sink;
    this.#options = options;
    this.#clock = options.clock ?? SYSTEM_CLOCK;
    this.#correlator = new EventCorrelator(options);
    this.#limiter = new TokenBucket({
      qps: options.qps ?? 5,
      burst: options.burst ?? 25,
      clock: this.#clock,
    });
    const dropped = options.metrics?.counter(
      "hostport_events_dropped_total",
      "Events not written, by reason (spam, queue_full, invalid, stopped)",
      ["reason"],
    );
    const sent = options.metrics?.counter(
      "hostport_events_writes_total",
      "Event writes to the API server, by operation and result",
      ["operation", "result"],
    );
    this.#onDrop = (reason) => {
      this.#dropped++;
      dropped?.inc({ reason });
    };
    this.#onSend = (operation, ok) => sent?.inc({ operation, result: ok ? "success" : "error" });
  }

  /** How many events were dropped so far. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Resolves once the queue is empty (or the recorder is closed). */
  async idle(): Promise<void> {
    while (this.#worker) await this.#worker;
  }

  /** Records an Event; never throws and never waits. */
  record(subject: EventSubject, type: "Normal" | "Warning", reason: string, message: string): void {
    try {
      this.#record({ subject, type, reason, message });
    } catch (error) {
      this.#options.logger?.debug("cannot record event", { error, reason });
      this.#onDrop("invalid");
    }
  }

  #record(item: Pending): void {
    if (this.#closed) return this.#onDrop("stopped");
    const { apiVersion, kind, metadata } = item.subject;
    if (!metadata.name || !item.reason) return this.#onDrop("invalid");
    const objectKey = JSON.stringify([
      apiVersion,
      kind,
      metadata.namespace,
      metadata.name,
      metadata.uid,
    ]);
    const seriesKey = JSON.stringify([objectKey, item.type, item.reason, item.message]);
    const queued = this.#pending.has(seriesKey);
    if (!queued && this.#pending.size >= (this.#options.maxQueued ?? 1000)) {
      return this.#onDrop("queue_full");
    }
    const outcome = this.#correlator.observe(seriesKey, objectKey, this.#clock.now(), queued);
    if (outcome.action === "drop") return this.#onDrop(outcome.reason);
    this.#pending.set(seriesKey, item);
    this.#worker ??= this.#drain();
  }

  async #drain(): Promise<void> {
    try {
      while (this.#pending.size > 0 && !this.#abort.signal.aborted) {
        await this.#limiter.take(this.#abort.signal);
        const next = this.#pending.entries().next();
        if (next.done || this.#abort.signal.aborted) break;
        const [key, item] = next.value;
        this.#pending.delete(key);
        const entry = this.#correlator.get(key);
        if (entry) await this.#publish(item, entry);
      }
    } finally {
      this.#worker = undefined;
      if (this.#pending.size > 0 && !this.#abort.signal.aborted) this.#worker = this.#drain();
    }
  }

  async #publish(item: Pending, entry: SeriesEntry): Promise<void> {
    const count = entry.count;
    const nowMs = this.#clock.now();
    const reporter = this.#identity();
    let operation: "create" | "patch" = "patch";
    try {
      if (entry.eventName !== undefined && count > entry.publishedCount) {
        const event = buildEvent(item, entry.eventName, entry.firstMs, reporter);
        event.series = seriesOf(count, nowMs);
        if (await this.#sink.patchSeries(event, this.#abort.signal) === "gone") {
          entry.eventName = undefined; // expired (Events live an hour): create it again
        }
      }
      if (entry.eventName === undefined) {
        operation = "create";
        const name = this.#eventName(item.subject.metadata.name!, nowMs);
        const event = buildEvent(item, name, entry.firstMs, reporter);
        if (count > 1) event.series = seriesOf(count, nowMs);
        await this.#sink.create(event, this.#abort.signal);
        entry.eventName = name;
      }
      entry.publishedCount = Math.max(entry.publishedCount, count);
      this.#onSend(operation, true);
    } catch (error) {
      this.#onSend(operation, false);
      this.#options.logger?.debug("cannot write event", { error, reason: item.reason });
    }
  }

  /** `<object name>.<hex time>` as client-go names Events, kept under 253 characters. */
  #eventName(objectName: string, nowMs: number): string {
    const unique = BigInt(Math.floor(nowMs)) * 1_000_000n + BigInt(this.#sequence++ % 1_000_000);
    const suffix = unique.toString(16);
    return `${objectName.slice(0, 253 - suffix.length - 1)}.${suffix}`;
  }

  #identity() {
    return {
      controller: this.#options.controller ?? DEFAULT_REPORTING_CONTROLLER,
      instance: this.#options.instance,
    };
  }

  /**
   * Stops accepting events and waits up to `timeoutMs` for the queue to drain; what is
   * still queued then is dropped. Resolves with the number of events dropped this way.
   */
  async close(timeoutMs: number): Promise<number> {
    this.#closed = true;
    const timeout = new AbortController();
    const worker = this.#worker;
    if (worker) await Promise.race([worker, sleep(this.#clock, timeoutMs, timeout.signal)]);
    timeout.abort();
    this.#abort.abort();
    const lost = this.#pending.size;
    for (let i = 0; i < lost; i++) this.#onDrop("stopped");
    this.#pending.clear();
    await this.#worker;
    return lost;
  }
}

/** Creates a sink writing through the `events.k8s.io/v1` Event client. */
export function kubeEventSink(events: Pick<ResourceClient<Event>, "create" | "patch">): EventSink {
  return {
    async create(event, signal) {
      try {
        await events.create(event, { abortSignal: signal });
      } catch (error) {
        if (!(error instanceof AlreadyExistsError)) throw error; // a retried create landed
      }
    },
    async patchSeries(event, signal) {
      try {
        await events.patch(event.metadata?.name ?? "", {
          type: "merge",
          body: { series: event.series },
        }, {
          namespace: event.metadata?.namespace,
          abortSignal: signal,
        });
        return "ok";
      } catch (error) {
        if (error instanceof NotFoundError) return "gone";
        throw error;
      }
    },
  };
}

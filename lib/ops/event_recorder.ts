/**
 * `KubeEventRecorder`: the `EventRecorder` of the contracts. `record()` is synchronous and
 * never throws; a background worker writes `events.k8s.io/v1` Events through an `EventSink`
 * under a global token bucket. Identical events join a series (one Event whose
 * `series.count` grows), each object has a spam budget, and the queue is bounded: what does
 * not fit is dropped and counted.
 *
 * @module
 */
import type { Event } from "kubernetes-types/events/v1.d.ts";
import { type Clock, sleep, SYSTEM_CLOCK, TokenBucket } from "../kube/mod.ts";
import type { EventRecorder, EventSubject, Logger, MetricsRegistry } from "./contracts.ts";
import {
  EventCorrelator,
  type EventCorrelatorOptions,
  type SeriesEntry,
} from "./event_correlator.ts";
import { buildEvent, seriesOf } from "./event_object.ts";

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

  /** How many writes are queued. */
  get queued(): number {
    return this.#pending.size;
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

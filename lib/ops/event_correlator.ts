/**
 * The pure bookkeeping of the event recorder: which occurrences of an Event are identical
 * (and join one series), and the per-object spam filter (a token bucket per object, as
 * client-go's `EventSourceObjectSpamFilter`). Time comes in as an argument.
 *
 * @module
 */

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

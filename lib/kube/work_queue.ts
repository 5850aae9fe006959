/**
 * A work queue of keys, shaped like client-go's rate-limited queue. Urgent keys go first: work
 * that finishes something goes before work that starts it.
 *
 * @module
 */
import { backoffDelay, type Clock, SYSTEM_CLOCK, type TimerHandle } from "./clock.ts";

/**
 * A de-duplicating queue of keys with delayed and rate-limited adds: a key added while it is
 * processed is processed again after `done()`, never concurrently.
 */
export class WorkQueue<K = string> {
  #clock: Clock;
  #queue: K[] = [];
  #urgentQueue: K[] = [];
  #urgent = new Set<K>();
  #dirty = new Set<K>();
  #processing = new Set<K>();
  #failures = new Map<K, number>();
  #waiting = new Map<K, { at: number; timer: TimerHandle }>();
  #getters: ((key: K | undefined) => void)[] = [];
  #shuttingDown = false;

  /** Creates an empty queue. */
  constructor(options: { clock?: Clock } = {}) {
    this.#clock = options.clock ?? SYSTEM_CLOCK;
  }

  /** Queues `key` unless it is already queued; `urgent` puts it ahead of every other key. */
  add(key: K, options: { urgent?: boolean } = {}): void {
    if (this.#shuttingDown) return;
    const urgent = options.urgent === true;
    if (this.#dirty.has(key)) {
      if (urgent) this.#promote(key);
      return;
    }
    this.#dirty.add(key);
    if (urgent) this.#urgent.add(key);
    if (this.#processing.has(key)) return; // re-queued by done()
    const getter = this.#getters.shift();
    if (getter) {
      this.#take(key);
      getter(key);
    } else {
      (urgent ? this.#urgentQueue : this.#queue).push(key);
    }
  }

  /** Moves a queued (or to-be-requeued) key into the urgent lane. */
  #promote(key: K): void {
    if (this.#urgent.has(key)) return;
    this.#urgent.add(key);
    if (this.#processing.has(key)) return; // done() re-queues it, urgent
    const index = this.#queue.indexOf(key);
    if (index >= 0) this.#queue.splice(index, 1);
    this.#urgentQueue.push(key);
  }

  /** Queues `key` after `ms` milliseconds; a key already waiting keeps the earlier time. */
  addAfter(key: K, ms: number): void {
    if (this.#shuttingDown) return;
    if (ms <= 0) return this.add(key);
    const at = this.#clock.now() + ms;
    const existing = this.#waiting.get(key);
    if (existing && existing.at <= at) return;
    if (existing) this.#clock.clearTimeout(existing.timer);
    const timer = this.#clock.setTimeout(() => {
      this.#waiting.delete(key);
      this.add(key);
    }, ms);
    this.#waiting.set(key, { at, timer });
  }

  /** Queues `key` after 5 ms * 2^failures (max 1000 s, controller-runtime's); returns the count. */
  addRateLimited(key: K): number {
    const failures = this.#failures.get(key) ?? 0;
    this.#failures.set(key, failures + 1);
    this.addAfter(key, backoffDelay(failures, { initialMs: 5, maxMs: 1_000_000, jitter: 0 }));
    return failures + 1;
  }

  /** Resets `key`'s backoff. */
  forget(key: K): void {
    this.#failures.delete(key);
  }

  /** Waits for the next key (`undefined` once shut down); call `done(key)` when finished. */
  get(): Promise<K | undefined> {
    const key = this.#urgentQueue.shift() ?? this.#queue.shift();
    if (key !== undefined) {
      this.#take(key);
      return Promise.resolve(key);
    }
    if (this.#shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.#getters.push(resolve));
  }

  #take(key: K): void {
    this.#dirty.delete(key);
    this.#urgent.delete(key);
    this.#processing.add(key);
  }

  /** Marks `key` as finished; if it was added meanwhile it is queued again. */
  done(key: K): void {
    this.#processing.delete(key);
    if (this.#dirty.has(key)) {
      const urgent = this.#urgent.delete(key);
      this.#dirty.delete(key); // add() below marks it dirty again
      this.add(key, { urgent });
    }
  }

  /** Keys waiting to be processed. */
  get length(): number {
    return this.#urgentQueue.length + this.#queue.length;
  }

  /** Drops queued and delayed keys; waiting `get()` calls resolve `undefined`. */
  shutdown(): void {
    this.#shuttingDown = true;
    for (const { timer } of this.#waiting.values()) this.#clock.clearTimeout(timer);
    this.#waiting.clear();
    this.#queue = [];
    this.#urgentQueue = [];
    this.#urgent.clear();
    this.#dirty.clear();
    for (const getter of this.#getters.splice(0)) getter(undefined);
  }
}

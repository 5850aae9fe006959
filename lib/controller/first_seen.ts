/**
 * Remembers when this process first saw something (a claim, a deletion), so grace periods count
 * from the operator's own observation rather than from timestamps written by another clock.
 *
 * @module
 */

/** First-seen times by key. */
export class FirstSeen {
  #times = new Map<string, number>();

  /** Returns when `key` was first marked, marking it now (`nowMs`) if it never was. */
  mark(key: string, nowMs: number): number {
    const seen = this.#times.get(key);
    if (seen !== undefined) return seen;
    this.#times.set(key, nowMs);
    return nowMs;
  }

  /** Whether `key` was marked and not forgotten since. */
  has(key: string): boolean {
    return this.#times.has(key);
  }

  /** Forgets `key` (its object is gone). */
  forget(key: string): void {
    this.#times.delete(key);
  }

  /** How many keys are remembered. */
  get size(): number {
    return this.#times.size;
  }
}

/** Formats ms since the epoch as RFC 3339 with whole seconds, as the API server writes times. */
export function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

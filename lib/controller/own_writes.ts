/**
 * Remembers, per key, the resourceVersion of the cached object a reconcile of this process
 * started from when one of its writes succeeded. While the cache still shows that version, the
 * write's own watch event is on its way: a write made from that copy would only be refused with
 * 409 (every write is a compare-and-swap on resourceVersion), so the reconcile waits for it.
 *
 * @module
 */

/** The cached versions that this process's writes have made stale, by key. */
export class OwnWrites {
  #staleVersions = new Map<string, string>();

  /** Notes that a write of `key`, planned from the cached `resourceVersion`, succeeded. */
  note(key: string, resourceVersion: string | undefined): void {
    if (resourceVersion) this.#staleVersions.set(key, resourceVersion);
  }

  /**
   * Whether the cache still shows `key` at a version this process has since written over; once
   * it shows any other version the key is forgotten (versions never repeat).
   */
  isBehind(key: string, cachedResourceVersion: string | undefined): boolean {
    const stale = this.#staleVersions.get(key);
    if (stale === undefined) return false;
    if (stale === cachedResourceVersion) return true;
    this.#staleVersions.delete(key);
    return false;
  }

  /** Forgets `key` (its object is gone). */
  forget(key: string): void {
    this.#staleVersions.delete(key);
  }

  /** How many keys are remembered. */
  get size(): number {
    return this.#staleVersions.size;
  }
}

/**
 * `MicroTime`, the Kubernetes timestamp with microseconds (Lease and Event times).
 *
 * @module
 */

/** Formats epoch milliseconds as RFC 3339 with six fractional digits, in UTC. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

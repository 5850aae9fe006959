/**
 * Claim bursts for the process scenarios and the claims benchmark: create many claims with a
 * bounded number of requests in flight (as a user script would), and delete them all again
 * (`progress_watch.ts` follows them turning `Bound`).
 *
 * @module
 */
import type { KubeClients } from "../lib/kube/mod.ts";
import { claimObject } from "./controller_harness.ts";

/** How to create a burst. */
export interface BurstOptions {
  /** Requests in flight at once. */
  inFlight: number;
  /** Told, in order of completion, when each create returned (`performance.now()`). */
  onCreated?: (name: string, at: number) => void;
}

/** The names of a burst: `claim-0` ... `claim-<count - 1>`. */
export function claimNames(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `claim-${i}`);
}

/** Runs `task` over `items` with at most `inFlight` running at once. */
export async function forEachBounded<T>(
  items: readonly T[],
  inFlight: number,
  task: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await task(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, items.length) }, worker));
}

/** Creates the claims `names` of `className` in `namespace`. */
export async function createClaims(
  kube: KubeClients,
  namespace: string,
  className: string,
  names: readonly string[],
  options: BurstOptions,
): Promise<void> {
  await forEachBounded(names, options.inFlight, async (name) => {
    await kube.hostPortClaims.create(claimObject(namespace, name, className));
    options.onCreated?.(name, performance.now());
  });
}

/** Deletes every claim of `namespace`, `inFlight` requests at a time. */
export async function deleteClaims(
  kube: KubeClients,
  namespace: string,
  inFlight: number,
): Promise<void> {
  const claims = (await kube.hostPortClaims.listAll({ namespace })).items;
  await forEachBounded(claims, inFlight, async (claim) => {
    await kube.hostPortClaims.delete(claim.metadata.name ?? "", { namespace });
  });
}

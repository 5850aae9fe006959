/**
 * Helpers the Informer tests against a real kube-apiserver share: a minimal HostPortClaim, a
 * count of the list and watch requests a client sends, and bounded polling.
 *
 * @module
 */
import type { HostPortClaim } from "../lib/api/mod.ts";
import type { RequestOptions, RestClient } from "../lib/kube/mod.ts";
import { eventually } from "./controller_harness.ts";

/** The label each test's claims carry (its namespace), so an informer can select them. */
export const TEST_LABEL = "informer-test";

/** A HostPortClaim `namespace/name` of class `games`, labelled {@linkcode TEST_LABEL}. */
export function claim(name: string, namespace: string): HostPortClaim {
  return {
    apiVersion: "hostport.rmb938.com/v1alpha1",
    kind: "HostPortClaim",
    metadata: { name, namespace, labels: { [TEST_LABEL]: namespace } },
    spec: { hostPortClassName: "games" },
  };
}

/** Waits until `condition` holds, polling with {@linkcode eventually}; fails naming `message`. */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  message: string,
  timeoutMs = 30_000,
): Promise<void> {
  await eventually(message, async () => await condition() || undefined, timeoutMs);
}

/** List and watch requests sent so far (a paged list counts once). */
export interface RequestCounts {
  lists: number;
  watches: number;
}

/** `rest`, counting the list and watch requests sent through it into `counts`. */
export function countRequests(rest: RestClient): { rest: RestClient; counts: RequestCounts } {
  const counts: RequestCounts = { lists: 0, watches: 0 };
  const performRequest = (opts: RequestOptions) => {
    const query = opts.querystring ?? new URLSearchParams();
    if (opts.method === "GET" && query.get("watch") === "true") counts.watches++;
    else if (opts.method === "GET" && !query.has("continue")) counts.lists++;
    return rest.performRequest(opts);
  };
  return { rest: { performRequest } as RestClient, counts };
}

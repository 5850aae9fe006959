/**
 * Helpers the Informer tests against a real kube-apiserver share: a minimal HostPortClaim and
 * bounded polling.
 *
 * @module
 */
import type { HostPortClaim } from "../lib/api/mod.ts";
import { eventually } from "./controller_harness.ts";

/** A HostPortClaim `namespace/name` of class `games`, as a user would create it. */
export function claim(name: string, namespace: string): HostPortClaim {
  return {
    apiVersion: "hostport.rmb938.com/v1alpha1",
    kind: "HostPortClaim",
    metadata: { name, namespace },
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

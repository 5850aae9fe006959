/**
 * Helpers the Informer tests against a real kube-apiserver share: a minimal HostPortClaim and
 * bounded polling.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { HostPortClaim } from "../lib/api/mod.ts";

/** A HostPortClaim `namespace/name` of class `games`, as a user would create it. */
export function claim(name: string, namespace: string): HostPortClaim {
  return {
    apiVersion: "hostport.rmb938.com/v1alpha1",
    kind: "HostPortClaim",
    metadata: { name, namespace },
    spec: { hostPortClassName: "games" },
  };
}

/** Waits until `condition` holds, polling; fails with `message` after `timeoutMs`. */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  message: string,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`Timed out waiting: ${message}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

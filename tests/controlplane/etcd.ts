/**
 * A single-member etcd on 127.0.0.1 for the test control plane, and compaction through etcd's
 * JSON gateway.
 *
 * @module
 */
import { join } from "node:path";
import { z } from "zod";
import { ControlPlaneError } from "./errors.ts";
import { freePort, type ManagedProcess, spawnManaged } from "./process.ts";
import { waitUntil } from "./wait.ts";

/** A running etcd. */
export interface Etcd {
  /** Client URL, `http://127.0.0.1:<port>`. */
  url: string;
  /** The etcd process. */
  process: ManagedProcess;
}

/** Where and how to start etcd. */
export interface EtcdOptions {
  /** Path of the etcd binary. */
  binary: string;
  /** Directory for the data dir. */
  runDir: string;
  /** Log file. */
  logPath: string;
}

const HEALTH = z.object({ health: z.string() });
const RANGE = z.object({ header: z.object({ revision: z.coerce.number().int() }) });

async function healthy(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) });
    const body = HEALTH.safeParse(await response.json());
    return response.ok && body.success && body.data.health === "true";
  } catch {
    return false;
  }
}

/** Starts etcd with fsync off (test data only); it is not ready yet, see {@linkcode waitForEtcd}. */
export function spawnEtcd(options: EtcdOptions): Etcd {
  const clientUrl = `http://127.0.0.1:${freePort()}`;
  const peerUrl = `http://127.0.0.1:${freePort()}`;
  const process = spawnManaged("etcd", options.binary, [
    "--name=controlplane",
    `--data-dir=${join(options.runDir, "etcd")}`,
    `--listen-client-urls=${clientUrl}`,
    `--advertise-client-urls=${clientUrl}`,
    `--listen-peer-urls=${peerUrl}`,
    `--initial-advertise-peer-urls=${peerUrl}`,
    `--initial-cluster=controlplane=${peerUrl}`,
    "--unsafe-no-fsync",
    "--log-level=warn",
  ], { logPath: options.logPath });
  return { url: clientUrl, process };
}

/**
 * Waits until etcd reports healthy.
 *
 * @throws {ControlPlaneError} on timeout or when etcd exits, with its log tail
 */
export async function waitForEtcd(etcd: Etcd, timeoutMs: number): Promise<void> {
  await waitUntil(() => healthy(etcd.url), {
    what: "etcd to report healthy",
    timeoutMs,
    process: etcd.process,
  });
}

async function gateway(url: string, path: string, body: unknown): Promise<unknown> {
  const response = await fetch(`${url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) {
    throw new ControlPlaneError(`Cannot call etcd ${path}: HTTP ${response.status}: ${text}`);
  }
  return JSON.parse(text);
}

/**
 * Compacts etcd's history up to its current revision and returns that revision. Afterwards a
 * read or watch of an older revision fails in etcd with "required revision has been compacted".
 */
export async function compactEtcd(url: string): Promise<number> {
  // Any key will do: the response header carries the store's current revision.
  const range = RANGE.parse(
    await gateway(url, "/v3/kv/range", { key: btoa("\0"), count_only: true }),
  );
  const revision = range.header.revision;
  await gateway(url, "/v3/kv/compaction", { revision: String(revision), physical: true });
  return revision;
}

/**
 * Measurements of the claims benchmark: latency percentiles, the operator's API writes from the
 * API server's audit log (by what they wrote), and CPU time of processes from /proc.
 *
 * @module
 */
import { z } from "zod";
import { DEFAULT_RECORD_NAME } from "../lib/allocation/mod.ts";
import type { ApiCall } from "../tests/demo/audit_log.ts";

/** The verbs that change something. */
const WRITE_VERBS = new Set(["create", "update", "patch", "delete", "deletecollection"]);

/** What an operator write changed. */
export type WriteTarget =
  | "HostPortClaim"
  | "HostPort"
  | "HostPortClass"
  | "Event"
  | "allocation record"
  | "Lease"
  | "other";

/** Writes to one target: how many, and how many the API server refused. */
export interface WriteCount {
  /** Every write request. */
  total: number;
  /** Refused with 409 Conflict (a stale resourceVersion, or AlreadyExists). */
  conflicts: number;
  /** Refused otherwise (4xx/5xx other than 409). */
  failed: number;
  /** `verb resource` -> count, for the detail table. */
  byVerb: Map<string, number>;
}

/** Sorts a call into its target. */
export function writeTarget(call: ApiCall): WriteTarget {
  const resource = call.resource?.split("/")[0];
  if (resource === "hostportclaims") return "HostPortClaim";
  if (resource === "hostports") return "HostPort";
  if (resource === "hostportclasses") return "HostPortClass";
  if (resource === "events") return "Event";
  if (resource === "configmaps" && call.name === DEFAULT_RECORD_NAME) return "allocation record";
  if (resource === "leases") return "Lease";
  return "other";
}

/** Counts the write calls by target. */
export function countWrites(calls: readonly ApiCall[]): Map<WriteTarget, WriteCount> {
  const counts = new Map<WriteTarget, WriteCount>();
  for (const call of calls) {
    if (!WRITE_VERBS.has(call.verb)) continue;
    const target = writeTarget(call);
    const count = counts.get(target) ?? { total: 0, conflicts: 0, failed: 0, byVerb: new Map() };
    count.total++;
    if (call.code === 409) count.conflicts++;
    else if (call.code >= 400 || call.code === 0) count.failed++;
    const key = `${call.verb} ${call.resource}`;
    count.byVerb.set(key, (count.byVerb.get(key) ?? 0) + 1);
    counts.set(target, count);
  }
  return counts;
}

/** Counts the read calls (get, list, watch) by `verb resource`. */
export function countReads(calls: readonly ApiCall[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const call of calls) {
    if (WRITE_VERBS.has(call.verb)) continue;
    const key = `${call.verb} ${call.resource ?? call.uri}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/** The `q`-quantile (0..1) of `values` by the nearest-rank method; NaN when empty. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1] as number;
}

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** CPU seconds (user + system) a process has used so far; NaN when it cannot be read. */
export async function cpuSeconds(pid: number): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`).catch(() => "");
  // The command name (field 2) may hold spaces; the fields after its closing paren are fixed.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / TICKS_PER_SECOND;
}

/** CPU seconds of several processes, by name. */
export async function cpuOf(pids: Record<string, number>): Promise<Record<string, number>> {
  const entries = await Promise.all(
    Object.entries(pids).map(async ([name, pid]) => [name, await cpuSeconds(pid)] as const),
  );
  return Object.fromEntries(entries);
}

const AUDIT_TIMES = z.looseObject({
  stage: z.string(),
  verb: z.string(),
  user: z.looseObject({ username: z.string() }),
  objectRef: z.looseObject({
    resource: z.string().optional(),
    subresource: z.string().optional(),
    name: z.string().optional(),
  }).optional(),
  requestReceivedTimestamp: z.string(),
  stageTimestamp: z.string(),
});

/** `user`'s completed writes received since `since` (epoch ms), from the audit log. */
async function auditedWrites(
  logPath: string,
  user: string,
  since: number,
): Promise<z.infer<typeof AUDIT_TIMES>[]> {
  const text = await Deno.readTextFile(logPath);
  const events = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const event = AUDIT_TIMES.parse(JSON.parse(line));
    if (event.user.username !== user || event.stage !== "ResponseComplete") continue;
    if (!WRITE_VERBS.has(event.verb)) continue;
    if (Date.parse(event.requestReceivedTimestamp) < since) continue;
    events.push(event);
  }
  return events;
}

/**
 * How long the API server took for each of `user`'s writes received since `since` (epoch ms):
 * request received to response complete, from the audit log, in ms, by target.
 */
export async function writeLatencies(
  logPath: string,
  user: string,
  since: number,
): Promise<Map<WriteTarget, number[]>> {
  const latencies = new Map<WriteTarget, number[]>();
  for (const event of await auditedWrites(logPath, user, since)) {
    const ref = event.objectRef;
    const target = writeTarget({
      verb: event.verb,
      apiGroup: undefined,
      resource: ref?.subresource ? `${ref.resource}/${ref.subresource}` : ref?.resource,
      namespace: undefined,
      name: ref?.name,
      uri: "",
      code: 0,
    });
    const ms = Date.parse(event.stageTimestamp) - Date.parse(event.requestReceivedTimestamp);
    latencies.set(target, [...latencies.get(target) ?? [], ms]);
  }
  return latencies;
}

/**
 * When `user`'s first write of each claim since `since` (epoch ms) completed, in epoch ms, by
 * claim name: the update that sets its `spec.hostPortName`, the end of its first reconcile.
 */
export async function firstClaimWrites(
  logPath: string,
  user: string,
  since: number,
): Promise<Map<string, number>> {
  const firstWrites = new Map<string, number>();
  for (const event of await auditedWrites(logPath, user, since)) {
    const ref = event.objectRef;
    if (ref?.resource !== "hostportclaims" || ref.subresource || !ref.name) continue;
    const at = Date.parse(event.stageTimestamp);
    firstWrites.set(ref.name, Math.min(at, firstWrites.get(ref.name) ?? Infinity));
  }
  return firstWrites;
}

/**
 * Turns runs of the claims benchmark into its results file: one column per run, the targets
 * and whether each run meets them, the operator's writes by target, and where the time went.
 *
 * @module
 */
import type { BenchResult } from "./bench_result.ts";
import { diagnose } from "./claims_diagnosis.ts";
import { quantile, type WriteCount, type WriteTarget } from "./claims_measure.ts";
import { seriesValue } from "../tests/controller_ops_fakes.ts";
import { webhookForPath } from "../webhook/configurations.ts";

/** What one run measured. */
export interface ClaimsRun {
  /** Names the run (a column of the results). */
  readonly label: string;
  /** Claims created. */
  readonly claims: number;
  /** Create requests in flight at once. */
  readonly inFlight: number;
  /** The operator's flags. */
  readonly flags: readonly string[];
  /** The operator's V8 flags. */
  readonly v8Flags: string;
  /** From the first create sent to the last create returned. */
  readonly createSeconds: number;
  /** From the first create sent to the first claim seen Bound. */
  readonly firstBoundSeconds: number;
  /** From the first create sent to the last claim seen Bound. */
  readonly allBoundSeconds: number;
  /** Median claim-to-bound latency, in ms. */
  readonly p50Ms: number;
  /** 99th percentile. */
  readonly p99Ms: number;
  /** Worst claim. */
  readonly maxMs: number;
  /**
   * Where each claim's latency went: from its create to the end of its first reconcile (the
   * operator's update of the claim's spec), and from there to Bound, in ms.
   */
  readonly claimStages: {
    readonly toFirstWriteMs: readonly number[];
    readonly firstWriteToBoundMs: readonly number[];
  };
  /** The operator's writes during the burst, by target. */
  readonly writes: ReadonlyMap<WriteTarget, WriteCount>;
  /** The operator's reads during the burst, by `verb resource`. */
  readonly reads: ReadonlyMap<string, number>;
  /** How long the API server took for each write, in ms, by target. */
  readonly writeLatencies: ReadonlyMap<WriteTarget, readonly number[]>;
  /** The operator's `VmHWM` once started, before the burst. */
  readonly idleRssBytes: number;
  /** VmRSS of the operator, idle, just before the burst. */
  readonly idleCurrentRssBytes: number;
  /** The operator's `VmHWM` after the burst. */
  readonly peakRssBytes: number;
  /** CPU seconds each process used between the first create and the last Bound. */
  readonly cpuSeconds: Readonly<Record<string, number>>;
  /** The operator's `/metrics` after the burst. */
  readonly metrics: string;
  /** The machine's 1-minute load average before and after the run. */
  readonly loadAverage: readonly string[];
}

/** The targets on a 2-core machine with the control plane on it. */
export const CLAIMS_TARGETS = {
  claimsPerSecond: 100,
  p99Ms: 5_000,
  writesPerClaim: 4,
  peakRssMb: 150,
} as const;

const MB = 1024 * 1024;
const WRITE_TARGETS: readonly WriteTarget[] = [
  "HostPortClaim",
  "HostPort",
  "allocation record",
  "Event",
  "HostPortClass",
  "Lease",
  "other",
];

/** One target: its name, how it reads in a run, and whether the run meets it. */
interface Target {
  readonly name: string;
  readonly target: string;
  readonly value: (run: ClaimsRun) => string;
  readonly met: (run: ClaimsRun) => boolean;
}

/** The claim's and its HostPort's own writes (the design's 4), per claim. */
export function objectWritesPerClaim(run: ClaimsRun): number {
  const objectWrites = (run.writes.get("HostPortClaim")?.total ?? 0) +
    (run.writes.get("HostPort")?.total ?? 0);
  return objectWrites / run.claims;
}

const perSecond = (run: ClaimsRun) => run.claims / run.allBoundSeconds;
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const megabytes = (bytes: number) => `${(bytes / MB).toFixed(0)} MB`;

const TARGETS: readonly Target[] = [
  {
    name: "claims bound per second",
    target: `>= ${CLAIMS_TARGETS.claimsPerSecond}`,
    value: (run) => perSecond(run).toFixed(0),
    met: (run) => perSecond(run) >= CLAIMS_TARGETS.claimsPerSecond,
  },
  {
    name: "p99 claim-to-bound latency",
    target: `< ${CLAIMS_TARGETS.p99Ms / 1000} s`,
    value: (run) => seconds(run.p99Ms),
    met: (run) => run.p99Ms < CLAIMS_TARGETS.p99Ms,
  },
  {
    name: "operator writes per claim (its claim and HostPort)",
    target: `<= ${CLAIMS_TARGETS.writesPerClaim}`,
    value: (run) => objectWritesPerClaim(run).toFixed(2),
    met: (run) => objectWritesPerClaim(run) <= CLAIMS_TARGETS.writesPerClaim,
  },
  {
    name: "operator peak RSS (VmHWM)",
    target: `< ${CLAIMS_TARGETS.peakRssMb} MB`,
    value: (run) => megabytes(run.peakRssBytes),
    met: (run) => run.peakRssBytes / MB < CLAIMS_TARGETS.peakRssMb,
  },
];

/** The value of one series in a Prometheus exposition, NaN when it is absent. */
export function sample(metrics: string, series: string): number {
  return seriesValue(metrics, series) ?? NaN;
}

function reconciles(run: ClaimsRun, controller: string): string {
  const label = `{controller="${controller}"}`;
  const count = sample(run.metrics, `controller_runtime_reconcile_time_seconds_count${label}`);
  const sum = sample(run.metrics, `controller_runtime_reconcile_time_seconds_sum${label}`);
  return `${count} (mean ${(1000 * sum / count).toFixed(1)} ms)`;
}

function writes(run: ClaimsRun, target: WriteTarget): string {
  const count = run.writes.get(target);
  if (count === undefined) return "0";
  const ms = run.writeLatencies.get(target) ?? [];
  return `${count.total} (${(count.total / run.claims).toFixed(2)}/claim, ` +
    `${count.conflicts} conflicts, ${count.failed} failed; API server p50 ` +
    `${quantile(ms, 0.5)} ms, p99 ${quantile(ms, 0.99)} ms)`;
}

function verbs(run: ClaimsRun): string {
  const all = [...run.writes.values()].flatMap((count) => [...count.byVerb]);
  return all.map(([verb, n]) => `${verb} ${n}`).join("; ");
}

/** The operator's admission requests answered during the run, by webhook. */
function webhookRequests(run: ClaimsRun): string {
  const counts = new Map<string, number>();
  const series =
    /^controller_runtime_webhook_requests_total\{[^}]*webhook="([^"]*)"[^}]*\} (\S+)$/gm;
  for (const [, path = "", n] of run.metrics.matchAll(series)) {
    const id = webhookForPath(path) ?? path;
    counts.set(id, (counts.get(id) ?? 0) + Number(n));
  }
  const all = [...counts.values()].reduce((sum, n) => sum + n, 0);
  return `${all} (${(all / run.claims).toFixed(2)}/claim)` +
    [...counts].map(([id, n]) => `; ${id} ${n}`).join("");
}

/** The rows after the targets: what the numbers are made of. */
function detailRows(): [string, (run: ClaimsRun) => string][] {
  const total = (run: ClaimsRun) => [...run.writes.values()].reduce((n, c) => n + c.total, 0);
  return [
    ["p50 / max claim-to-bound latency", (r) => `${seconds(r.p50Ms)} / ${seconds(r.maxMs)}`],
    ["all creates returned after", (r) => `${r.createSeconds.toFixed(2)} s`],
    [
      "first / last claim seen Bound after",
      (r) => `${r.firstBoundSeconds.toFixed(2)} s / ${r.allBoundSeconds.toFixed(2)} s`,
    ],
    ["all operator writes per claim", (r) => (total(r) / r.claims).toFixed(2)],
    ...WRITE_TARGETS.map((t): [string, (run: ClaimsRun) => string] => [
      `writes to ${t}`,
      (r) => writes(r, t),
    ]),
    ["writes by verb", verbs],
    ["reads", (r) => [...r.reads].map(([what, n]) => `${what} ${n}`).join("; ")],
    ...["hostportclaim", "hostport"].map((c): [string, (run: ClaimsRun) => string] => [
      `${c} reconciles`,
      (r) => reconciles(r, c),
    ]),
    ["webhook requests", webhookRequests],
    ...["operator", "kube-apiserver", "etcd", "bench (client + watch)"].map(
      (p): [string, (run: ClaimsRun) => string] => [`CPU of ${p}`, (r) => {
        const cpu = r.cpuSeconds[p] ?? NaN;
        return `${cpu.toFixed(1)} s (${(100 * cpu / r.allBoundSeconds).toFixed(0)}% of a core)`;
      }],
    ),
    ["operator peak RSS before the burst", (r) => megabytes(r.idleRssBytes)],
    ["operator RSS (VmRSS) idle, before the burst", (r) => megabytes(r.idleCurrentRssBytes)],
    [
      "operator V8 heap used / reserved after",
      (r) =>
        `${megabytes(sample(r.metrics, "process_heap_used_bytes"))} / ` +
        megabytes(sample(r.metrics, "process_heap_total_bytes")),
    ],
    ["load average (1 min) before / after", (r) => r.loadAverage.join(" / ")],
    ["operator flags / V8 flags", (r) => `\`${r.flags.join(" ")}\` / \`${r.v8Flags}\``],
  ];
}

/** The results of the runs, with each target marked met or missed in each. */
export function claimsReport(runs: readonly ClaimsRun[], method: string): BenchResult {
  const first = runs[0];
  const mark = (ok: boolean) => ok ? "met" : "**missed**";
  return {
    title: `Claims: ${first?.claims.toLocaleString("en")} claims bound by the operator process`,
    method,
    columns: ["Measure", "Target", ...runs.map((run) => run.label)],
    rows: [
      ...TARGETS.map((t) => [
        t.name,
        t.target,
        ...runs.map((run) => `${t.value(run)} (${mark(t.met(run))})`),
      ]),
      ...detailRows().map(([name, value]) => [name, "", ...runs.map(value)]),
    ],
    summary: [
      ...runs.map((run) =>
        `${run.label}: ` +
        TARGETS.map((t) => `${t.name} ${t.value(run)} ${t.met(run) ? "met" : "MISSED"}`)
          .join("; ")
      ),
      ...runs.flatMap(diagnose),
    ],
  };
}

/**
 * Where the time and the writes of a claims run went, as sentences computed from its numbers:
 * how busy the workers were, where a claim's latency went (waiting for its first reconcile, or
 * after it), what the writes beyond 4 per claim were, what throughput the p99 target needs and
 * what the machine's CPU allows, and what the V8 heap held.
 *
 * @module
 */
import { CONTROLLER_DEFAULTS } from "../lib/controller/start_controllers.ts";
import { quantile } from "./claims_measure.ts";
import { CLAIMS_TARGETS, type ClaimsRun, sample } from "./claims_report.ts";

/** The operator's default workers per controller (`--workers` sets all of them). */
const DEFAULT_WORKERS = {
  hostportclaim: CONTROLLER_DEFAULTS.claimWorkers,
  hostport: CONTROLLER_DEFAULTS.hostPortWorkers,
} as const;
const MB = 1024 * 1024;

function workers(run: ClaimsRun, controller: keyof typeof DEFAULT_WORKERS): number {
  const flag = run.flags.find((f) => f.startsWith("--workers="));
  return flag === undefined ? DEFAULT_WORKERS[controller] : Number(flag.split("=")[1]);
}

/** Share of the burst during which a controller's workers were all reconciling. */
function busy(run: ClaimsRun, controller: keyof typeof DEFAULT_WORKERS): string {
  const label = `{controller="${controller}"}`;
  const seconds = sample(run.metrics, `controller_runtime_reconcile_time_seconds_sum${label}`);
  const count = sample(run.metrics, `controller_runtime_reconcile_time_seconds_count${label}`);
  const n = workers(run, controller);
  const share = 100 * seconds / (n * run.allBoundSeconds);
  return `${controller}: ${count} reconciles x ${(1000 * seconds / count).toFixed(0)} ms / ` +
    `${n} workers = ${share.toFixed(0)}% busy`;
}

/** Sentences that explain one run's numbers. */
export function diagnose(run: ClaimsRun): string[] {
  const hostPort = run.writes.get("HostPort");
  const claim = run.writes.get("HostPortClaim");
  const claimStatus = claim?.byVerb.get("update hostportclaims/status") ?? 0;
  const apiCpu = run.cpuSeconds["kube-apiserver"] ?? NaN;
  const heapUsed = sample(run.metrics, "process_heap_used_bytes") / MB;
  const heapTotal = sample(run.metrics, "process_heap_total_bytes") / MB;
  // Claim i (of n, in creation order) waits about i/rate - i/arrivals when served in order.
  const arrivals = run.claims / run.createSeconds;
  const targetSeconds = CLAIMS_TARGETS.p99Ms / 1000;
  const needed = 1 / (targetSeconds / (0.99 * run.claims) + 1 / arrivals);
  const cpuMs = Object.values(run.cpuSeconds).reduce((sum, s) => sum + s, 0) * 1000 / run.claims;
  const cores = navigator.hardwareConcurrency;
  const stage = (values: readonly number[]) =>
    `p50 ${(quantile(values, 0.5) / 1000).toFixed(1)} s, p99 ` +
    `${(quantile(values, 0.99) / 1000).toFixed(1)} s`;
  return [
    `${run.label}, workers: ${busy(run, "hostportclaim")}; ${busy(run, "hostport")} ` +
    `(over the ${run.allBoundSeconds.toFixed(1)} s burst).`,
    `${run.label}, ordering: from its create to the end of its first reconcile (the spec ` +
    `write) a claim waited ${stage(run.claimStages.toFirstWriteMs)}; from there to Bound ` +
    `(HostPort reconcile, record, status writes, the claim's urgent last reconcile) ` +
    `${stage(run.claimStages.firstWriteToBoundMs)}: the latency is the queue of first ` +
    `reconciles, served in creation order, i.e. throughput.`,
    `${run.label}, writes beyond 4 per claim: ${hostPort?.conflicts ?? 0} HostPort status ` +
    `writes refused with 409 (each followed by a GET) and ${claim?.conflicts ?? 0} claim ` +
    `writes refused; ${Math.max(0, claimStatus - run.claims)} claim status writes beyond one ` +
    `per claim (retries of refused ones, and \`Pending\`, which a claim still unbound 2 s ` +
    `after it was first seen is given).`,
    `${run.label}, p99: creates arrived at ${arrivals.toFixed(0)}/s, so even in the best ` +
    `order 99% of claims Bound within ${targetSeconds} s needs at least ${needed.toFixed(0)} ` +
    `claims bound per second, at most ${(1000 * cores / needed).toFixed(1)} ms of CPU per ` +
    `claim on ${cores} cores; all measured processes used ${cpuMs.toFixed(1)} ms per claim ` +
    `(${(1000 * cores / cpuMs).toFixed(0)} claims per second if they had the cores to ` +
    `themselves).`,
    `${run.label}, API server: ${(1000 * apiCpu / run.claims).toFixed(1)} ms of ` +
    `kube-apiserver CPU per claim (its create, the operator's writes, the watches), so one ` +
    `core of it serves about ${(run.claims / apiCpu).toFixed(0)} claims per second.`,
    `${run.label}, memory: V8 heap ${heapUsed.toFixed(0)} MB used of ` +
    `${heapTotal.toFixed(0)} MB reserved after the burst; the rest of the RSS is the runtime, ` +
    `the code and native buffers (${(run.idleRssBytes / MB).toFixed(0)} MB before the burst).`,
  ];
}

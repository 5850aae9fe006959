/**
 * One measured run of the claims benchmark: a fresh control plane with the operator's calls
 * audited, the operator process, a burst of claims, and everything `claims_report.ts` prints.
 *
 * @module
 */
import { OPERATOR_USER } from "../scripts/gen_release_names.ts";
import type { KubeClients } from "../lib/kube/mod.ts";
import { adminClients, classObject, ensureNamespace } from "../tests/controller_harness.ts";
import { startControlPlane } from "../tests/controlplane/harness.ts";
import { releaseWebhooksAt } from "../tests/demo/local_operator.ts";
import { auditFlags, readApiCalls } from "../tests/demo/audit_log.ts";
import type { OperatorOptions, OperatorProcess } from "../tests/demo/operator_process.ts";
import { claimNames, createClaims } from "../tests/process_claims.ts";
import { metricValue, peakRssBytes, ProcessOperators } from "../tests/process_operators.ts";
import { watchBoundClaims } from "../tests/progress_watch.ts";
import {
  countReads,
  countWrites,
  cpuOf,
  firstClaimWrites,
  quantile,
  writeLatencies,
} from "./claims_measure.ts";
import type { ClaimsRun } from "./claims_report.ts";

/** What one run does. */
export interface ClaimsRunOptions {
  /** Names the run in the results. */
  readonly label: string;
  /** Claims created. */
  readonly claims: number;
  /** Create requests in flight at once. */
  readonly inFlight: number;
  /** What the operator process runs (the bundle, or `mod.ts`), with its environment. */
  readonly script: NonNullable<OperatorOptions["script"]>;
  /** Operator flags. */
  readonly flags: readonly string[];
  /** Whether the release's custom-resource webhook configurations call the operator process. */
  readonly webhooks?: boolean;
  /** Where the audit policy and log go. */
  readonly workDir: string;
}

const NAMESPACE = "bench";
const CLASS = "bench";
const FIRST_PORT = 30000;
/** Time after the last Bound during which trailing writes (Events, class status) are counted. */
export const TRAILING_MS = 3_000;
const BOUND_TIMEOUT_MS = 300_000;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** VmRSS of a running process, in bytes. */
async function currentRssBytes(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(status.match(/^VmRSS:\s+(\d+)\s+kB$/m)?.[1]) * 1024;
}

/** The machine's 1-minute load average. */
async function loadAverage(): Promise<string> {
  return (await Deno.readTextFile("/proc/loadavg").catch(() => "?")).split(" ")[0] ?? "?";
}

/**
 * Waits until the operator leads and its first repair pass is done, so that its start-up writes
 * are not counted.
 *
 * @throws {Error} after 60 s
 */
async function waitUntilLeading(operator: OperatorProcess): Promise<void> {
  const deadline = performance.now() + 60_000;
  while (await metricValue(operator, 'hostport_repair_runs_total{result="success"}') !== 1) {
    if (performance.now() > deadline) {
      throw new Error(`The operator did not finish its first repair pass within 60 s`);
    }
    await sleep(100);
  }
  await sleep(1_000);
}

/**
 * Registers the release's custom-resource webhook configurations (its claim, HostPort and class
 * webhooks, with the operator's username), calling `baseUrl` and trusting `tls`'s CA.
 */
async function registerWebhooks(
  kube: KubeClients,
  baseUrl: string,
  tls: { caBundle: string },
): Promise<void> {
  const [mutating, validating] = releaseWebhooksAt(baseUrl, tls.caBundle);
  await kube.mutatingWebhookConfigurations.create(mutating);
  await kube.validatingWebhookConfigurations.create(validating);
}

/** What the burst itself measured. */
type BurstTimes = Pick<
  ClaimsRun,
  | "createSeconds"
  | "firstBoundSeconds"
  | "allBoundSeconds"
  | "p50Ms"
  | "p99Ms"
  | "maxMs"
  | "cpuSeconds"
>;

/** When a claim's create returned and when it was seen Bound, in epoch ms, by claim name. */
type Timeline = Map<string, { readonly created: number; readonly bound: number }>;

/** Creates the claims, waits until all are Bound, and times it. */
async function runBurst(
  kube: KubeClients,
  pids: Record<string, number>,
  options: ClaimsRunOptions,
): Promise<BurstTimes & { readonly timeline: Timeline }> {
  const cpuBefore = await cpuOf(pids);
  await using bound = watchBoundClaims(kube, NAMESPACE);
  const createdAt = new Map<string, number>();
  const started = performance.now();
  await createClaims(kube, NAMESPACE, CLASS, claimNames(options.claims), {
    inFlight: options.inFlight,
    onCreated: (name, at) => createdAt.set(`${NAMESPACE}/${name}`, at),
  });
  const created = performance.now();
  await bound.waitFor(options.claims, BOUND_TIMEOUT_MS);
  const cpuAfter = await cpuOf(pids);
  const boundTimes = [...bound.doneAt.values()];
  const latencies = [...bound.doneAt].map(([key, at]) => at - (createdAt.get(key) ?? at));
  const epochMs = (at: number) => performance.timeOrigin + at;
  const timeline: Timeline = new Map(
    [...bound.doneAt].map(([key, at]) => [key.slice(NAMESPACE.length + 1), {
      created: epochMs(createdAt.get(key) ?? at),
      bound: epochMs(at),
    }]),
  );
  return {
    timeline,
    createSeconds: (created - started) / 1000,
    firstBoundSeconds: (Math.min(...boundTimes) - started) / 1000,
    allBoundSeconds: (Math.max(...boundTimes) - started) / 1000,
    p50Ms: quantile(latencies, 0.5),
    p99Ms: quantile(latencies, 0.99),
    maxMs: quantile(latencies, 1),
    cpuSeconds: Object.fromEntries(
      Object.entries(cpuAfter).map(([name, cpu]) => [name, cpu - (cpuBefore[name] ?? 0)]),
    ),
  };
}

/** Runs one burst against a fresh control plane and measures it. */
export async function measureClaims(options: ClaimsRunOptions): Promise<ClaimsRun> {
  const loadBefore = await loadAverage();
  const audit = await auditFlags(options.workDir, OPERATOR_USER);
  await using cp = await startControlPlane({ apiServerArgs: audit.args });
  using kube = await adminClients(cp);
  await using operators = await ProcessOperators.prepare(cp, { script: options.script });
  await ensureNamespace(kube, NAMESPACE);
  const lastPort = FIRST_PORT + options.claims - 1;
  await kube.hostPortClasses.create(classObject(CLASS, [[FIRST_PORT, lastPort]]));
  const operator = await operators.start(`operator-${options.label}`, options.flags);
  if (options.webhooks) await registerWebhooks(kube, operator.webhookUrl, await cp.webhookTls());
  await waitUntilLeading(operator);
  const pid = operator.process.pid;
  const idleRssBytes = await peakRssBytes(pid);
  const idleCurrentRssBytes = await currentRssBytes(pid);
  const callsBefore = (await readApiCalls(audit.logPath, OPERATOR_USER)).length;
  const startedWall = Date.now();
  const burst = await runBurst(kube, {
    operator: pid,
    "kube-apiserver": cp.pids.kubeApiServer ?? 0,
    etcd: cp.pids.etcd,
    "bench (client + watch)": Deno.pid,
  }, options);
  await sleep(TRAILING_MS);
  const calls = (await readApiCalls(audit.logPath, OPERATOR_USER)).slice(callsBefore);
  const { timeline, ...times } = burst;
  const firstWrites = await firstClaimWrites(audit.logPath, OPERATOR_USER, startedWall);
  const stages = [...timeline].map(([name, { created, bound }]) => {
    const firstWrite = firstWrites.get(name) ?? bound;
    return { toFirstWrite: firstWrite - created, firstWriteToBound: bound - firstWrite };
  });
  return {
    ...times,
    claimStages: {
      toFirstWriteMs: stages.map((stage) => stage.toFirstWrite),
      firstWriteToBoundMs: stages.map((stage) => stage.firstWriteToBound),
    },
    label: options.label,
    claims: options.claims,
    inFlight: options.inFlight,
    flags: options.flags,
    v8Flags: options.script.env?.DENO_V8_FLAGS ?? "",
    writes: countWrites(calls),
    reads: countReads(calls),
    writeLatencies: await writeLatencies(audit.logPath, OPERATOR_USER, startedWall),
    idleRssBytes,
    idleCurrentRssBytes,
    peakRssBytes: await peakRssBytes(pid),
    metrics: await (await fetch(`${operator.metricsUrl}/metrics`)).text(),
    loadAverage: [loadBefore, await loadAverage()],
  };
}

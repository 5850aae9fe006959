/**
 * Benchmark of the operator on a large cluster: 10,000 bound claims and 20,000 pods that are not
 * the operator's (API objects only: no kubelet runs them) on a real control plane, the operator
 * as a separate process running the bundle the image compiles. It measures the operator's
 * start-up time to ready on that cluster, its steady resident memory, and create -> Bound of new
 * claims at steady state. `--fraction=0.1` scales every count down (a quick run); `--mod=<path>`
 * runs another checkout's `mod.ts` (to compare).
 *
 * @module
 */
import type { KubeClients } from "../lib/kube/mod.ts";
import { adminClients, classObject, ensureNamespace } from "../tests/controller_harness.ts";
import { startControlPlane } from "../tests/controlplane/harness.ts";
import { claimNames, createClaims, forEachBounded } from "../tests/process_claims.ts";
import { metricValue, ProcessOperators } from "../tests/process_operators.ts";
import { watchBoundClaims } from "../tests/progress_watch.ts";
import type { BenchResult } from "./bench_result.ts";
import { bundleInto, imageScript, type OperatorScript } from "./claims_bench.ts";
import { quantile } from "./claims_measure.ts";

/** Sizes of the benchmark; {@linkcode scaleSizes} derives them from `--fraction`. */
export interface ScaleSizes {
  /** Claims bound before the measured operator starts. */
  readonly boundClaims: number;
  /** Pods that name no claim (a Deployment's pods, say), created before the operator starts. */
  readonly otherPods: number;
  /** Claims created one by one at steady state, each timed create -> Bound. */
  readonly newClaims: number;
  /** Milliseconds between two of those creates. */
  readonly newClaimIntervalMs: number;
}

/** The full size: what `./deno task bench scale` measures. */
export const FULL_SCALE: ScaleSizes = {
  boundClaims: 10_000,
  otherPods: 20_000,
  newClaims: 200,
  newClaimIntervalMs: 200,
};

/** Targets of issue #13. */
const TARGETS = { steadyRssMb: 200, p99Ms: 1_000 } as const;

const IN_FLIGHT = 50;
const FIRST_PORT = 20_000;
const BOUND_NS = "bound";
const FRESH_NS = "fresh";
const OTHER_NS = "other";
/** The steady RSS is the median of one VmRSS sample a second over the last 10 s of this. */
const SETTLE_MS = 30_000;
const STEADY_SAMPLES = 10;
const BOUND_TIMEOUT_MS = 900_000;

/** The sizes for `--fraction=<f>` among `flags` (1 without it). */
export function scaleSizes(flags: readonly string[]): ScaleSizes {
  const flag = flags.find((f) => f.startsWith("--fraction="));
  const fraction = flag === undefined ? 1 : Number(flag.slice("--fraction=".length));
  if (!(fraction > 0 && fraction <= 1)) {
    throw new RangeError(`Cannot scale the benchmark: --fraction must be in (0, 1], not ${flag}`);
  }
  const scaled = (n: number) => Math.max(1, Math.round(n * fraction));
  return {
    ...FULL_SCALE,
    boundClaims: scaled(FULL_SCALE.boundClaims),
    otherPods: scaled(FULL_SCALE.otherPods),
  };
}

/** A pod like a Deployment's: labels, a few annotations, one container; it names no claim. */
function otherPod(i: number) {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: `web-${i}`,
      namespace: OTHER_NS,
      labels: { app: "web", "pod-template-hash": "5d8f9c7b6d", tier: "frontend" },
      annotations: {
        "kubectl.kubernetes.io/restartedAt": "2026-12-01T00:00:00Z",
        "prometheus.io/scrape": "true",
        "prometheus.io/port": "9100",
      },
    },
    spec: {
      containers: [{
        name: "web",
        image: "registry.k8s.io/e2e-test-images/agnhost:2.53",
        args: ["netexec", "--http-port=8080"],
        ports: [{ name: "http", containerPort: 8080 }, { name: "metrics", containerPort: 9100 }],
        env: [{ name: "MODE", value: "production" }, { name: "LOG_LEVEL", value: "info" }],
        resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { memory: "128Mi" } },
      }],
    },
  };
}

/** VmRSS and VmHWM of a process, in bytes. */
async function memoryOf(pid: number): Promise<{ rss: number; peak: number }> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const kib = (field: string) => Number(status.match(new RegExp(`^${field}:\\s+(\\d+)`, "m"))?.[1]);
  return { rss: kib("VmRSS") * 1024, peak: kib("VmHWM") * 1024 };
}

/**
 * VmRSS once a second over the last {@linkcode STEADY_SAMPLES} seconds of {@linkcode SETTLE_MS}
 * after ready, sorted. A single sample moved by 30+ MB depending on whether V8 had collected the
 * start-up garbage yet, so the median and the range are reported.
 */
async function sampleSteadyRss(pid: number): Promise<number[]> {
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  await sleep(SETTLE_MS - STEADY_SAMPLES * 1000);
  const samples: number[] = [];
  for (let i = 0; i < STEADY_SAMPLES; i++) {
    await sleep(1000);
    samples.push((await memoryOf(pid)).rss);
  }
  return samples.toSorted((a, b) => a - b);
}

/** Creates claims one by one, `intervalMs` apart, and returns each one's create -> Bound. */
async function timeNewClaims(kube: KubeClients, sizes: ScaleSizes): Promise<number[]> {
  await using bound = watchBoundClaims(kube, FRESH_NS);
  const createdAt = new Map<string, number>();
  const creates: Promise<unknown>[] = [];
  for (const name of claimNames(sizes.newClaims)) {
    creates.push(
      createClaims(kube, FRESH_NS, "bench", [name], {
        inFlight: 1,
        onCreated: (created, at) => createdAt.set(`${FRESH_NS}/${created}`, at),
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, sizes.newClaimIntervalMs));
  }
  await Promise.all(creates);
  await bound.waitFor(sizes.newClaims, BOUND_TIMEOUT_MS);
  return [...bound.doneAt].map(([key, at]) => at - (createdAt.get(key) ?? at));
}

/** What one run measured. */
interface ScaleRun {
  readonly sizes: ScaleSizes;
  readonly podsSeconds: number;
  readonly bindSeconds: number;
  readonly readySeconds: number;
  /** VmRSS samples at steady state, sorted. */
  readonly steady: number[];
  readonly after: { rss: number; peak: number };
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly latencies: number[];
}

/** Runs the benchmark on a fresh control plane. */
export async function runScaleBench(flags: readonly string[] = []): Promise<BenchResult> {
  const sizes = scaleSizes(flags);
  const workDir = await Deno.makeTempDir({ prefix: "hostport-bench-scale-" });
  try {
    // --mod=<path>: bundle another checkout's mod.ts, to compare with it.
    const entry = flags.find((f) => f.startsWith("--mod="))?.slice("--mod=".length);
    const path = await bundleInto(workDir, entry);
    const script = await imageScript(path, workDir, { codeCache: true });
    return report(await measure(sizes, script), script.env.DENO_V8_FLAGS ?? "");
  } finally {
    await Deno.remove(workDir, { recursive: true }).catch(() => {});
  }
}

async function measure(
  sizes: ScaleSizes,
  script: OperatorScript,
): Promise<ScaleRun> {
  await using cp = await startControlPlane();
  using kube = await adminClients(cp);
  await using operators = await ProcessOperators.prepare(cp, { script });
  for (const namespace of [BOUND_NS, FRESH_NS, OTHER_NS]) await ensureNamespace(kube, namespace);
  const lastPort = FIRST_PORT + sizes.boundClaims + sizes.newClaims + 99;
  await kube.hostPortClasses.create(classObject("bench", [[FIRST_PORT, lastPort]]));

  console.error(`bench: scale: creating ${sizes.otherPods} other pods`);
  const podsStarted = performance.now();
  await forEachBounded(
    Array.from({ length: sizes.otherPods }, (_, i) => i),
    IN_FLIGHT,
    (i) => kube.pods.create(otherPod(i) as never).then(() => {}),
  );
  const podsSeconds = (performance.now() - podsStarted) / 1000;

  // A first operator binds the claims; it stops, and a second one starts on the full cluster.
  console.error(`bench: scale: binding ${sizes.boundClaims} claims`);
  const flags = ["--leader-elect=true"];
  const populate = await operators.start("populate", flags);
  const bindStarted = performance.now();
  {
    await using bound = watchBoundClaims(kube, BOUND_NS);
    await createClaims(kube, BOUND_NS, "bench", claimNames(sizes.boundClaims), {
      inFlight: IN_FLIGHT,
    });
    await bound.waitFor(sizes.boundClaims, BOUND_TIMEOUT_MS);
  }
  const bindSeconds = (performance.now() - bindStarted) / 1000;
  await populate.stop();

  console.error("bench: scale: starting the measured operator");
  const started = performance.now();
  const operator = await operators.start("measured", flags);
  const readySeconds = (performance.now() - started) / 1000;
  const steady = await sampleSteadyRss(operator.process.pid);
  console.error(`bench: scale: timing ${sizes.newClaims} new claims`);
  const latencies = await timeNewClaims(kube, sizes);
  const after = await memoryOf(operator.process.pid);
  return {
    sizes,
    podsSeconds,
    bindSeconds,
    readySeconds,
    steady,
    after,
    heapUsed: await metricValue(operator, "process_heap_used_bytes") ?? NaN,
    heapTotal: await metricValue(operator, "process_heap_total_bytes") ?? NaN,
    latencies,
  };
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
const seconds = (s: number) => `${s.toFixed(1)} s`;
const ms = (value: number) => value < 1000 ? `${value.toFixed(0)} ms` : seconds(value / 1000);
const met = (ok: boolean) => ok ? "met" : "**missed**";

function report(run: ScaleRun, v8Flags: string): BenchResult {
  const { sizes } = run;
  const p99 = quantile(run.latencies, 0.99);
  const steadyRss = quantile(run.steady, 0.5);
  const full = sizes.boundClaims === FULL_SCALE.boundClaims &&
    sizes.otherPods === FULL_SCALE.otherPods;
  return {
    title: `Scale: ${sizes.boundClaims} bound claims and ${sizes.otherPods} other pods`,
    method: method(sizes, v8Flags, full),
    columns: ["Measure", "Target", "Result"],
    rows: [
      ["operator start to ready (`/readyz` 200)", "", seconds(run.readySeconds)],
      [
        `steady RSS (median VmRSS, one sample a second ${(SETTLE_MS / 1000) - STEADY_SAMPLES}-${
          SETTLE_MS / 1000
        } s after ready)`,
        `< ${TARGETS.steadyRssMb} MB`,
        `${mb(steadyRss)} (${met(steadyRss < TARGETS.steadyRssMb * 1024 * 1024)})`,
      ],
      [
        "steady RSS: lowest / highest sample",
        "",
        `${mb(run.steady[0]!)} / ${mb(run.steady.at(-1)!)}`,
      ],
      [
        "p99 create -> Bound of a new claim",
        `< ${ms(TARGETS.p99Ms)}`,
        `${ms(p99)} (${met(p99 < TARGETS.p99Ms)})`,
      ],
      [
        "p50 / max create -> Bound",
        "",
        `${ms(quantile(run.latencies, 0.5))} / ${ms(quantile(run.latencies, 1))}`,
      ],
      ["peak RSS (VmHWM) after the new claims", "", mb(run.after.peak)],
      ["RSS after the new claims", "", mb(run.after.rss)],
      ["V8 heap used / reserved after", "", `${mb(run.heapUsed)} / ${mb(run.heapTotal)}`],
      ["other pods created in (bench, 50 in flight)", "", seconds(run.podsSeconds)],
      [
        `${sizes.boundClaims} claims bound by the first operator in`,
        "",
        `${seconds(run.bindSeconds)} (${(sizes.boundClaims / run.bindSeconds).toFixed(0)}/s)`,
      ],
    ],
    summary: [
      `steady RSS ${mb(steadyRss)} (target < ${TARGETS.steadyRssMb} MB): ${
        met(steadyRss < TARGETS.steadyRssMb * 1024 * 1024)
      }`,
      `p99 create -> Bound ${ms(p99)} (target < ${ms(TARGETS.p99Ms)}): ${met(p99 < TARGETS.p99Ms)}`,
      ...full ? [] : ["a scaled-down run (`--fraction`): not the full figure"],
    ],
  };
}

function method(sizes: ScaleSizes, v8Flags: string, full: boolean): string {
  return [
    `A fresh control plane (etcd + kube-apiserver from \`tests/controlplane\`), no kubelet: the`,
    `pods are API objects that never run. The operator runs as its own process: the bundle`,
    `(\`deno task bundle\`) run as the image runs it: its V8 flags (\`${v8Flags}\`), its malloc`,
    `settings and the bundle's V8 code cache built first by one \`--help\` run; out of cluster with the`,
    `release's ServiceAccount and RBAC, leader election on, defaults otherwise.`,
    "",
    `1. ${sizes.otherPods} pods that name no claim (labels, annotations, one container, about`,
    `   1.5 KB each), ${IN_FLIGHT} creates in flight.`,
    `2. A first operator binds ${sizes.boundClaims} claims (created ${IN_FLIGHT} in flight), then`,
    `   stops.`,
    `3. A second operator starts on that cluster: start-up is from spawning the process to its`,
    `   \`/readyz\` answering 200 (caches listed, first repair pass done, controllers running,`,
    `   webhook serving). Steady RSS is the median of its VmRSS sampled once a second from`,
    `   ${SETTLE_MS / 1000 - STEADY_SAMPLES} to ${
      SETTLE_MS / 1000
    } s later (lowest and highest sample shown too).`,
    `4. ${sizes.newClaims} new claims, one every ${sizes.newClaimIntervalMs} ms; the latency of`,
    `   each is from its create request returning to the benchmark's watch seeing it \`Bound\`.`,
    ...full ? [] : ["", `Scaled down with \`--fraction\`: not the full figure.`],
  ].join("\n");
}

/**
 * Benchmark of per-pod claims: a StatefulSet of 200 replicas with `podManagementPolicy:
 * Parallel`, each pod naming a HostPortClaimTemplate, on the API-server tier with the real
 * kube-controller-manager (its StatefulSet controller creates the pods through our pod webhook).
 * Measures the pod webhook's admission latency of those pods (from each request's arrival to its
 * answer, the server's own `durationMs`), the time until all 200 pods exist with ports, and
 * checks that the 200 ports are distinct.
 *
 * @module
 */
import type { Pod } from "kubernetes-types/core/v1.d.ts";
import { API_VERSION, CLAIM_TEMPLATE_ANNOTATION_PREFIX } from "../lib/api/mod.ts";
import { classObject, eventually, startOperator } from "../tests/controller_harness.ts";
import { createLogger } from "../lib/ops/logger.ts";
import { startE2eCluster } from "../tests/webhook_e2e_cluster.ts";
import type { BenchResult } from "./bench_result.ts";
import { namespaces } from "../tests/core_clients.ts";

const REPLICAS = 200;
const NAMESPACE = "bench";

interface Answer {
  readonly ms: number;
  readonly allowed: boolean;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function hostPortOf(pod: Pod): number | undefined {
  return pod.spec?.containers[0]?.ports?.[0]?.hostPort;
}

async function loadAverage(): Promise<string> {
  try {
    return (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ");
  } catch {
    return "unknown";
  }
}

/** Runs one StatefulSet of {@linkcode REPLICAS} and returns the measurements. */
export async function runPerPodBench(): Promise<BenchResult> {
  const answers: Answer[] = [];
  await using cluster = await startE2eCluster({
    controlPlane: { controllers: true },
    logger: createLogger({
      level: "debug",
      write(line) {
        const record = JSON.parse(line);
        if (record.msg !== "Admission request" || record.path !== "/mutate-v1-pod") return;
        answers.push({ ms: Number(record.durationMs), allowed: record.allowed === true });
      },
    }),
  });
  await using _operator = await startOperator(cluster.cp);
  const { kube } = cluster;
  await kube.hostPortClasses.create(classObject("bench", [[20000, 20999]]));
  await namespaces(kube).create({
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name: NAMESPACE, labels: { "hostport.rmb938.com": "true" } },
  });
  await kube.hostPortClaimTemplates.create({
    apiVersion: API_VERSION,
    kind: "HostPortClaimTemplate",
    metadata: { name: "port", namespace: NAMESPACE },
    spec: { hostPortClassName: "bench" },
  });
  const loadBefore = await loadAverage();
  const started = performance.now();
  await cluster.apply({
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: { name: "web", namespace: NAMESPACE },
    spec: {
      replicas: REPLICAS,
      serviceName: "web",
      podManagementPolicy: "Parallel",
      selector: { matchLabels: { app: "web" } },
      template: {
        metadata: {
          labels: { app: "web" },
          annotations: { [`${CLAIM_TEMPLATE_ANNOTATION_PREFIX}web`]: "port" },
        },
        spec: {
          containers: [{
            name: "c",
            image: "busybox",
            ports: [{ name: "web", containerPort: 8080 }],
          }],
        },
      },
    },
  });
  const pods = await eventually(
    `${REPLICAS} pods with ports`,
    async () => {
      const list = await kube.pods.listAll({ namespace: NAMESPACE, labelSelector: "app=web" });
      const withPorts = list.items.filter((pod) => hostPortOf(pod) !== undefined);
      return withPorts.length === REPLICAS ? withPorts : undefined;
    },
    600_000,
    500,
  );
  const allMs = performance.now() - started;
  const loadAfter = await loadAverage();
  const ports = new Set(pods.map(hostPortOf));
  const allowed = answers.filter((a) => a.allowed).map((a) => a.ms).sort((a, b) => a - b);
  const refused = answers.filter((a) => !a.allowed).length;
  const fmt = (ms: number) => `${ms.toFixed(0)} ms`;
  return {
    title: `Per-pod claims: a StatefulSet of ${REPLICAS} (Parallel) through the pod webhook`,
    method: [
      "A fresh control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler from",
      "`tests/controlplane`), our admission server and controllers in the benchmark's process",
      "(`tests/webhook_e2e_cluster.ts`, `tests/controller_harness.ts`: the same code as the",
      "operator, defaults otherwise), one HostPortClass of 1000 ports and one",
      "HostPortClaimTemplate. The benchmark applies a StatefulSet of",
      `${REPLICAS} replicas with \`podManagementPolicy: Parallel\` whose pods name the template;`,
      "kube-controller-manager's StatefulSet controller creates the pods, and the pod webhook",
      "creates each pod's claim `port-web-N`, waits until the leader's controllers have allocated",
      "it a port, and admits the pod with it (or refuses it after `--claim-template-wait`, 6 s;",
      "the StatefulSet controller then retries).",
      "",
      "- Admission latency: the admission server's own time per `/mutate-v1-pod` request, from its",
      "  arrival to its answer (the server's debug log `durationMs`), over the admitted pods.",
      "- All pods: from the StatefulSet's apply until a list shows every pod with a hostPort.",
      "- No kubelet: pods are created and scheduled (unschedulable: no node) but never run.",
    ].join("\n"),
    columns: ["measure", "value"],
    rows: [
      ["pods with a port", `${pods.length}`],
      ["distinct ports", `${ports.size}`],
      ["admitted pod requests", `${allowed.length}`],
      ["refused pod requests (retried by the StatefulSet controller)", `${refused}`],
      ["admission latency p50", fmt(percentile(allowed, 50))],
      ["admission latency p99", fmt(percentile(allowed, 99))],
      ["admission latency max", fmt(allowed.at(-1) ?? Number.NaN)],
      ["all pods created with ports", fmt(allMs)],
      ["load average before / after", `${loadBefore} / ${loadAfter}`],
    ],
    summary: [
      ports.size === REPLICAS
        ? `${REPLICAS} pods, ${REPLICAS} distinct ports: met`
        : `**${ports.size} distinct ports for ${REPLICAS} pods: missed**`,
    ],
  };
}

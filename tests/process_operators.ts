/**
 * The operator (`mod.ts`) as real OS processes against a test control plane, for the process
 * scenarios and the claims benchmark: the release's namespace, ServiceAccount and RBAC applied,
 * each process started out of cluster with that ServiceAccount's token and the harness's webhook
 * certificate (no webhook configuration is registered: the controllers alone allocate), and a
 * hard kill (SIGKILL) that gives the process no chance to clean up.
 *
 * @module
 */
import { join } from "node:path";
import { NAMES } from "../scripts/gen_release_names.ts";
import type { ControlPlane } from "./controlplane/harness.ts";
import { manifestPath, RBAC_PIECES } from "./demo/local_operator.ts";
import { type OperatorOptions, OperatorProcess, webhookCertDir } from "./demo/operator_process.ts";

/** The operator namespace of the release: it holds the Lease and the allocation record. */
export const OPERATOR_NAMESPACE = NAMES.namespace;

/** Flags every process gets unless the caller's flags name them. */
const DEFAULT_FLAGS: readonly string[] = [
  "--leader-elect=false",
  "--graceful-shutdown-timeout=10s",
  "--log-level=info",
  // No test here has a slow admission chain: a short deletion window keeps claim deletion quick.
  "--claim-deletion-grace=2s",
];

/** Thrown when the processes cannot be set up. */
export class ProcessOperatorsError extends Error {
  override name = "ProcessOperatorsError";
}

/** Starts, kills and finally stops operator processes; disposing stops every one still running. */
export class ProcessOperators implements AsyncDisposable {
  readonly #cp: ControlPlane;
  readonly #kubeconfig: string;
  readonly #certDir: string;
  readonly #script: OperatorOptions["script"];
  readonly #started: OperatorProcess[] = [];

  private constructor(
    cp: ControlPlane,
    kubeconfig: string,
    certDir: string,
    script: OperatorOptions["script"],
  ) {
    this.#cp = cp;
    this.#kubeconfig = kubeconfig;
    this.#certDir = certDir;
    this.#script = script;
  }

  /**
   * Applies the release's namespace, ServiceAccount and RBAC, and prepares the ServiceAccount's
   * kubeconfig and the webhook certificate directory. The processes run `mod.ts`, or `script`
   * (the bundle) when given.
   *
   * @throws {ProcessOperatorsError} when kubectl refuses a manifest
   */
  static async prepare(
    cp: ControlPlane,
    options: { script?: OperatorOptions["script"] } = {},
  ): Promise<ProcessOperators> {
    for (const piece of RBAC_PIECES) {
      const result = await cp.kubectl(["apply", "-f", manifestPath(piece)]);
      if (result.code !== 0) {
        throw new ProcessOperatorsError(`Cannot apply ${piece}: ${result.stderr.trim()}`);
      }
    }
    const token = await cp.serviceAccountToken(NAMES.namespace, NAMES.serviceAccount);
    const kubeconfig = await cp.tokenKubeconfig(token);
    const certDir = await webhookCertDir(await cp.webhookTls(), cp.runDir);
    return new ProcessOperators(cp, kubeconfig, certDir, options.script);
  }

  /** Every process started so far, in order. */
  get started(): readonly OperatorProcess[] {
    return this.#started;
  }

  /**
   * Starts a process logging to `<run dir>/<name>.log` (appended), without waiting for it.
   * `flags` come after the defaults (`--leader-elect=false`, a 10 s shutdown bound, info logs,
   * a 2 s deletion window), which they replace when they name the same flag.
   */
  launch(name: string, flags: readonly string[] = []): OperatorProcess {
    const named = (flag: string) => flag.split("=")[0];
    const defaults = DEFAULT_FLAGS.filter((d) => !flags.some((f) => named(f) === named(d)));
    const operator = OperatorProcess.start({
      kubeconfig: this.#kubeconfig,
      namespace: OPERATOR_NAMESPACE,
      certDir: this.#certDir,
      logPath: join(this.#cp.runDir, `${name}.log`),
      args: [...defaults, ...flags],
      ...this.#script === undefined ? {} : { script: this.#script },
    });
    this.#started.push(operator);
    return operator;
  }

  /**
   * Starts a process and waits until `/readyz` answers 200.
   *
   * @throws {ControlPlaneError} when it exits or is not ready in time (with its log tail)
   */
  async start(name: string, flags: readonly string[] = []): Promise<OperatorProcess> {
    const operator = this.launch(name, flags);
    await operator.waitReady();
    return operator;
  }

  /** Sends SIGKILL and waits for the process to be gone (then ends its watchdog). */
  async kill(operator: OperatorProcess): Promise<void> {
    try {
      Deno.kill(operator.process.pid, "SIGKILL");
    } catch {
      // Already gone; nothing to kill.
    }
    // The child is unref'd: without a timer, awaiting its exit alone ends the event loop.
    const keepAlive = setInterval(() => {}, 1_000);
    try {
      await operator.process.exited;
    } finally {
      clearInterval(keepAlive);
    }
    await operator.stop();
  }

  /** Stops (SIGTERM, then SIGKILL) every process still running. */
  async stopAll(): Promise<void> {
    await Promise.all(this.#started.map((operator) => operator.stop(15_000)));
  }

  /** Same as {@linkcode ProcessOperators.stopAll}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stopAll();
  }
}

/**
 * The peak resident set size (`VmHWM` of /proc/<pid>/status) of a running process, in bytes.
 *
 * @throws {ProcessOperatorsError} when the process is gone or the line is missing
 */
export async function peakRssBytes(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`).catch(() => "");
  const kib = status.match(/^VmHWM:\s+(\d+)\s+kB$/m)?.[1];
  if (kib === undefined) throw new ProcessOperatorsError(`Cannot read VmHWM of process ${pid}`);
  return Number(kib) * 1024;
}

/**
 * The value of one sample of the operator's `/metrics`, named with its labels as exposed (e.g.
 * `hostport_repair_leak_candidates`, `hostport_allocations_total{class="a"}`), or undefined
 * when it is not exposed.
 */
export async function metricValue(
  operator: OperatorProcess,
  sample: string,
): Promise<number | undefined> {
  const response = await fetch(`${operator.metricsUrl}/metrics`);
  const text = await response.text();
  const line = text.split("\n").find((l) => l.startsWith(`${sample} `));
  return line === undefined ? undefined : Number(line.slice(sample.length + 1));
}

/**
 * The identity the operator competes for the Lease with, from its `starting` log line.
 *
 * @throws {ProcessOperatorsError} when the log has no such line yet
 */
export async function operatorIdentity(operator: OperatorProcess): Promise<string> {
  for (const line of (await operator.logs()).split("\n")) {
    if (!line.startsWith("{")) continue;
    const record = JSON.parse(line) as { msg?: unknown; identity?: unknown };
    if (record.msg === "starting" && typeof record.identity === "string") return record.identity;
  }
  throw new ProcessOperatorsError(`No "starting" line in ${operator.process.logPath}`);
}

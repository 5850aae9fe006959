/**
 * The operator (`mod.ts`, or the bundle) as a child process running out of cluster: health,
 * metrics and webhook on free ports of 127.0.0.1, its output in a log file, and the control
 * plane's watchdog, so it never outlives the process that started it.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { type ManagedProcess, spawnManaged } from "../controlplane/process.ts";
import { waitUntil } from "../controlplane/wait.ts";

/** The repository's `mod.ts`. */
export const MOD_TS = fileURLToPath(new URL("../../mod.ts", import.meta.url));

/**
 * The Deno permissions the operator needs, the same the Dockerfile compiles in: the network
 * (API server and its own servers), files (kubeconfig, certificates), environment variables
 * (`KUBECONFIG`, `HOSTPORT_*`, `POD_NAME`) and the host name (its identity in the Lease).
 */
export const OPERATOR_PERMISSIONS = [
  "--allow-net",
  "--allow-read",
  "--allow-env",
  "--allow-sys=hostname",
] as const;

/** The operator's ports on 127.0.0.1. */
export interface OperatorPorts {
  /** `/healthz` and `/readyz`. */
  health: number;
  /** `/metrics`. */
  metrics: number;
  /** The admission server. */
  webhook: number;
}

/** Picks free ports for an operator, to know its webhook URL before it starts. */
export function freePorts(): OperatorPorts {
  // All three held open at once, so the kernel cannot hand the same port out twice.
  const listeners = [0, 1, 2].map(() => Deno.listen({ hostname: "127.0.0.1", port: 0 }));
  const [health, metrics, webhook] = listeners.map((listener) => listener.addr.port);
  for (const listener of listeners) listener.close();
  return { health: health!, metrics: metrics!, webhook: webhook! };
}

/** How to start the operator. */
export interface OperatorOptions {
  /** Kubeconfig it authenticates with. */
  kubeconfig: string;
  /** The operator namespace (Lease, allocation record). */
  namespace: string;
  /** Directory holding `tls.crt` and `tls.key` for the webhook server (unless `args` say otherwise). */
  certDir?: string;
  /** File that receives its stdout and stderr. */
  logPath: string;
  /** Extra flags, after the ones above. */
  args?: readonly string[];
  /** Ports on 127.0.0.1 to serve on; free ones by default (see {@linkcode freePorts}). */
  ports?: OperatorPorts;
  /** The script to run instead of `mod.ts` (the bundle), and the directory to run it in. */
  script?: { path: string; cwd: string; env?: Record<string, string> };
}

/** A running operator process. */
export class OperatorProcess implements AsyncDisposable {
  /** The process (pid, log, exit status). */
  readonly process: ManagedProcess;
  /** `http://127.0.0.1:<port>` of `/healthz` and `/readyz`. */
  readonly healthUrl: string;
  /** `http://127.0.0.1:<port>` of `/metrics`. */
  readonly metricsUrl: string;
  /** `https://127.0.0.1:<port>` of the admission server. */
  readonly webhookUrl: string;
  /** The kubeconfig it authenticates with. */
  readonly kubeconfig: string;

  private constructor(
    process: ManagedProcess,
    ports: OperatorPorts,
    kubeconfig: string,
  ) {
    this.process = process;
    this.kubeconfig = kubeconfig;
    this.healthUrl = `http://127.0.0.1:${ports.health}`;
    this.metricsUrl = `http://127.0.0.1:${ports.metrics}`;
    this.webhookUrl = `https://127.0.0.1:${ports.webhook}`;
  }

  /** Starts the operator; it is not ready yet (see {@linkcode OperatorProcess.waitReady}). */
  static start(options: OperatorOptions): OperatorProcess {
    const ports = options.ports ?? freePorts();
    const script = options.script?.path ?? MOD_TS;
    const flags = [
      `--kubeconfig=${options.kubeconfig}`,
      `--namespace=${options.namespace}`,
      `--health-addr=127.0.0.1:${ports.health}`,
      `--metrics-addr=127.0.0.1:${ports.metrics}`,
      `--webhook-addr=127.0.0.1:${ports.webhook}`,
      ...options.certDir === undefined ? [] : [`--webhook-cert-dir=${options.certDir}`],
      ...options.args ?? [],
    ];
    const deno = ["run", ...OPERATOR_PERMISSIONS, script, ...flags];
    // `env -C` runs Deno in the given directory without a shell in between (same pid).
    const [binary, args] = options.script === undefined
      ? [Deno.execPath(), deno]
      : ["env", ["-C", options.script.cwd, Deno.execPath(), ...deno]];
    const process = spawnManaged("hostport-allocator", binary, args, {
      logPath: options.logPath,
      env: { NO_COLOR: "1", ...options.script?.env },
      orphanGraceMs: 5_000,
    });
    return new OperatorProcess(process, ports, options.kubeconfig);
  }

  /**
   * Waits until `/readyz` answers 200 (caches synced, webhook serving).
   *
   * @throws {ControlPlaneError} on timeout or when the operator exits first, with its log tail
   */
  async waitReady(timeoutMs = 90_000): Promise<void> {
    await waitUntil(async () => {
      const response = await fetch(`${this.healthUrl}/readyz`).catch(() => undefined);
      await response?.body?.cancel();
      return response?.status === 200;
    }, { what: "the operator's /readyz to answer 200", timeoutMs, process: this.process });
  }

  /** The operator's output so far. */
  async logs(): Promise<string> {
    return await Deno.readTextFile(this.process.logPath).catch(() => "");
  }

  /** Sends SIGTERM (SIGKILL after `graceMs`) and returns the exit status. */
  async stop(graceMs = 40_000): Promise<Deno.CommandStatus> {
    await this.process.stop(graceMs);
    return await this.process.exited;
  }

  /** Same as {@linkcode OperatorProcess.stop}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/** Writes `tls.crt` and `tls.key` (the harness's webhook certificate) into a new directory. */
export async function webhookCertDir(
  tls: { certFile: string; keyFile: string },
  parent: string,
): Promise<string> {
  const dir = await Deno.makeTempDir({ dir: parent, prefix: "webhook-certs-" });
  await Deno.copyFile(tls.certFile, `${dir}/tls.crt`);
  await Deno.copyFile(tls.keyFile, `${dir}/tls.key`);
  return dir;
}

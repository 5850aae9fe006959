/**
 * A real one-node Kubernetes for a test file, owned by a keeper process (`keeper.ts`) so that the
 * node is torn down and the host restored however the test ends, SIGKILL included:
 *
 * ```ts
 * await using node = await startRealNode();
 * await node.kubectl(["apply", "-f", "deploy/release.yaml"]);
 * const report = await node.stop(); // report.differences: the host as it was?
 * ```
 *
 * Needs root and Debian's containerd, runc, CNI plugins, iptables, conntrack and nftables (the
 * keeper installs the missing ones with apt-get); fails with a clear message otherwise.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { ApiClient } from "../controlplane/api_client.ts";
import { BUILD_SCRIPT } from "../controlplane/binaries.ts";
import { type KubectlResult, runKubectl } from "../controlplane/kubectl.ts";
import { tailFile } from "../controlplane/process.ts";
import { LOG_DIR, NODE_DIR, REPO_DIR } from "./config.ts";
import type { ReadyReport, TeardownReport } from "./keeper.ts";

export type { ReadyReport, TeardownReport };

const KEEPER = fileURLToPath(new URL("./keeper.ts", import.meta.url));

/** Builds (on first use) the node's binaries with `build.sh --node`; returns their directory. */
export async function nodeBinaries(): Promise<string> {
  const out = await new Deno.Command("bash", {
    args: [BUILD_SCRIPT, "--node"],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error(`${BUILD_SCRIPT} --node failed with code ${out.code}`);
  return new TextDecoder().decode(out.stdout).trim().split("\n").at(-1) ?? "";
}

/** Reads JSON lines from a stream. */
async function* jsonLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<unknown> {
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of stream) {
    buffer += decoder.decode(chunk, { stream: true });
    let at: number;
    while ((at = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, at).trim();
      buffer = buffer.slice(at + 1);
      if (line.startsWith("{")) yield JSON.parse(line);
    }
  }
}

/** The running node, as a test sees it. */
export class RealNode implements AsyncDisposable {
  /** The admin kubeconfig. */
  readonly kubeconfig: string;
  /** Directory of kubectl, kube-apiserver and the node's other binaries. */
  readonly binDir: string;
  /** The keeper's start report (times, leftovers of an earlier node). */
  readonly ready: ReadyReport;
  #keeper: Deno.ChildProcess;
  #lines: AsyncGenerator<unknown>;
  #stopping: Promise<TeardownReport> | undefined;

  /** Wraps a keeper that reported ready; use {@linkcode startRealNode}. */
  constructor(
    binDir: string,
    ready: ReadyReport,
    keeper: Deno.ChildProcess,
    lines: AsyncGenerator<unknown>,
  ) {
    this.binDir = binDir;
    this.ready = ready;
    this.kubeconfig = ready.kubeconfig;
    this.#keeper = keeper;
    this.#lines = lines;
  }

  /** Environment for tools run against the node (kubectl, helm): `KUBECONFIG` and `PATH`. */
  get env(): Record<string, string> {
    return { KUBECONFIG: this.kubeconfig, PATH: `${this.binDir}:${Deno.env.get("PATH") ?? ""}` };
  }

  /** Runs kubectl as the admin, from the repository's root (so `deploy/...` paths work). */
  kubectl(args: readonly string[], options: { stdin?: string } = {}): Promise<KubectlResult> {
    const run = { kubeconfig: this.kubeconfig, cacheDir: `${NODE_DIR}/kube-cache` };
    return runKubectl(
      `${this.binDir}/kubectl`,
      args.map((a) => a.startsWith("deploy/") ? `${REPO_DIR}${a}` : a),
      options.stdin === undefined ? run : { ...run, stdin: options.stdin },
    );
  }

  /** Like {@linkcode RealNode.kubectl}, but throws unless kubectl succeeds; returns stdout. */
  async kubectlOk(args: readonly string[], options: { stdin?: string } = {}): Promise<string> {
    const result = await this.kubectl(args, options);
    if (result.code !== 0) {
      throw new Error(`kubectl ${args.join(" ")} failed (${result.code}): ${result.stderr}`);
    }
    return result.stdout;
  }

  /**
   * An HTTPS client for the node's API server as the admin (from the admin kubeconfig), for what
   * kubectl cannot do well, such as a watch whose every event counts. Close it when done.
   */
  async api(): Promise<ApiClient> {
    const config = parse(await Deno.readTextFile(this.kubeconfig));
    const pem = (data: string) =>
      new TextDecoder().decode(Uint8Array.from(atob(data), (c) => c.charCodeAt(0)));
    const { cluster } = config.clusters[0];
    const { user } = config.users[0];
    return new ApiClient(cluster.server, {
      caPem: pem(cluster["certificate-authority-data"]),
      certPem: pem(user["client-certificate-data"]),
      keyPem: pem(user["client-key-data"]),
    });
  }

  /** The tail of one of the node's logs (`kubelet`, `kube-apiserver`, ...). */
  logTail(name: string): Promise<string> {
    return tailFile(`${LOG_DIR}/${name}.log`);
  }

  /**
   * Stops the node and restores the host; resolves with the keeper's report. `keepLogs` leaves
   * the logs in /tmp/k8s-node/logs (for a failed test). Idempotent.
   */
  stop(options: { keepLogs?: boolean } = {}): Promise<TeardownReport> {
    this.#stopping ??= (async () => {
      const writer = this.#keeper.stdin.getWriter();
      await writer.write(new TextEncoder().encode(options.keepLogs ? "keep\n" : "stop\n"))
        .catch(() => {});
      await writer.close().catch(() => {});
      let report: TeardownReport | undefined;
      for await (const line of this.#lines) {
        if ((line as TeardownReport).down) report = line as TeardownReport;
      }
      const status = await this.#keeper.status;
      if (report === undefined) {
        throw new Error(`The node's keeper exited (code ${status.code}) without a teardown report`);
      }
      return report;
    })();
    return this.#stopping;
  }

  /** Stops the node, keeping its logs; the test checks the report through `stop()` itself. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop({ keepLogs: true });
  }
}

/**
 * Starts the keeper, which brings a node up (building the images; the binaries come from
 * `build.sh --node`), and waits until the node is Ready.
 *
 * @throws {Error} when the node cannot start (no root, no apt-get, a part that fails); the keeper
 * has then restored the host already
 */
export async function startRealNode(): Promise<RealNode> {
  const binDir = await nodeBinaries();
  // A session of its own: a Ctrl-C meant for the test reaches the keeper only through the pipe.
  const keeper = new Deno.Command("setsid", {
    args: [Deno.execPath(), "run", "--allow-all", KEEPER, binDir],
    cwd: REPO_DIR,
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = jsonLines(keeper.stdout);
  const first = await lines.next();
  const ready = first.value as ReadyReport | undefined;
  if (first.done || ready?.ready !== true) {
    await keeper.stdin.close().catch(() => {});
    for await (const _ of lines) { /* the teardown report */ }
    await keeper.status;
    throw new Error(`The real node did not start: ${ready?.error ?? "the keeper exited"}`);
  }
  return new RealNode(binDir, ready, keeper, lines);
}

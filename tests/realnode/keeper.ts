/**
 * The keeper: a process of its own that owns the real node for a test file. It takes the machine's
 * node lock, sweeps what an earlier node left (a killed keeper), snapshots the host, builds the
 * images, starts the node and prints one JSON line `{"ready": ...}`; then it waits until its
 * standard input ends, which happens when the test asks (`stop`) and also when the test process
 * dies in any way, SIGKILL included (only the test holds the pipe's other end). SIGINT, SIGTERM
 * and SIGHUP stop it the same way. It then stops the node, sweeps the host back to its snapshot,
 * compares the two and prints one JSON line `{"down": ...}` (see {@linkcode TeardownReport}).
 *
 *   deno run --allow-all tests/realnode/keeper.ts <directory printed by build.sh --node>
 *
 * @module
 */
import { join } from "node:path";
import { processesMentioning, residentKiB } from "../controlplane/process.ts";
import { CONTAINERD_SOCKET, LOCK_FILE, LOG_DIR, NODE_DIR, REPO_DIR } from "./config.ts";
import {
  compareSnapshots,
  ensureHost,
  podCgroupRoots,
  saveBefore,
  sweep,
  takeSnapshot,
} from "./host.ts";
import { writeImages } from "./images.ts";
import { Node } from "./node.ts";

/** The keeper's first line: the node is up, or could not be started. */
export interface ReadyReport {
  /** True when the node is Ready. */
  ready: boolean;
  /** Why it is not (with `ready: false`). */
  error?: string;
  /** The admin kubeconfig. */
  kubeconfig: string;
  /** Seconds from the keeper's start to a Ready node (lock, sweep, images, start). */
  startSeconds: number;
  /** What the sweep before the start found and undid (left by an earlier node). */
  leftovers: string[];
}

/** The keeper's last line: the node is gone, and whether the host is as it was. */
export interface TeardownReport {
  /** Always true. */
  down: true;
  /** Seconds to stop the node and sweep the host. */
  stopSeconds: number;
  /** What the sweep after the stop undid. */
  swept: string[];
  /** Differences between the host's snapshots before and after (empty: clean). */
  differences: string[];
  /** Peak memory of the node (its processes' RSS plus the pods' cgroups), MiB. */
  peakMemoryMiB: number;
  /** The peak's parts, MiB, by process name (pods as `pods`). */
  peakBreakdownMiB: Record<string, number>;
}

/** Logs to stderr (the test's output) and to `keeper.log` among the node's logs. */
function log(line: string): void {
  const stamped = `${new Date().toISOString()} ${line}\n`;
  try {
    Deno.writeTextFileSync(join(LOG_DIR, "keeper.log"), stamped, { append: true });
  } catch {
    // No node directory (before the start, after a clean stop).
  }
  try {
    Deno.stderr.writeSync(new TextEncoder().encode(`[realnode] ${line}\n`));
  } catch {
    // The test is gone, and its output with it.
  }
}

function emit(report: ReadyReport | TeardownReport): void {
  try {
    Deno.stdout.writeSync(new TextEncoder().encode(`${JSON.stringify(report)}\n`));
  } catch {
    // The test is gone; the report stays in the log.
    log(JSON.stringify(report));
  }
}

// The node's own processes (by /proc/<pid>/comm); kubectl and helm runs of the test, and the
// harness's watchdogs, also name the node's directory but are not the node.
const NODE_COMMANDS = new Set([
  "etcd",
  "kube-apiserver",
  "kube-controller",
  "kube-scheduler",
  "kube-proxy",
  "kubelet",
  "containerd",
  "containerd-shim",
]);

/** Samples the node's memory every 2 s and keeps the peak. */
class MemorySampler {
  peakMiB = 0;
  breakdown: Record<string, number> = {};
  #timer = setInterval(() => this.sample(), 2000);

  sample(): void {
    const parts: Record<string, number> = {};
    const pids = new Set([
      ...processesMentioning(`${NODE_DIR}/`),
      ...processesMentioning(CONTAINERD_SOCKET),
    ]);
    for (const pid of pids) {
      const kib = residentKiB(pid) ?? 0;
      let name: string;
      try {
        name = Deno.readTextFileSync(`/proc/${pid}/comm`).trim();
      } catch {
        continue;
      }
      if (!NODE_COMMANDS.has(name)) continue;
      parts[name] = (parts[name] ?? 0) + kib / 1024;
    }
    for (const root of podCgroupRoots().filter((r) => r.includes("/memory/"))) {
      try {
        const stat = Deno.readTextFileSync(join(root, "memory.stat"));
        const rss = /^total_rss (\d+)$/m.exec(stat)?.[1];
        parts.pods = Number(rss ?? 0) / 1024 / 1024;
      } catch {
        // No pods yet.
      }
    }
    const total = Object.values(parts).reduce((a, b) => a + b, 0);
    if (total > this.peakMiB) {
      this.peakMiB = Math.round(total);
      this.breakdown = Object.fromEntries(
        Object.entries(parts).map(([k, v]) => [k, Math.round(v)]),
      );
    }
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

async function bundle(): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "bundle"],
    cwd: REPO_DIR,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`deno task bundle failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return join(REPO_DIR, "dist", "hostport-allocator.js");
}

/** Resolves when the test asks to stop or is gone; with whether the logs should stay. */
async function stopRequested(): Promise<{ keepLogs: boolean }> {
  const signalled = Promise.withResolvers<void>();
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    Deno.addSignalListener(signal, () => signalled.resolve());
  }
  let text = "";
  const reading = (async () => {
    try {
      for await (const chunk of Deno.stdin.readable) {
        text += new TextDecoder().decode(chunk);
        if (text.includes("\n")) return;
      }
    } catch {
      // A broken pipe ends it as well.
    }
  })();
  await Promise.race([reading, signalled.promise]);
  // An asked-for stop says whether the logs go; a vanished test or a signal keeps them.
  return { keepLogs: text.trim() !== "stop" };
}

async function main(): Promise<void> {
  const binDir = Deno.args[0];
  if (binDir === undefined) throw new Error("Usage: keeper.ts <directory of build.sh --node>");
  const started = performance.now();
  const stop = stopRequested();
  await ensureHost(log);
  using lock = await Deno.open(LOCK_FILE, { create: true, write: true });
  log(`waiting for the node lock ${LOCK_FILE}`);
  await lock.lock(true);
  const leftovers = await sweep();
  if (leftovers.length > 0) log(`swept what an earlier node left:\n  ${leftovers.join("\n  ")}`);
  await Deno.remove(NODE_DIR, { recursive: true }).catch(() => {});
  const before = await takeSnapshot();
  await saveBefore(before);
  const memory = new MemorySampler();
  const node = new Node(binDir, log);
  const kubeconfig = node.kubeconfig;
  let ready: ReadyReport;
  try {
    const images = await writeImages(
      join(NODE_DIR, "images"),
      join(binDir, "realnode-images"),
      await bundle(),
    );
    await node.start(images);
    ready = {
      ready: true,
      kubeconfig,
      startSeconds: (performance.now() - started) / 1000,
      leftovers,
    };
  } catch (error) {
    ready = {
      ready: false,
      error: error instanceof Error ? error.message : String(error),
      kubeconfig,
      startSeconds: (performance.now() - started) / 1000,
      leftovers,
    };
  }
  emit(ready);
  const { keepLogs } = ready.ready ? await stop : { keepLogs: true };
  log(keepLogs ? "stopping the node (keeping its logs)" : "stopping the node");
  const stopping = performance.now();
  memory.sample();
  memory.stop();
  await node.stop().catch((error: unknown) => log(`stopping the node: ${error}`));
  const swept = await sweep();
  if (!keepLogs) await Deno.remove(NODE_DIR, { recursive: true }).catch(() => {});
  const differences = compareSnapshots(before, await takeSnapshot());
  emit({
    down: true,
    stopSeconds: (performance.now() - stopping) / 1000,
    swept,
    differences,
    peakMemoryMiB: memory.peakMiB,
    peakBreakdownMiB: memory.breakdown,
  });
  log(`node down: ${differences.length} differences from the host's snapshot`);
  if (keepLogs) log(`logs kept in ${LOG_DIR}`);
  Deno.exit(0);
}

if (import.meta.main) {
  await main().catch((error: unknown) => {
    log(`failed: ${error instanceof Error ? error.message : String(error)}`);
    emit({
      ready: false,
      error: error instanceof Error ? error.message : String(error),
      kubeconfig: "",
      startSeconds: 0,
      leftovers: [],
    });
    Deno.exit(1);
  });
}

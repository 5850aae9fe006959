/**
 * Finds the kube-apiserver, etcd, kubectl, kube-controller-manager and kube-scheduler binaries:
 * `KUBEBUILDER_ASSETS` when it holds all five (the envtest layout plus the two controllers),
 * otherwise the directory printed by `build.sh`, which builds them from the Go module proxy on
 * first use.
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ControlPlaneError } from "./errors.ts";
import { tailFile } from "./process.ts";

/** Paths of the control-plane binaries. */
export interface Binaries {
  /** Directory holding all the binaries. */
  binDir: string;
  /** Path of kube-apiserver. */
  kubeApiServer: string;
  /** Path of etcd. */
  etcd: string;
  /** Path of kubectl. */
  kubectl: string;
  /** Path of kube-controller-manager. */
  kubeControllerManager: string;
  /** Path of kube-scheduler. */
  kubeScheduler: string;
}

const NAMES = [
  "kube-apiserver",
  "etcd",
  "kubectl",
  "kube-controller-manager",
  "kube-scheduler",
] as const;

/** Path of the build script beside this module. */
export const BUILD_SCRIPT = fileURLToPath(new URL("./build.sh", import.meta.url));

let cached: Promise<Binaries> | undefined;

function missingIn(dir: string): string[] {
  return NAMES.filter((name) => {
    try {
      const info = Deno.statSync(join(dir, name));
      return !info.isFile || ((info.mode ?? 0o755) & 0o111) === 0;
    } catch {
      return true;
    }
  });
}

function binariesIn(dir: string): Binaries {
  return {
    binDir: dir,
    kubeApiServer: join(dir, "kube-apiserver"),
    etcd: join(dir, "etcd"),
    kubectl: join(dir, "kubectl"),
    kubeControllerManager: join(dir, "kube-controller-manager"),
    kubeScheduler: join(dir, "kube-scheduler"),
  };
}

async function runBuildScript(): Promise<string> {
  const logPath = await Deno.makeTempFile({ prefix: "controlplane-build-", suffix: ".log" });
  using log = await Deno.open(logPath, { write: true });
  const child = new Deno.Command("bash", { args: [BUILD_SCRIPT], stdout: "piped", stderr: "piped" })
    .spawn();
  const [stdout] = await Promise.all([
    new Response(child.stdout).text(),
    child.stderr.pipeTo(log.writable, { preventClose: true }),
  ]);
  const status = await child.status;
  if (!status.success) {
    throw new ControlPlaneError(
      `Cannot build the control-plane binaries: ${BUILD_SCRIPT} exited with code ${status.code}; ` +
        `last output (${logPath}):\n${await tailFile(logPath)}`,
    );
  }
  await Deno.remove(logPath).catch(() => {});
  const dir = stdout.trim().split("\n").at(-1) ?? "";
  if (dir === "") {
    throw new ControlPlaneError(
      `Cannot find the control-plane binaries: ${BUILD_SCRIPT} printed no directory`,
    );
  }
  return dir;
}

async function resolve(): Promise<Binaries> {
  const assets = Deno.env.get("KUBEBUILDER_ASSETS");
  if (assets && missingIn(assets).length === 0) return binariesIn(assets);
  const dir = await runBuildScript();
  const missing = missingIn(dir);
  if (missing.length > 0) {
    throw new ControlPlaneError(
      `Cannot find the control-plane binaries: ${
        missing.join(", ")
      } missing or not executable in "${dir}"`,
    );
  }
  return binariesIn(dir);
}

/**
 * Returns the control-plane binaries, building them on first use (which may take many minutes).
 * The answer is cached for the life of the process.
 *
 * @throws {ControlPlaneError} when the build fails or a binary is missing afterwards
 */
export function findBinaries(): Promise<Binaries> {
  cached ??= resolve();
  cached.catch(() => {
    cached = undefined; // let a later call retry
  });
  return cached;
}

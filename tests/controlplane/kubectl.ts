/**
 * Runs the built kubectl against the test control plane.
 *
 * @module
 */
import { runCaptured } from "./process.ts";

/** Outcome of one kubectl run. */
export interface KubectlResult {
  /** Exit code (0 on success). */
  code: number;
  /** Standard output. */
  stdout: string;
  /** Standard error. */
  stderr: string;
}

/** Input and identity of one kubectl run. */
export interface KubectlOptions {
  /** Text fed to kubectl's standard input (for `apply -f -` and the like). */
  stdin?: string;
  /** Act as the holder of this bearer token instead of the admin certificate. */
  token?: string;
}

/**
 * Runs `kubectl --kubeconfig=<kubeconfig> ...args` and collects its output.
 *
 * @param cacheDir kubectl's discovery cache, kept out of the user's `~/.kube`
 */
export function runKubectl(
  binary: string,
  args: readonly string[],
  options: { kubeconfig: string; cacheDir: string; stdin?: string },
): Promise<KubectlResult> {
  return runCaptured(
    binary,
    [`--kubeconfig=${options.kubeconfig}`, `--cache-dir=${options.cacheDir}`, ...args],
    {
      env: { KUBECONFIG: options.kubeconfig },
      ...options.stdin === undefined ? {} : { stdin: options.stdin },
    },
  );
}

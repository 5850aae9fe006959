/**
 * Runs the built kubectl against the test control plane.
 *
 * @module
 */

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
export async function runKubectl(
  binary: string,
  args: readonly string[],
  options: { kubeconfig: string; cacheDir: string; stdin?: string },
): Promise<KubectlResult> {
  const child = new Deno.Command(binary, {
    args: [`--kubeconfig=${options.kubeconfig}`, `--cache-dir=${options.cacheDir}`, ...args],
    env: { KUBECONFIG: options.kubeconfig },
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const output = await child.output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

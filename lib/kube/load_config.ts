/**
 * Choosing and loading the cluster configuration the way controller-runtime does:
 * `--kubeconfig`, then `KUBECONFIG` (colon-separated files, merged), then the in-cluster
 * service account, then `~/.kube/config`. `loadClusterConfig` is the only function here
 * that touches `Deno.env` and the file system; the rest take their inputs as parameters.
 *
 * @module
 */
import type { ClusterConfig } from "./cluster_config.ts";
import { isInCluster, resolveInClusterConfig } from "./in_cluster.ts";
import {
  KubeConfigError,
  type LoadedKubeConfig,
  mergeKubeConfigs,
  parseKubeConfig,
} from "./kubeconfig.ts";
import { type ReadTextFile, resolveKubeConfig } from "./kubeconfig_resolve.ts";

/** Where the configuration comes from. */
export type ConfigSource =
  | { type: "files"; paths: string[]; explicit: boolean }
  | { type: "in-cluster" };

/** Inputs of `selectConfigSource`. */
export interface ConfigSourceInputs {
  /** The `--kubeconfig` flag. */
  kubeconfigFlag?: string | undefined;
  /** The `KUBECONFIG` variable. */
  kubeconfigEnv?: string | undefined;
  /** The home folder (`HOME`). */
  home?: string | undefined;
  /** Whether the in-cluster variables are set. */
  inCluster: boolean;
}

/** Picks the configuration source by controller-runtime's precedence. */
export function selectConfigSource(inputs: ConfigSourceInputs): ConfigSource {
  if (inputs.kubeconfigFlag) {
    return { type: "files", paths: [inputs.kubeconfigFlag], explicit: true };
  }
  const fromEnv = (inputs.kubeconfigEnv ?? "").split(":").filter((p) => p !== "");
  if (fromEnv.length > 0) return { type: "files", paths: fromEnv, explicit: false };
  if (inputs.inCluster) return { type: "in-cluster" };
  const home = inputs.home ?? "";
  return { type: "files", paths: [`${home}/.kube/config`], explicit: false };
}

function isNotFound(error: unknown): boolean {
  return error instanceof Error && error.name === "NotFound";
}

/**
 * Reads and parses kubeconfig files. Missing files in a `KUBECONFIG` list are skipped (as
 * kubectl does); an explicit `--kubeconfig` file must exist, and so must at least one file.
 *
 * @throws {KubeConfigError} for unreadable or invalid files, or when none exists
 */
export async function readKubeConfigFiles(
  paths: readonly string[],
  options: { explicit: boolean; readFile: ReadTextFile },
): Promise<LoadedKubeConfig[]> {
  const loaded: LoadedKubeConfig[] = [];
  for (const path of paths) {
    let text: string;
    try {
      text = await options.readFile(path);
    } catch (error) {
      if (isNotFound(error) && !options.explicit) continue;
      const detail = error instanceof Error ? error.message : String(error);
      throw new KubeConfigError(path, `cannot read the file: ${detail}`, { cause: error });
    }
    loaded.push({ path, config: parseKubeConfig(text, path) });
  }
  if (loaded.length === 0) {
    throw new KubeConfigError(paths.join(":"), "no such file, and no in-cluster service account");
  }
  return loaded;
}

/** Options of `loadClusterConfig`. */
export interface LoadClusterConfigOptions {
  /** `--kubeconfig`: use only this file. */
  kubeconfig?: string | undefined;
  /** `--context`: use this context instead of `current-context`. */
  context?: string | undefined;
}

function absolute(path: string): string {
  return path.startsWith("/") ? path : `${Deno.cwd()}/${path}`;
}

/**
 * Loads the configuration from the environment and the file system.
 *
 * @throws {KubeConfigError} or `InClusterConfigError` naming what is missing or wrong
 */
export async function loadClusterConfig(
  options: LoadClusterConfigOptions = {},
): Promise<ClusterConfig> {
  const env = (name: string) => Deno.env.get(name);
  const source = selectConfigSource({
    kubeconfigFlag: options.kubeconfig,
    kubeconfigEnv: env("KUBECONFIG"),
    home: env("HOME"),
    inCluster: isInCluster(env),
  });
  if (source.type === "in-cluster") {
    return await resolveInClusterConfig({ env, readFile: Deno.readTextFile });
  }
  const files = await readKubeConfigFiles(source.paths.map(absolute), {
    explicit: source.explicit,
    readFile: Deno.readTextFile,
  });
  return await resolveKubeConfig(mergeKubeConfigs(files), {
    context: options.context,
    readFile: Deno.readTextFile,
  });
}

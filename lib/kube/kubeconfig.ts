/**
 * Parsing and merging kubeconfig files the kubectl way: each file is validated on its own,
 * relative paths are resolved against the file's folder, and for every cluster, user and
 * context name (and for `current-context`) the first file that sets it wins.
 *
 * @module
 */
import { dirname, isAbsolute, join } from "node:path";
import { parse as parseYaml } from "yaml";
import type * as z from "zod";
import {
  KubeConfigCluster,
  KubeConfigContext,
  KubeConfigFile,
  KubeConfigUser,
} from "./kubeconfig_schema.ts";

/** A kubeconfig that cannot be read, parsed or resolved. */
export class KubeConfigError extends Error {
  /** Builds `Cannot load kubeconfig "<source>": <detail>`. */
  constructor(source: string, detail: string, options?: ErrorOptions) {
    super(`Cannot load kubeconfig "${source}": ${detail}`, options);
    this.name = "KubeConfigError";
  }
}

/** One kubeconfig file after parsing, with the path it came from. */
export interface LoadedKubeConfig {
  /** The file's path. */
  path: string;
  /** Its validated content. */
  config: KubeConfigFile;
}

/** An entry plus the file that defined it. */
export interface Sourced<T> {
  /** The entry. */
  value: T;
  /** The file it came from. */
  path: string;
}

/** Several kubeconfig files merged into one view. */
export interface MergedKubeConfig {
  /** The files in precedence order, joined with `:` (for messages). */
  source: string;
  /** The first `current-context` set by any file. */
  currentContext: string | undefined;
  /** Clusters by name. */
  clusters: Map<string, Sourced<KubeConfigCluster>>;
  /** Users by name. */
  users: Map<string, Sourced<KubeConfigUser>>;
  /** Contexts by name. */
  contexts: Map<string, Sourced<KubeConfigContext>>;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const path = issue.path.map((p) => typeof p === "number" ? `[${p}]` : `.${String(p)}`).join("");
  return `${path.replace(/^\./, "") || "document"}: ${issue.message}`;
}

/**
 * Parses one kubeconfig file's text.
 *
 * @throws {KubeConfigError} for invalid YAML or a document that does not match the format
 */
export function parseKubeConfig(text: string, path: string): KubeConfigFile {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (error) {
    const detail = error instanceof Error ? error.message.split("\n")[0] : String(error);
    throw new KubeConfigError(path, `invalid YAML: ${detail}`, { cause: error });
  }
  const result = KubeConfigFile.safeParse(doc ?? {});
  if (!result.success) {
    const issues = result.error.issues.slice(0, 3).map(describeIssue).join("; ");
    throw new KubeConfigError(path, `invalid kubeconfig: ${issues}`);
  }
  return result.data;
}

function resolvePath(path: string | null | undefined, base: string): string | undefined {
  if (path === undefined || path === null || path === "") return undefined;
  return isAbsolute(path) ? path : join(base, path);
}

function localizeUser(user: KubeConfigUser, base: string): KubeConfigUser {
  const out: KubeConfigUser = {
    ...user,
    "client-certificate": resolvePath(user["client-certificate"], base),
    "client-key": resolvePath(user["client-key"], base),
    tokenFile: resolvePath(user.tokenFile, base),
  };
  // kubectl resolves an exec command only when it names a path, not a program on PATH.
  if (user.exec && user.exec.command.includes("/")) {
    out.exec = { ...user.exec, command: resolvePath(user.exec.command, base)! };
  }
  return out;
}

function addFirst<T>(map: Map<string, Sourced<T>>, name: string, value: T, path: string): void {
  if (!map.has(name)) map.set(name, { value, path });
}

/**
 * Merges parsed files in precedence order (the first file that sets a name wins), resolving
 * relative paths against each file's folder.
 */
export function mergeKubeConfigs(files: readonly LoadedKubeConfig[]): MergedKubeConfig {
  const merged: MergedKubeConfig = {
    source: files.map((f) => f.path).join(":"),
    currentContext: undefined,
    clusters: new Map(),
    users: new Map(),
    contexts: new Map(),
  };
  for (const { path, config } of files) {
    const base = dirname(path);
    merged.currentContext ??= config["current-context"] || undefined;
    for (const entry of config.clusters ?? []) {
      const cluster = entry.cluster;
      const ca = resolvePath(cluster["certificate-authority"], base);
      addFirst(merged.clusters, entry.name, { ...cluster, "certificate-authority": ca }, path);
    }
    for (const entry of config.users ?? []) {
      const user: KubeConfigUser = entry.user ?? {};
      addFirst(merged.users, entry.name, localizeUser(user, base), path);
    }
    for (const entry of config.contexts ?? []) {
      addFirst(merged.contexts, entry.name, entry.context, path);
    }
  }
  return merged;
}

/**
 * The command-line edge: what the process learns from its surroundings before it parses flags
 * (whether it runs in a pod, the pod's namespace, a unique identity for leader election and
 * Event reporting), the `--help` text (one aligned row per flag with its environment variable
 * and default; the README copies it), and turning the parse result into a config, or printing
 * help (exit 0) or a one-line error (exit 2, never a stack trace). Startup steps whose failure
 * ends the process do so with a clear message.
 *
 * @module
 */
import { isInCluster, SERVICE_ACCOUNT_DIR } from "../kube/mod.ts";
import { type ConfigContext, type OperatorConfig, parseOperatorConfig } from "./config.ts";
import { defaultText, envVarName, FLAGS, type FlagSpec } from "./flags.ts";
import type { Logger } from "./contracts.ts";

/** Detects the in-cluster environment. */
export async function detectEnvironment(
  env: (name: string) => string | undefined = (name) => Deno.env.get(name),
  serviceAccountDir: string = SERVICE_ACCOUNT_DIR,
): Promise<ConfigContext> {
  const inCluster = isInCluster(env);
  let podNamespace: string | undefined;
  try {
    podNamespace = (await Deno.readTextFile(`${serviceAccountDir}/namespace`)).trim() || undefined;
  } catch {
    podNamespace = undefined; // out of cluster, or no service account mounted
  }
  return { inCluster, podNamespace };
}

/** A unique identity for this process: `<hostname>_<random uuid>`, as client-go builds it. */
export function processIdentity(): string {
  let host = "unknown";
  try {
    host = Deno.env.get("POD_NAME") || Deno.hostname();
  } catch {
    // Without --allow-sys the hostname is unknown; the uuid keeps the identity unique.
  }
  return `${host}_${crypto.randomUUID()}`;
}

function row(cells: readonly string[], widths: readonly number[]): string {
  return cells.map((cell, i) => i === cells.length - 1 ? cell : cell.padEnd(widths[i]!)).join("  ")
    .trimEnd();
}

/** Renders the help text (ends with a newline). */
export function renderHelp(): string {
  const header = ["FLAG", "ENVIRONMENT", "DEFAULT", "DESCRIPTION"];
  const rows = (FLAGS as readonly FlagSpec[]).map((spec) => {
    const names = [spec.name, ...spec.aliases ?? []].map((n) => `--${n}`).join(", ");
    const value = spec.kind === "boolean" ? "" : " VALUE";
    return [`${names}${value}`, envVarName(spec.name), defaultText(spec), spec.help];
  });
  const widths = header.map((_, i) => Math.max(...[header, ...rows].map((r) => r[i]!.length)));
  const lines = [
    "hostport-allocator: hands out host ports to HostPortClaims and admits the pods that use them",
    "",
    "Usage: deno run --allow-all mod.ts [FLAGS]",
    "",
    row(header, widths),
    ...rows.map((r) => row(r, widths)),
    "",
    "Booleans accept --flag, --flag=true and --flag=false. Durations look like 500ms, 15s, 1m30s.",
    "A flag beats its environment variable. --help prints this text.",
  ];
  return `${lines.join("\n")}\n`;
}

/** The exit code for bad flags, as Go's `flag` package uses. */
export const EXIT_USAGE = 2;

/** Parses the flags; prints help or an error and exits when there is no config. */
export function configOrExit(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  context: ConfigContext,
): OperatorConfig {
  const result = parseOperatorConfig(args, env, context);
  if (result.kind === "config") return result.config;
  if (result.kind === "help") {
    console.log(renderHelp().trimEnd());
    Deno.exit(0);
  }
  console.error(`hostport-allocator: ${result.message}\nRun with --help to list the flags.`);
  Deno.exit(EXIT_USAGE);
}

/** Runs a startup step; on failure logs `Cannot <what>` with the error and exits with 1. */
export async function orExit<T>(
  logger: Logger,
  what: string,
  step: () => T | Promise<T>,
): Promise<T> {
  try {
    return await step();
  } catch (error) {
    logger.error(`Cannot ${what}`, { error });
    Deno.exit(1);
  }
}

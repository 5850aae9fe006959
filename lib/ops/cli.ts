/**
 * The command-line edge: turns the parse result into a config, or prints help (exit 0) or
 * a one-line error (exit 2, never a stack trace); and runs startup steps whose failure ends
 * the process with a clear message.
 *
 * @module
 */
import { type ConfigContext, type OperatorConfig, parseOperatorConfig } from "./config.ts";
import type { Logger } from "./contracts.ts";
import { renderHelp } from "./help.ts";

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

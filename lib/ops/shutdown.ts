/**
 * Graceful shutdown: a signal that aborts on SIGTERM or SIGINT, and `runOperator`, which then
 * stops the controllers, releases the Lease and stops the other parts in order, each bounded.
 *
 * @module
 */
import type { Logger } from "./contracts.ts";
import type { HealthChecks } from "./http_endpoints.ts";
import {
  LeaderSupervisor,
  type LeaderSupervisorOptions,
  settlesWithin,
} from "./leader_election.ts";

/** Aborts on the first SIGTERM or SIGINT; the second one exits with code 1 at once. */
export function terminationSignal(logger: Logger): AbortSignal {
  const controller = new AbortController();
  const onSignal = (name: Deno.Signal) => () => {
    if (controller.signal.aborted) {
      logger.warn("second signal: exiting now", { signal: name });
      Deno.exit(1);
    }
    logger.info("shutting down", { signal: name });
    controller.abort();
  };
  for (const name of ["SIGTERM", "SIGINT"] as const) Deno.addSignalListener(name, onSignal(name));
  return controller.signal;
}

/** What `runOperator` runs and then stops; `afterControllers` stop in order after the Lease. */
export interface OperatorParts extends Omit<LeaderSupervisorOptions, "stopTimeoutMs"> {
  afterControllers: readonly { name: string; stop(): unknown }[];
  health: HealthChecks;
  shutdownTimeoutMs: number;
}

/**
 * Runs the controllers (readiness check `controllers`) until `stop` aborts or they fail, turning
 * readiness false, then shuts down in order. Resolves 0 after a clean shutdown, 1 when something
 * failed or did not stop in time.
 */
export async function runOperator(parts: OperatorParts, stop: AbortSignal): Promise<number> {
  const { health, logger, shutdownTimeoutMs } = parts;
  const supervisor = new LeaderSupervisor({ ...parts, stopTimeoutMs: shutdownTimeoutMs });
  health.addReadiness("controllers", () => supervisor.readiness());
  health.addReadiness("shutdown", () => stop.aborted ? "shutting down" : true);
  let code = 0;
  try {
    if (await supervisor.run(stop) === "stuck") code = 1;
  } catch (error) {
    logger.error("Cannot run the controllers", { error });
    code = 1;
  }
  for (const part of parts.afterControllers) {
    const stopping = Promise.resolve().then(() => part.stop()).catch((error) =>
      logger.warn("error while stopping", { part: part.name, error })
    );
    if (!await settlesWithin(stopping, shutdownTimeoutMs)) {
      logger.error("did not stop in time", { part: part.name, timeoutMs: shutdownTimeoutMs });
      code = 1;
    }
  }
  logger.info("stopped", { exitCode: code });
  return code;
}

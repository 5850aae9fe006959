/**
 * Operations: flags, logs, Events, metrics, health endpoints, leader election and shutdown. The
 * controllers see only `contracts.ts`; `mod.ts` at the repository root wires the rest.
 *
 * @module
 */
export type * from "./contracts.ts";
export * from "./config.ts";
export * from "./flags.ts";
export * from "./logger.ts";
export * from "./metrics_registry.ts";
export * from "./process_metrics.ts";
export * from "./event_recorder.ts";
export * from "./http_endpoints.ts";
export * from "./leader_election.ts";
export * from "./shutdown.ts";

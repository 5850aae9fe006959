/**
 * The controllers of hostport-allocator: a generic key-based controller runtime and the
 * HostPortClass, HostPortClaim and HostPort controllers (with the Pod cache that feeds the
 * claim controller), and the template-claim controller (owners of per-pod claims), started
 * together by {@linkcode startControllers}.
 *
 * @module
 */
export { startControllers } from "./start_controllers.ts";
export type {
  ControllerDeps,
  ControllersOptions,
  RunningControllers,
} from "./start_controllers.ts";
export { CONTROLLER_DEFAULTS } from "./start_controllers.ts";
export { Controller } from "./controller.ts";
export type { ControllerOptions, ReconcileFunction } from "./controller.ts";
export { createControllerMetrics } from "./controller.ts";
export type { ControllerMetrics } from "./controller.ts";
export { POD_SUMMARY_RESOURCE } from "./context.ts";
export { startSharedCaches } from "./context.ts";
export type { RunningSharedCaches, SharedCaches } from "./context.ts";

/**
 * The metrics the controllers export, created once per registry. Names follow
 * controller-runtime's where the meaning is the same, so existing dashboards work.
 *
 * @module
 */
import type { MetricsRegistry } from "../ops/contracts.ts";

/** Latency buckets of one reconcile, in seconds. */
const RECONCILE_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * Metrics of the controller runtime (named as controller-runtime's) and of allocation, repair,
 * classes and quotas (`hostport_*`), as {@linkcode createControllerMetrics} makes them.
 */
export type ControllerMetrics = ReturnType<typeof metricsIn>;

/** Creates (or fetches) every controller metric in `registry`. */
export function createControllerMetrics(registry: MetricsRegistry): ControllerMetrics {
  return metricsIn(registry);
}

function metricsIn(registry: MetricsRegistry) {
  return {
    reconcileTotal: registry.counter(
      "controller_runtime_reconcile_total",
      "Total number of reconciliations per controller",
      ["controller", "result"],
    ),
    reconcileErrors: registry.counter(
      "controller_runtime_reconcile_errors_total",
      "Total number of reconciliation errors per controller",
      ["controller"],
    ),
    reconcileTime: registry.histogram(
      "controller_runtime_reconcile_time_seconds",
      "Length of time per reconciliation per controller",
      ["controller"],
      RECONCILE_BUCKETS,
    ),
    queueDepth: registry.gauge("workqueue_depth", "Current depth of workqueue", ["name"]),
    activeWorkers: registry.gauge(
      "controller_runtime_active_workers",
      "Number of currently used workers per controller",
      ["controller"],
    ),
    ...allocationMetrics(registry),
    undecodableObjects: registry.gauge(
      "hostport_allocator_undecodable_objects",
      "Objects the operator ignores because they do not match its schema, by kind",
      ["kind"],
    ),
    quotaUsed: registry.gauge(
      "hostport_quota_used_claims",
      "Claims of a HostPortClass in a namespace, per ResourceQuota with a per-class limit",
      ["namespace", "quota", "class"],
    ),
    quotaHard: registry.gauge(
      "hostport_quota_hard_claims",
      "The per-class claim limit of a ResourceQuota",
      ["namespace", "quota", "class"],
    ),
    quotaExceeded: registry.counter(
      "hostport_quota_exceeded_total",
      "Claims the controller held back (Pending, QuotaExceeded) because a quota was full",
      ["namespace", "class"],
    ),
  };
}

function allocationMetrics(registry: MetricsRegistry) {
  return {
    classCapacity: registry.gauge(
      "hostport_class_capacity_ports",
      "Number of distinct ports in the pools of a HostPortClass",
      ["class"],
    ),
    classAllocated: registry.gauge(
      "hostport_class_allocated_ports",
      "Number of ports of a HostPortClass's pools held by a HostPort of any class",
      ["class"],
    ),
    classFree: registry.gauge(
      "hostport_class_free_ports",
      "Number of ports of a HostPortClass's pools free to allocate",
      ["class"],
    ),
    allocations: registry.counter(
      "hostport_allocations_total",
      "Ports allocated to HostPorts",
      ["class"],
    ),
    allocationFailures: registry.counter(
      "hostport_allocation_failures_total",
      "Allocations that failed, by reason (exhausted or error)",
      ["class", "reason"],
    ),
    releases: registry.counter(
      "hostport_releases_total",
      "Ports released after their HostPort was finalized",
    ),
    repairFindings: registry.counter(
      "hostport_repair_findings_total",
      "Problems found by repair passes, by finding",
      ["finding"],
    ),
    repairRuns: registry.counter(
      "hostport_repair_runs_total",
      "Repair passes, by result (success or error)",
      ["result"],
    ),
    repairLeakCandidates: registry.gauge(
      "hostport_repair_leak_candidates",
      "Reserved ports held by no HostPort, watched before they are freed",
    ),
  };
}

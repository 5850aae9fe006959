/**
 * Cluster-wide port allocation arbitrated by the API server (docs/architecture.md, "The
 * invariant and who guarantees it", rules 1-6): the {@linkcode AllocationRecord} (the
 * reserved-port bitmap in one ConfigMap, changed only by compare-and-swap), the
 * {@linkcode ClusterPortAllocator} the controllers call, {@linkcode AllocationRepair} (rule 6),
 * and the {@linkcode RecordAnchor} that keeps one record per cluster.
 *
 * @module
 */
export * from "./allocation_record.ts";
export * from "./cluster_port_allocator.ts";
export * from "./allocation_repair.ts";
export * from "./record_anchor.ts";

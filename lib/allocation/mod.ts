/** Cluster-wide port allocation arbitrated by the API server (docs/architecture.md). @module */
export * from "./allocation_record.ts";
export * from "./cluster_port_allocator.ts";
export * from "./allocation_repair.ts";
export * from "./record_anchor.ts";

/**
 * Cluster-wide port allocation arbitrated by the API server (docs/architecture.md, "The
 * invariant and who guarantees it", rules 1-6).
 *
 * - {@linkcode AllocationRecord}: the reserved-port bitmap in one ConfigMap
 *   (`hostport-allocator-allocations` by default), changed only by compare-and-swap on its
 *   resourceVersion, with group commit. Open it with {@linkcode openAllocationRecord}.
 * - {@linkcode ClusterPortAllocator}: the fast path the controllers call: pick in memory, reserve
 *   in the record, and release by rule 3; `isReservationFresh` for rule 2; `onReleased` to
 *   requeue Pending HostPorts.
 * - {@linkcode planRepair} (pure) and {@linkcode AllocationRepair} (I/O): rule 6.
 *
 * Expected outcomes (taken, exhausted, unknown, held) are values. Errors are
 * {@linkcode AllocationRecordError} (certainly not committed; {@linkcode AllocationRecordMissingError}
 * when the record was deleted while in use: repair re-creates it),
 * {@linkcode AllocationRecordFormatError} (a record this code cannot read; never overwritten) and
 * {@linkcode AllocationUnavailableError} (allocation refused while the record is missing or
 * paused after a rebuild).
 *
 * @example Wiring (leader only)
 * ```ts ignore
 * const record = openAllocationRecord(client, { namespace: "hostport-allocator-system" });
 * const allocator = new ClusterPortAllocator({ record });
 * const repair = new AllocationRepair({
 *   record,
 *   allocator,
 *   listHostPorts: liveHostPortLister(client),
 *   listHostPortClasses: liveHostPortClassLister(client),
 * });
 * await repair.runOnce(); // reserves every held port (migration), resyncs the allocator
 * allocator.onReleased((port) => requeuePendingHostPortsWhosePoolsContain(port));
 *
 * const outcome = await allocator.allocate("hpc-1234", pools);
 * if (outcome.ok && allocator.isReservationFresh(outcome.reservedAt)) {
 *   // write HostPort.status { phase: Allocated, port: outcome.port } with its resourceVersion
 * }
 * ```
 *
 * @module
 */

export {
  AllocationRecord,
  AllocationRecordError,
  AllocationRecordMissingError,
  openAllocationRecord,
} from "./allocation_record.ts";
export type {
  AllocationRecordOptions,
  RecordSnapshot,
  ReleaseOutcome,
  ReserveOutcome,
} from "./allocation_record.ts";
export {
  AllocationRecordFormatError,
  CONFIG_MAP_RESOURCE,
  ConfigMapRecordStore,
  DEFAULT_RECORD_NAME,
} from "./record_store.ts";
export type {
  ConfigMapRecordStoreOptions,
  RecordContent,
  RecordStore,
  StoredRecord,
} from "./record_store.ts";
export {
  AllocationUnavailableError,
  ClusterPortAllocator,
  DEFAULT_LEAK_HOLDOFF_MS,
  DEFAULT_RESERVATION_TTL_MS,
} from "./cluster_port_allocator.ts";
export type {
  AllocateOutcome,
  ClusterPortAllocatorOptions,
  PortHolding,
  ReleasePortOutcome,
  Reservation,
} from "./cluster_port_allocator.ts";
export { planRepair } from "./plan_repair.ts";
export type { LeakSighting, RepairHostPort, RepairPlan, RepairReport } from "./plan_repair.ts";
export {
  AllocationRepair,
  liveHostPortClassLister,
  liveHostPortLister,
} from "./allocation_repair.ts";
export type { AllocationRepairOptions, RepairFindings } from "./allocation_repair.ts";
export * from "./record_anchor.ts";

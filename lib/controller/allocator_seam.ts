/**
 * What the controllers use of `lib/allocation` (docs/architecture.md rules 1-6), as narrow
 * interfaces that `ClusterPortAllocator` and `AllocationRepair` satisfy (tests may pass fakes).
 *
 * @module
 */
import type { AllocationRepair } from "../allocation/allocation_repair.ts";
import type { ClusterPortAllocator } from "../allocation/cluster_port_allocator.ts";

export type { RepairFindings } from "../allocation/allocation_repair.ts";
export type { AllocateOutcome, ReleasePortOutcome } from "../allocation/cluster_port_allocator.ts";

/**
 * Allocation and release through the cluster-wide record: `allocate` (reserve, then write),
 * `isReservationFresh` (rule 2), `forget` (after the status write committed),
 * `releaseAfterFinalizerRemoved` and `releaseUnused` (rule 3), and `onReleased` (a port became
 * free, here or in another process, or by repair).
 */
export type PortAllocator = Pick<
  ClusterPortAllocator,
  | "allocate"
  | "isReservationFresh"
  | "forget"
  | "releaseAfterFinalizerRemoved"
  | "releaseUnused"
  | "onReleased"
>;

/** One repair pass of rule 6 (`AllocationRepair.runOnce`). */
export type RepairPass = Pick<AllocationRepair, "runOnce">;

/**
 * What the controllers use of `lib/allocation` (docs/architecture.md rules 1-6), as narrow
 * interfaces that `ClusterPortAllocator` and `AllocationRepair` satisfy (tests may pass fakes).
 *
 * @module
 */
import type { AllocationRepair, ClusterPortAllocator } from "../allocation/mod.ts";

export type { AllocateOutcome, ReleasePortOutcome, RepairFindings } from "../allocation/mod.ts";

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

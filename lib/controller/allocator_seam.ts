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
 * `releaseAfterFinalizerRemoved` and `releaseUnused` (rule 3), `onReleased` (a port became
 * free, here or in another process, or by repair), `useHeldSource` (the HostPort cache: held
 * ports beat the record), `onRestored` (held ports the record lost were reserved again),
 * `onRecordMissing` (run repair now) and `readiness` (the "allocation" readiness check).
 */
export type PortAllocator = Pick<
  ClusterPortAllocator,
  | "allocate"
  | "isReservationFresh"
  | "forget"
  | "releaseAfterFinalizerRemoved"
  | "releaseUnused"
  | "onReleased"
  | "useHeldSource"
  | "onRestored"
  | "onRecordMissing"
  | "readiness"
>;

/**
 * One repair pass of rule 6 (`AllocationRepair.runOnce`), and `noteHeld` (a HostPort was seen
 * holding a port: its leak sightings restart).
 */
export type RepairPass = Pick<AllocationRepair, "runOnce" | "noteHeld">;

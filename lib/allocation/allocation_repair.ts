/**
 * `AllocationRepair`: the repair pass of rule 6 as I/O around the pure `planRepair`: list the
 * HostPorts live, then read the record, plan, and commit reservations and frees by
 * compare-and-swap. It returns its findings; turning them into Events, conditions and metrics is
 * the caller's job.
 *
 * @module
 */

import { type HostPort, salvageHostPort } from "../api/hostport.ts";
import type { HostPortClass } from "../api/hostport_class.ts";
import type { PortRange } from "../allocator/port_range.ts";
import { HOST_PORT_CLASS_RESOURCE, HOST_PORT_RESOURCE } from "../kube/resource.ts";
import { ResourceClient } from "../kube/resource.ts";
import type { RestClient } from "../kube/rest_client.ts";
import type { AllocationRecord } from "./allocation_record.ts";
import type { ClusterPortAllocator } from "./cluster_port_allocator.ts";
import { AllocationRecordMissingError } from "./allocation_record.ts";
import { DEFAULT_LEAK_HOLDOFF_MS } from "./cluster_port_allocator.ts";
import {
  type LeakSighting,
  planRepair,
  type RepairHostPort,
  type RepairPlan,
  type RepairReport,
} from "./plan_repair.ts";

/** Options of {@linkcode AllocationRepair}. */
export interface AllocationRepairOptions {
  /** The record to repair. */
  record: AllocationRecord;
  /** Lists every HostPort live, never from a cache (see {@linkcode liveHostPortLister}). */
  listHostPorts: () => Promise<readonly HostPort[]>;
  /** Lists every HostPortClass (a synced cache is fine: classes only decide out-of-pool reports). */
  listHostPortClasses: () => Promise<readonly HostPortClass[]>;
  /** A monotonic clock in milliseconds; default `performance.now()`. */
  now?: () => number;
  /** How long leak sightings must span; default reservation TTL + API server request timeout. */
  holdoffMs?: number;
  /** This process's allocator: its recent reservations are never leak candidates, and it is resynced after each pass. */
  allocator?: ClusterPortAllocator;
}

/** What one pass found and did. */
export interface RepairFindings extends RepairReport {
  /** Held ports whose missing reservation was committed. */
  readonly reserved: readonly number[];
  /**
   * Held ports that someone else reserved between this pass's read and its write: another
   * process may be handing the port out, so a duplicate may follow (log it loudly).
   */
  readonly reserveRaced: readonly number[];
  /** Leaked ports freed. */
  readonly freed: readonly number[];
  /** Reservations or frees whose outcome is unknown; the next pass looks again. */
  readonly unknown: readonly number[];
  /** Reserved ports nobody holds, still under watch. */
  readonly leakCandidates: readonly number[];
  /** Every port a HostPort holds. */
  readonly held: readonly number[];
  /**
   * Ports the re-created record reserves, when this pass found the record deleted and rebuilt it
   * (allocation is then paused for the holdoff); undefined otherwise.
   */
  readonly rebuilt: readonly number[] | undefined;
  /** In how many ms a pass may free the earliest leak candidate; undefined without candidates. */
  readonly nextFreeInMs: number | undefined;
}

/** Runs repair passes, remembering leak sightings between them. */
export class AllocationRepair {
  #options: AllocationRepairOptions;
  #now: () => number;
  #candidates: ReadonlyMap<number, LeakSighting> = new Map();
  #disturbed = new Set<number>();
  /** The record's version when the last pass looked at the ports it saw released. */
  #releasesSeen: number;
  #rebuilt: number[] | undefined;

  /** Creates a repairer; no pass runs until {@linkcode AllocationRepair.runOnce}. */
  constructor(options: AllocationRepairOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
    this.#releasesSeen = options.record.version;
  }

  /**
   * Tells repair that some HostPort was seen holding `port` (the controllers' HostPort cache):
   * a leak candidate's sightings restart, as the port may have been released and reserved anew.
   */
  noteHeld(port: number): void {
    if (this.#candidates.has(port)) this.#disturbed.add(port);
  }

  /** The leak sightings carried to the next pass. */
  get leakCandidates(): ReadonlyMap<number, LeakSighting> {
    return this.#candidates;
  }

  /**
   * Runs one pass. On a missing record this is the migration from the original operator: the
   * record is created reserving exactly the ports HostPorts hold.
   *
   * @throws (rejection) a list failed, or {@linkcode AllocationRecordError} /
   * `AllocationRecordFormatError` from the record; nothing was freed unless committed
   */
  async runOnce(): Promise<RepairFindings> {
    this.#rebuilt = undefined;
    const plan = await this.#plan();
    const { record, allocator } = this.#options;
    const [reserves, frees] = await Promise.all([
      Promise.all(plan.reserve.map((port) => record.reserve(port))),
      Promise.all(plan.free.map((port) => record.release(port))),
    ]);
    const candidates = new Map(plan.leakCandidates);
    const notFreed = plan.free.filter((_, i) => !frees[i]?.ok);
    for (const port of notFreed) {
      // Maybe not freed: keep watching it, so that the next pass tries again.
      const previous = this.#candidates.get(port) ?? { firstSeenAt: this.#now(), sightings: 0 };
      candidates.set(port, { ...previous, sightings: previous.sightings + 1 });
    }
    this.#candidates = candidates;
    allocator?.resync(plan.held);
    const reason = (i: number) => reserves[i]?.ok === false ? reserves[i].reason : undefined;
    return {
      ...plan.report,
      reserved: plan.reserve.filter((_, i) => reserves[i]?.ok),
      reserveRaced: plan.reserve.filter((_, i) => reason(i) === "taken"),
      freed: plan.free.filter((_, i) => frees[i]?.ok),
      unknown: [...plan.reserve.filter((_, i) => reason(i) === "unknown"), ...notFreed],
      leakCandidates: [...candidates.keys()],
      held: plan.held,
      rebuilt: this.#rebuilt,
      nextFreeInMs: plan.nextFreeAt === undefined
        ? undefined
        : Math.max(0, plan.nextFreeAt - this.#now()),
    };
  }

  /**
   * Issue #9, item 4: the record was deleted while in use. Re-creates it reserving every port
   * anyone may hold: every port a HostPort holds (live list), every port of the last record this
   * process read, and this process's recent reservations (their writes may be in flight). A rival
   * process (split brain) may have reserved ports after our last read, which no list shows yet:
   * allocation is paused first, and stays paused for the holdoff after the rebuild, so that every
   * write carrying such a port has landed (and shows in the HostPorts) before we pick again.
   */
  async #rebuild(held: readonly HostPort[]): Promise<void> {
    const { record, allocator } = this.#options;
    const holdoffMs = this.#options.holdoffMs ?? DEFAULT_LEAK_HOLDOFF_MS;
    allocator?.pauseAfterRebuild(Infinity);
    const ports = new Set([
      ...held.map((hostPort) => hostPort.status?.port ?? 0).filter((port) => port > 0),
      ...record.reservedPorts(),
      ...(allocator?.recentlyReserved() ?? []),
    ]);
    const sorted = [...ports].sort((a, b) => a - b);
    if (!await record.recreate(sorted)) {
      // Someone re-created it first: reserve ours in it (taken is fine: reserved either way).
      await record.refresh();
      await Promise.all(sorted.filter((port) => !record.has(port)).map((p) => record.reserve(p)));
    }
    allocator?.pauseAfterRebuild(holdoffMs);
    this.#rebuilt = sorted;
  }

  /** Gathers (HostPorts live first, then the record) and decides. */
  async #plan(): Promise<RepairPlan> {
    const { record, allocator, holdoffMs } = this.#options;
    const hostPorts = await this.#options.listHostPorts();
    const classes = await this.#options.listHostPortClasses();
    // Read after the list: a port written into a HostPort since was reserved before that write.
    let snapshot;
    try {
      snapshot = await record.refresh();
      // Found deleted earlier, and maybe re-created by someone else since: rebuild still.
      if (allocator?.awaitingRebuild()) {
        await this.#rebuild(hostPorts);
        snapshot = await record.refresh();
      }
    } catch (error) {
      if (!(error instanceof AllocationRecordMissingError) && !record.missing) throw error;
      await this.#rebuild(hostPorts);
      snapshot = await record.refresh();
    }
    // A port seen released in the record since the last pass may have been reserved anew.
    const disturbed = [
      ...new Set([...this.#disturbed, ...record.releasedSince(this.#releasesSeen)]),
    ];
    this.#releasesSeen = record.version;
    this.#disturbed.clear();
    const pools = new Map(classes.map((c) => [c.metadata.name ?? "", c.spec.pools]));
    return planRepair({
      hostPorts: hostPorts.map((hostPort) => toRepairHostPort(hostPort, pools)),
      reserved: snapshot.bits.toArray(),
      leakCandidates: this.#candidates,
      now: this.#now(),
      ...(holdoffMs === undefined ? {} : { holdoffMs }),
      ...(allocator === undefined ? {} : { recentlyReserved: allocator.recentlyReserved() }),
      disturbed,
    });
  }
}

function toRepairHostPort(
  hostPort: HostPort,
  pools: ReadonlyMap<string, readonly PortRange[]>,
): RepairHostPort {
  const className = hostPort.spec.hostPortClassName;
  return {
    name: hostPort.metadata.name ?? "",
    port: hostPort.status?.port ?? 0,
    className,
    pools: pools.get(className),
  };
}

/** A lister of every HostPort, read live from the API server (all pages, one snapshot). */
export function liveHostPortLister(client: RestClient): () => Promise<readonly HostPort[]> {
  const hostPorts = new ResourceClient(client, HOST_PORT_RESOURCE);
  return async () => {
    const list = await hostPorts.listAll();
    // A HostPort that does not decode still holds what port it shows: never free that one.
    return [...list.items, ...list.undecodable.map(({ raw }) => salvageHostPort(raw))];
  };
}

/** A lister of every HostPortClass, read live from the API server. */
export function liveHostPortClassLister(
  client: RestClient,
): () => Promise<readonly HostPortClass[]> {
  const classes = new ResourceClient(client, HOST_PORT_CLASS_RESOURCE);
  return async () => (await classes.listAll()).items;
}

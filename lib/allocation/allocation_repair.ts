/**
 * The repair pass (docs/architecture.md, rule 6), after Kubernetes' NodePort `repair.go`: the pure
 * {@linkcode planRepair} and the I/O around it, {@linkcode AllocationRepair}, which returns
 * findings (Events, conditions and metrics are the caller's).
 * @module
 */

import { type HostPort, type HostPortClass, salvageHostPort } from "../api/types.ts";
import type { PortBitmap } from "../allocator/port_bitmap.ts";
import { PortRegistry, type RestoreEntry, type RestoreReport } from "../allocator/port_registry.ts";
import { HOST_PORT_CLASS_RESOURCE, HOST_PORT_RESOURCE, ResourceClient } from "../kube/resource.ts";
import type { RestClient } from "../kube/rest_client.ts";
import { type AllocationRecord, AllocationRecordMissingError } from "./allocation_record.ts";
import { type ClusterPortAllocator, DEFAULT_LEAK_HOLDOFF_MS } from "./cluster_port_allocator.ts";

/** A reserved, unowned port: first seen when (the repairer's clock), on how many passes. */
export interface LeakSighting {
  readonly firstSeenAt: number;
  readonly sightings: number;
}

/**
 * The input of {@linkcode planRepair}: every HostPort (a live list; `port` 0 when none, `pools`
 * undefined when the class is gone), the record's ports (read after the list), the previous pass's
 * sightings, our recent reservations (never candidates), and the ports seen released in the record
 * or held since the last pass (their sightings restart).
 */
export interface RepairInput {
  readonly hostPorts: readonly RestoreEntry<string>[];
  readonly reserved: Iterable<number>;
  readonly leakCandidates: ReadonlyMap<number, LeakSighting>;
  readonly now: number;
  readonly holdoffMs?: number | undefined;
  readonly recentlyReserved?: Iterable<number> | undefined;
  readonly disturbed?: Iterable<number>;
}

/**
 * The decision of {@linkcode planRepair}, ports ascending: held but not reserved (reserve them),
 * leaks whose holdoff is over (free them), the next pass's sightings, when the earliest can be
 * freed, and every held port.
 */
export interface RepairPlan {
  readonly reserve: readonly number[];
  readonly free: readonly number[];
  readonly leakCandidates: ReadonlyMap<number, LeakSighting>;
  readonly nextFreeAt: number | undefined;
  readonly held: readonly number[];
  /** Ports held twice (never "fixed"), outside the pools (still held), not a port at all. */
  readonly report: RestoreReport<string>;
}

/** Two suffice: the first proves the port was reserved before it; the holdoff does the rest. */
const LEAK_SIGHTINGS_BEFORE_FREE = 2;

/** Decides one repair pass (docs/architecture.md, rule 6). */
export function planRepair(input: RepairInput): RepairPlan {
  const registry = new PortRegistry();
  const restored = registry.restore(input.hostPorts.filter((hostPort) => hostPort.port !== 0));
  const held = registry.snapshot();
  const reserved = new Set(input.reserved);
  const holdoffMs = input.holdoffMs ?? DEFAULT_LEAK_HOLDOFF_MS;
  const recent = new Set(input.recentlyReserved ?? []);
  const disturbed = new Set(input.disturbed ?? []);
  const free: number[] = [];
  const leakCandidates = new Map<number, LeakSighting>();
  for (const port of [...reserved].sort((a, b) => a - b)) {
    // Owned, or maybe about to be: not a leak, and any earlier sightings are forgotten.
    if (registry.has(port) || recent.has(port)) continue;
    // Released or held since the last pass: this may be a new reservation; start afresh.
    const previous = disturbed.has(port) ? undefined : input.leakCandidates.get(port);
    const sighting = {
      firstSeenAt: previous?.firstSeenAt ?? input.now,
      sightings: (previous?.sightings ?? 0) + 1,
    };
    const spanned = input.now - sighting.firstSeenAt > holdoffMs;
    if (sighting.sightings >= LEAK_SIGHTINGS_BEFORE_FREE && spanned) free.push(port);
    else leakCandidates.set(port, sighting);
  }
  const firstSeen = [...leakCandidates.values()].map((sighting) => sighting.firstSeenAt);
  return {
    reserve: held.filter((port) => !reserved.has(port)),
    free,
    leakCandidates,
    // Strictly more than the holdoff must have passed: one millisecond past it.
    nextFreeAt: firstSeen.length === 0 ? undefined : Math.min(...firstSeen) + holdoffMs + 1,
    held,
    report: restored,
  };
}

/** Options of {@linkcode AllocationRepair}: `now` is a monotonic clock (ms). */
export interface AllocationRepairOptions {
  record: AllocationRecord;
  /** Lists every HostPort live, never from a cache (see {@linkcode liveHostPortLister}). */
  listHostPorts: () => Promise<readonly HostPort[]>;
  /** Lists every HostPortClass (a synced cache is fine: classes only decide out-of-pool reports). */
  listHostPortClasses: () => Promise<readonly HostPortClass[]>;
  now?: () => number;
  holdoffMs?: number;
  /** This process's allocator, resynced after each pass. */
  allocator?: ClusterPortAllocator;
}

/**
 * What one pass found and did: held ports it reserved; held ports someone else reserved between
 * its read and its write (a duplicate may follow: log it loudly); leaks freed; reserves or frees
 * of unknown outcome (the next pass looks again); leak candidates; the ports a deleted record was
 * re-created with; and when a pass may free the earliest candidate.
 */
export interface RepairFindings extends RestoreReport<string> {
  readonly reserved: readonly number[];
  readonly reserveRaced: readonly number[];
  readonly freed: readonly number[];
  readonly unknown: readonly number[];
  readonly leakCandidates: readonly number[];
  readonly rebuilt: readonly number[] | undefined;
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

  /** Notes a HostPort seen holding `port`: its sightings restart (it may be reserved anew). */
  noteHeld(port: number): void {
    if (this.#candidates.has(port)) this.#disturbed.add(port);
  }

  /**
   * Runs one pass; on a missing record (migrating from the original operator) it creates it
   * reserving exactly the held ports.
   *
   * @throws (rejection) a list or the record failed; nothing was freed unless committed
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
      rebuilt: this.#rebuilt,
      nextFreeInMs: plan.nextFreeAt === undefined
        ? undefined
        : Math.max(0, plan.nextFreeAt - this.#now()),
    };
  }

  /**
   * Re-creates a record deleted while in use, pausing allocation (docs/architecture.md, after rule
   * 8); returns its ports read afresh.
   */
  async #rebuild(held: readonly HostPort[]): Promise<PortBitmap> {
    const { record, allocator } = this.#options;
    allocator?.pauseAfterRebuild(Infinity);
    const ports = new Set([
      ...held.map((hostPort) => hostPort.status?.port ?? 0).filter((port) => port > 0),
      ...record.reserved().toArray(),
      ...(allocator?.recentlyReserved() ?? []),
    ]);
    const sorted = [...ports].sort((a, b) => a - b);
    if (!await record.recreate(sorted)) {
      // Someone re-created it first: reserve ours in it (taken is fine: reserved either way).
      await record.refresh();
      await Promise.all(sorted.filter((port) => !record.has(port)).map((p) => record.reserve(p)));
    }
    allocator?.pauseAfterRebuild(this.#options.holdoffMs ?? DEFAULT_LEAK_HOLDOFF_MS);
    this.#rebuilt = sorted;
    return await record.refresh();
  }

  /** Gathers (HostPorts live first, then the record) and decides. */
  async #plan(): Promise<RepairPlan> {
    const { record, allocator, holdoffMs } = this.#options;
    const hostPorts = await this.#options.listHostPorts();
    const classes = await this.#options.listHostPortClasses();
    // Read after the list: a port written into a HostPort since was reserved before that write.
    let reserved;
    try {
      reserved = await record.refresh();
      // Found deleted earlier, and maybe re-created by someone else since: rebuild still.
      if (allocator?.awaitingRebuild()) reserved = await this.#rebuild(hostPorts);
    } catch (error) {
      if (!(error instanceof AllocationRecordMissingError) && !record.missing) throw error;
      reserved = await this.#rebuild(hostPorts);
    }
    // A port seen released in the record since the last pass may have been reserved anew.
    const disturbed = new Set([...this.#disturbed, ...record.releasedSince(this.#releasesSeen)]);
    this.#releasesSeen = record.version;
    this.#disturbed.clear();
    const pools = new Map(classes.map((c) => [c.metadata.name ?? "", c.spec.pools]));
    return planRepair({
      hostPorts: hostPorts.map((hostPort) => ({
        holder: hostPort.metadata.name ?? "",
        port: hostPort.status?.port ?? 0,
        pools: pools.get(hostPort.spec.hostPortClassName),
      })),
      reserved: reserved.toArray(),
      leakCandidates: this.#candidates,
      now: this.#now(),
      holdoffMs,
      recentlyReserved: allocator?.recentlyReserved(),
      disturbed,
    });
  }
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
export function liveHostPortClassLister(client: RestClient): () => Promise<HostPortClass[]> {
  const classes = new ResourceClient(client, HOST_PORT_CLASS_RESOURCE);
  return async () => (await classes.listAll()).items;
}

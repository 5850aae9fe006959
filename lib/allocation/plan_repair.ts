/**
 * `planRepair`: the pure decision of a repair pass (docs/architecture.md, rule 6), after
 * Kubernetes' NodePort `repair.go`: compare the ports HostPorts hold with the record, reserve
 * what is held but not reserved, report duplicates and ports outside their class's pools, and
 * free a reserved port nobody holds only after it was seen so on 2 consecutive passes whose
 * sightings span more than the holdoff (reservation TTL + API server request timeout).
 *
 * Why that is safe: a status write carrying a port is sent within the reservation TTL of the
 * reservation's commit (rule 2) and lands within the API server's request timeout of being sent,
 * or never. A port seen reserved on the first pass was reserved before it, so once the holdoff has
 * passed since that sighting, every write that could carry it has landed, and a HostPort holding
 * it would show in the second pass's live list. The one way around it is a release and a new
 * reservation of the port between the two passes; so a candidate's sightings restart whenever
 * this process saw, in between, the port released in the record or held by any HostPort
 * (`disturbed`), and ports this process reserved recently are never candidates.
 *
 * @module
 */

import type { PortRange } from "../allocator/port_bitmap.ts";
import { PortRegistry } from "../allocator/port_registry.ts";
import { DEFAULT_LEAK_HOLDOFF_MS } from "./cluster_port_allocator.ts";

/**
 * Rule 6: consecutive repair passes that must see a port reserved and unowned before it is freed
 * (their sightings spanning more than the holdoff). Two suffice: the first proves the port was
 * reserved before it, and the holdoff then covers every write that could carry it. The repair
 * loop runs the second pass as soon as the holdoff of the earliest candidate ends, so a port
 * stranded by a crash is back in the pool about the holdoff after the restart.
 */
const LEAK_SIGHTINGS_BEFORE_FREE = 2;

/** A HostPort as repair sees it. */
export interface RepairHostPort {
  /** The HostPort's name. */
  readonly name: string;
  /** `status.port`; 0 when no port is allocated. */
  readonly port: number;
  /** `spec.hostPortClassName`. */
  readonly className: string;
  /** The class's pools, or undefined when the class does not exist (no out-of-pool check). */
  readonly pools: readonly PortRange[] | undefined;
}

/** How long a reserved, unowned port has been seen so. */
export interface LeakSighting {
  /** When it was first seen, on the repairer's monotonic clock. */
  readonly firstSeenAt: number;
  /** On how many consecutive passes it was seen. */
  readonly sightings: number;
}

/** The input of {@linkcode planRepair}. */
export interface RepairInput {
  /** Every HostPort, from a live list. */
  readonly hostPorts: readonly RepairHostPort[];
  /** The ports the record reserves, read after the list. */
  readonly reserved: Iterable<number>;
  /** The sightings of the previous pass. */
  readonly leakCandidates: ReadonlyMap<number, LeakSighting>;
  /** Now, on the same monotonic clock as the sightings. */
  readonly now: number;
  /** How long the sightings must span; default reservation TTL + API server request timeout. */
  readonly holdoffMs?: number;
  /** Ports this process reserved so recently that a write carrying them may be in flight. */
  readonly recentlyReserved?: Iterable<number>;
  /**
   * Ports this process saw released in the record or held by a HostPort since the previous
   * pass: their sightings restart.
   */
  readonly disturbed?: Iterable<number>;
}

/** What a repair pass found, for Events, conditions, metrics and logs. */
export interface RepairReport {
  /** Ports held by two or more HostPorts, with every holder; never "fixed". */
  readonly duplicates: readonly { readonly port: number; readonly holders: readonly string[] }[];
  /** HostPorts holding a port outside every pool of their class; the port stays held. */
  readonly outOfPool: readonly { readonly hostPort: string; readonly port: number }[];
  /** HostPorts whose `status.port` is not a port (1-65535); ignored. */
  readonly invalid: readonly { readonly hostPort: string; readonly port: number }[];
}

/** The decision of {@linkcode planRepair}. */
export interface RepairPlan {
  /** Ports held by a HostPort but not reserved: reserve them (ascending). */
  readonly reserve: readonly number[];
  /** Leaks whose holdoff is over: free them (ascending). */
  readonly free: readonly number[];
  /** The sightings to pass to the next pass (freed ports left out). */
  readonly leakCandidates: ReadonlyMap<number, LeakSighting>;
  /**
   * When the earliest candidate can be freed (a pass after then may free it), on the same clock
   * as `now`; undefined when there is no candidate. Run the next pass then.
   */
  readonly nextFreeAt: number | undefined;
  /** Every port some HostPort holds, ascending. */
  readonly held: readonly number[];
  /** The anomalies. */
  readonly report: RepairReport;
}

/** Decides one repair pass; see the module documentation. */
export function planRepair(input: RepairInput): RepairPlan {
  const registry = new PortRegistry();
  const restored = registry.restore(
    input.hostPorts.filter((hostPort) => hostPort.port !== 0).map((hostPort) => ({
      holder: hostPort.name,
      port: hostPort.port,
      pools: hostPort.pools,
    })),
  );
  const held = registry.snapshot();
  const reserved = new Set(input.reserved);
  const reserve = held.filter((port) => !reserved.has(port));
  const { free, leakCandidates } = trackLeaks(input, registry, reserved);
  const holdoffMs = input.holdoffMs ?? DEFAULT_LEAK_HOLDOFF_MS;
  const firstSeen = [...leakCandidates.values()].map((sighting) => sighting.firstSeenAt);
  return {
    reserve,
    free,
    leakCandidates,
    // Strictly more than the holdoff must have passed: one millisecond past it.
    nextFreeAt: firstSeen.length === 0 ? undefined : Math.min(...firstSeen) + holdoffMs + 1,
    held,
    report: {
      duplicates: restored.duplicates,
      outOfPool: restored.outsidePools.map(({ holder, port }) => ({ hostPort: holder, port })),
      invalid: restored.invalid.map(({ holder, port }) => ({ hostPort: holder, port })),
    },
  };
}

function trackLeaks(
  input: RepairInput,
  held: PortRegistry,
  reserved: ReadonlySet<number>,
): { free: number[]; leakCandidates: Map<number, LeakSighting> } {
  const holdoffMs = input.holdoffMs ?? DEFAULT_LEAK_HOLDOFF_MS;
  const recent = new Set(input.recentlyReserved ?? []);
  const disturbed = new Set(input.disturbed ?? []);
  const free: number[] = [];
  const leakCandidates = new Map<number, LeakSighting>();
  for (const port of [...reserved].sort((a, b) => a - b)) {
    // Owned, or maybe about to be: not a leak, and any earlier sightings are forgotten.
    if (held.has(port) || recent.has(port)) continue;
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
  return { free, leakCandidates };
}

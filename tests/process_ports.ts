/**
 * What a user can check about port uniqueness after a burst: every claim's phase, every
 * HostPort's port, and the allocation record's reserved ports, compared.
 *
 * @module
 */
import assert from "node:assert/strict";
import { ConfigMapRecordStore } from "../lib/allocation/mod.ts";
import type { PortRange as PortPool } from "../lib/allocator/mod.ts";
import type { KubeClients } from "../lib/kube/mod.ts";
import { eventually } from "./controller_harness.ts";

/** The state of the claims of one namespace, every HostPort, and the record. */
export interface PortAudit {
  /** Claims by phase (`""` for none yet). */
  claimPhases: Record<string, number>;
  /** Claims not `Bound`, with their phase and `Bound` condition reason, for messages. */
  unbound: string[];
  /** Bound claims whose port is not the port of the HostPort they name. */
  mismatched: string[];
  /** Every HostPort of the cluster. */
  hostPorts: number;
  /** HostPorts with no port yet. */
  unallocated: string[];
  /** Ports held by a HostPort (status.port > 0), each once. */
  held: number[];
  /** Ports held by two or more HostPorts, with their holders. */
  duplicates: { port: number; holders: string[] }[];
  /** HostPorts holding a port outside the given pools. */
  outOfPool: { hostPort: string; port: number }[];
  /** Ports the allocation record reserves. */
  reserved: number[];
  /** Reserved ports no HostPort holds: leaked until repair frees them. */
  leaked: number[];
  /** Held ports the record does not reserve (the invariant's arbiter missed them). */
  unreserved: number[];
}

function inPools(port: number, pools: readonly PortPool[]): boolean {
  return pools.some((pool) => port >= pool.start && port <= pool.end);
}

/** The ports the allocation record in `operatorNamespace` reserves, read live. */
export async function reservedPorts(
  kube: KubeClients,
  operatorNamespace: string,
): Promise<number[]> {
  const stored = await new ConfigMapRecordStore(kube.rest, { namespace: operatorNamespace })
    .read();
  return stored === undefined ? [] : stored.bits.toArray();
}

/**
 * Reads the claims of `namespace`, every HostPort and the record (in that order, so a port seen
 * held was reserved before it was written: the record is read last).
 */
export async function auditPorts(
  kube: KubeClients,
  options: { namespace: string; operatorNamespace: string; pools: readonly PortPool[] },
): Promise<PortAudit> {
  const claims = (await kube.hostPortClaims.listAll({ namespace: options.namespace })).items;
  const hostPorts = (await kube.hostPorts.listAll()).items;
  const reserved = await reservedPorts(kube, options.operatorNamespace);
  const claimPhases: Record<string, number> = {};
  const unbound: string[] = [];
  for (const claim of claims) {
    const phase = claim.status?.phase ?? "";
    claimPhases[phase] = (claimPhases[phase] ?? 0) + 1;
    if (phase !== "Bound") {
      const reason = claim.status?.conditions?.find((c) => c.type === "Bound")?.reason;
      unbound.push(`${claim.metadata.name} (${phase || "no phase"}, ${reason ?? "no condition"})`);
    }
  }
  const portOf = new Map(hostPorts.map((hp) => [hp.metadata.name ?? "", hp.status?.port ?? 0]));
  const mismatched = claims.filter((claim) =>
    claim.status?.phase === "Bound" &&
    (claim.status.port ?? 0) !== portOf.get(claim.spec.hostPortName ?? "")
  ).map((claim) => claim.metadata.name ?? "");
  const holders = new Map<number, string[]>();
  const unallocated: string[] = [];
  const outOfPool: { hostPort: string; port: number }[] = [];
  for (const hostPort of hostPorts) {
    const name = hostPort.metadata.name ?? "";
    const port = hostPort.status?.port ?? 0;
    if (port <= 0) {
      unallocated.push(name);
      continue;
    }
    holders.set(port, [...holders.get(port) ?? [], name]);
    if (!inPools(port, options.pools)) outOfPool.push({ hostPort: name, port });
  }
  const reservedSet = new Set(reserved);
  const held = [...holders.keys()].sort((a, b) => a - b);
  return {
    claimPhases,
    unbound,
    mismatched,
    hostPorts: hostPorts.length,
    unallocated,
    held,
    duplicates: [...holders].filter(([, names]) => names.length > 1)
      .map(([port, names]) => ({ port, holders: names })),
    outOfPool,
    reserved,
    leaked: reserved.filter((port) => !holders.has(port)),
    unreserved: held.filter((port) => !reservedSet.has(port)),
  };
}

/** A one-line summary of an audit, for failure messages and logs. */
export function describeAudit(audit: PortAudit): string {
  const sample = (list: readonly unknown[]) =>
    list.length > 5 ? `${list.slice(0, 5).join(", ")}, ...` : list.join(", ");
  return [
    `claims ${JSON.stringify(audit.claimPhases)}`,
    `unbound [${sample(audit.unbound)}]`,
    `mismatched [${sample(audit.mismatched)}]`,
    `HostPorts ${audit.hostPorts} (${audit.unallocated.length} without a port)`,
    `held ${audit.held.length}`,
    `duplicates ${audit.duplicates.length}`,
    `out of pool ${audit.outOfPool.length}`,
    `reserved ${audit.reserved.length}`,
    `leaked [${sample(audit.leaked)}]`,
    `unreserved [${sample(audit.unreserved)}]`,
  ].join("; ");
}

/**
 * Asserts what must hold at every moment: no port held twice, every held port inside the
 * pools and reserved in the record, every Bound claim showing its HostPort's port.
 */
export function assertPortsUnique(audit: PortAudit): void {
  assert.deepEqual(audit.duplicates, [], "no two HostPorts hold one port");
  assert.deepEqual(audit.outOfPool, [], "every held port lies in the class's pools");
  assert.deepEqual(audit.unreserved, [], "every held port is reserved in the record");
  assert.deepEqual(audit.mismatched, [], "every Bound claim shows its HostPort's port");
}

/**
 * Audits with {@linkcode eventually}, every `intervalMs` (100 ms), until `accept` holds, and
 * returns that audit.
 *
 * @throws {Error} after `timeoutMs`, naming `what` and describing the last audit
 */
export async function auditUntil(
  what: string,
  audit: () => Promise<PortAudit>,
  accept: (audit: PortAudit) => boolean,
  timeoutMs = 120_000,
  intervalMs = 100,
): Promise<PortAudit> {
  return await eventually(
    what,
    async () => {
      const current = await audit();
      if (accept(current)) return current;
      throw new Error(`last audit: ${describeAudit(current)}`); // named in the timeout error
    },
    timeoutMs,
    intervalMs,
  );
}

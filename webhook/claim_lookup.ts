/**
 * Gathering what pod admission needs: each named claim and the HostPort it names, through the
 * server's read-only lookups. Lookup failures are kept as values, never thrown.
 *
 * @module
 */
import type { HostPort, HostPortClaim } from "../lib/api/mod.ts";
import type { ClaimState, LookupResult } from "./claim_resolution.ts";
import type { AdmissionLookups } from "./lookups.ts";

/**
 * Looks up each claim `namespace/name` (all at once) and, for a claim that names a HostPort,
 * that HostPort.
 *
 * @param lookups the server's lookups
 * @param namespace the pod's namespace: claims are looked up there only
 * @param claimNames the claim names (duplicates are looked up once)
 * @returns the state of each claim, by name
 */
export async function lookupClaims(
  lookups: AdmissionLookups,
  namespace: string,
  claimNames: Iterable<string>,
): Promise<Map<string, ClaimState>> {
  const names = [...new Set(claimNames)];
  const states = await Promise.all(names.map((name) => lookupClaim(lookups, namespace, name)));
  return new Map(names.map((name, i) => [name, states[i] as ClaimState]));
}

async function lookupClaim(
  lookups: AdmissionLookups,
  namespace: string,
  name: string,
): Promise<ClaimState> {
  const claim = await settle<HostPortClaim>(() => lookups.getClaim(namespace, name));
  const hostPortName = claim.ok ? claim.value?.spec.hostPortName ?? "" : "";
  if (hostPortName === "") return { claim };
  const hostPort = await settle<HostPort>(() => lookups.getHostPort(hostPortName));
  return { claim, hostPort };
}

/** Runs a lookup and keeps its outcome as a value, whether it rejects or throws. */
export async function settle<T>(
  lookup: () => Promise<T | undefined>,
): Promise<LookupResult<T>> {
  try {
    return { ok: true, value: await lookup() };
  } catch (error) {
    return { ok: false, error };
  }
}

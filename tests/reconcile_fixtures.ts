/**
 * Test fixtures: builders with modifiers for the three kinds (cert-manager `gen` style).
 *
 * @module
 */
import {
  API_VERSION,
  type Condition,
  FINALIZER,
  type HostPort,
  type HostPortClaim,
  type HostPortClass,
  hostPortNameForClaim,
} from "../lib/api/mod.ts";

/** A change applied to a fixture. */
export type Modifier<T> = (object: T) => T;

function build<T>(object: T, modifiers: readonly Modifier<T>[]): T {
  return modifiers.reduce((current, modify) => modify(current), object);
}

/** The uid of `claim("ns1", "a")` fixtures unless changed. */
export const CLAIM_UID = "11111111-2222-3333-4444-555555555555";
/** The dynamic HostPort name of {@linkcode CLAIM_UID}. */
export const DYNAMIC_NAME = hostPortNameForClaim(CLAIM_UID);
/** A fixed time for condition transitions. */
export const T0 = "2026-01-02T15:04:05Z";
/** A later time. */
export const T1 = "2026-01-02T15:05:00Z";

/** A HostPortClass with the finalizer and pool 9000-9002. */
export function hostPortClass(
  name: string,
  ...modifiers: Modifier<HostPortClass>[]
): HostPortClass {
  return build<HostPortClass>({
    apiVersion: API_VERSION,
    kind: "HostPortClass",
    metadata: { name, uid: `uid-${name}`, generation: 1, finalizers: [FINALIZER] },
    spec: { pools: [{ start: 9000, end: 9002 }] },
  }, modifiers);
}

/** A claim `ns1/a` of class `c1` with the finalizer and no HostPort name yet. */
export function claim(...modifiers: Modifier<HostPortClaim>[]): HostPortClaim {
  return build<HostPortClaim>({
    apiVersion: API_VERSION,
    kind: "HostPortClaim",
    metadata: {
      name: "a",
      namespace: "ns1",
      uid: CLAIM_UID,
      generation: 1,
      resourceVersion: "10",
      finalizers: [FINALIZER],
    },
    spec: { hostPortClassName: "c1", hostPortName: "" },
  }, modifiers);
}

/** A HostPort of class `c1` with the finalizer, bound to `claim()` (dynamic name). */
export function hostPort(...modifiers: Modifier<HostPort>[]): HostPort {
  return build<HostPort>({
    apiVersion: API_VERSION,
    kind: "HostPort",
    metadata: { name: DYNAMIC_NAME, uid: "hp-uid", generation: 1, finalizers: [FINALIZER] },
    spec: {
      hostPortClassName: "c1",
      claimRef: {
        apiVersion: API_VERSION,
        kind: "HostPortClaim",
        namespace: "ns1",
        name: "a",
        uid: CLAIM_UID,
      },
    },
  }, modifiers);
}

/** Sets `metadata.name`. */
export function named<T extends { metadata: { name?: string | undefined } }>(
  name: string,
): Modifier<T> {
  return (object) => ({ ...object, metadata: { ...object.metadata, name } });
}

/** Removes every finalizer. */
export function noFinalizer<T extends { metadata: { finalizers?: string[] | undefined } }>(
  object: T,
): T {
  return { ...object, metadata: { ...object.metadata, finalizers: [] } };
}

/** Sets `deletionTimestamp`. */
export function deleting<T extends { metadata: { deletionTimestamp?: string | undefined } }>(
  object: T,
): T {
  return { ...object, metadata: { ...object.metadata, deletionTimestamp: T0 } };
}

/** Sets the claim's `spec.hostPortName`. */
export function withHostPortName(name: string): Modifier<HostPortClaim> {
  return (object) => ({ ...object, spec: { ...object.spec, hostPortName: name } });
}

/** Sets the claim's status. */
export function claimStatus(status: HostPortClaim["status"]): Modifier<HostPortClaim> {
  return (object) => ({ ...object, status });
}

/** Sets the HostPort's status. */
export function hostPortStatus(status: HostPort["status"]): Modifier<HostPort> {
  return (object) => ({ ...object, status });
}

/** Sets the HostPort's claimRef (undefined removes it). */
export function claimRef(ref: HostPort["spec"]["claimRef"]): Modifier<HostPort> {
  return (object) => {
    const { claimRef: _old, ...spec } = object.spec;
    return { ...object, spec: ref === undefined ? spec : { ...spec, claimRef: ref } };
  };
}

/** Sets the HostPort's class. */
export function ofClass(name: string): Modifier<HostPort> {
  return (object) => ({ ...object, spec: { ...object.spec, hostPortClassName: name } });
}

/** Sets the class's pools. */
export function pools(...ranges: [number, number][]): Modifier<HostPortClass> {
  return (object) => ({
    ...object,
    spec: { pools: ranges.map(([start, end]) => ({ start, end })) },
  });
}

/** A condition at {@linkcode T0}. */
export function condition(
  type: string,
  status: "True" | "False",
  reason: string,
  message: string,
): Condition {
  return { type, status, reason, message, lastTransitionTime: T0, observedGeneration: 1 };
}

/**
 * Builders shared by the webhook tests: claims, HostPorts, classes, pods, AdmissionReviews,
 * in-memory lookups, and the decoding of a response's patch. Test-only: named `_test.ts` so that it is no production module (it holds no
 * test of its own).
 *
 * @module
 */
import {
  API_VERSION,
  FINALIZER,
  type HostPort,
  type HostPortClaim,
  type HostPortClass,
} from "../lib/api/mod.ts";
import type { AdmissionLookups } from "./lookups.ts";
import jsonpatch from "fast-json-patch";
import type { AdmissionResponse, JsonPatchOp } from "./review.ts";

/**
 * Decodes the base64 `patch` of an AdmissionResponse back to operations.
 *
 * @param base64 the encoded patch
 * @returns the parsed JSON (not validated)
 * @throws {SyntaxError} when the text is not base64 of JSON
 */
export function decodeJsonPatch(base64: string): unknown {
  return JSON.parse(
    new TextDecoder("utf-8", { fatal: true }).decode(Uint8Array.fromBase64(base64)),
  );
}

/**
 * Applies operations to a copy of `document`, every operation validated.
 *
 * @throws {Error} when a path does not resolve or a `test` fails
 */
export function applyJsonPatch<T>(document: T, ops: readonly JsonPatchOp[]): T {
  const copy = JSON.parse(JSON.stringify(document)) as T;
  return jsonpatch.applyPatch(copy, ops as JsonPatchOp[], true, false).newDocument;
}

/** Options of {@linkcode claim}. */
export interface ClaimOptions {
  namespace?: string;
  className?: string;
  hostPortName?: string;
  uid?: string;
  deleting?: boolean;
  finalizer?: boolean;
}

/** A HostPortClaim; by default in `ns1`, class `c1`, bound to `hpc-<uid>`, with the finalizer. */
export function claim(name: string, options: ClaimOptions = {}): HostPortClaim {
  const uid = options.uid ?? `uid-${name}`;
  const result: HostPortClaim = {
    apiVersion: API_VERSION,
    kind: "HostPortClaim",
    metadata: {
      name,
      namespace: options.namespace ?? "ns1",
      uid,
      finalizers: options.finalizer === false ? [] : [FINALIZER],
    },
    spec: {
      hostPortClassName: options.className ?? "c1",
      hostPortName: options.hostPortName ?? `hpc-${uid}`,
    },
    status: { phase: "Bound" },
  };
  if (options.deleting === true) result.metadata.deletionTimestamp = "2026-01-01T00:00:00Z";
  return result;
}

/** Options of {@linkcode hostPort}. */
export interface HostPortOptions {
  port?: number;
  phase?: "Pending" | "Allocated" | "Deleting";
  className?: string;
  claimRef?: { namespace?: string; name?: string; uid?: string } | null;
  deleting?: boolean;
}

/** A HostPort bound to claim `ns1/<claim>` (see {@linkcode claim}), Allocated with `port`. */
export function hostPortFor(
  claimName: string,
  port: number,
  options: HostPortOptions = {},
): HostPort {
  return hostPort(`hpc-uid-${claimName}`, {
    port,
    claimRef: { namespace: "ns1", name: claimName, uid: `uid-${claimName}` },
    ...options,
  });
}

/** A HostPort; Allocated when `port` is given, else Pending; no claimRef unless given. */
export function hostPort(name: string, options: HostPortOptions = {}): HostPort {
  const port = options.port ?? 0;
  const result: HostPort = {
    apiVersion: API_VERSION,
    kind: "HostPort",
    metadata: { name, finalizers: [FINALIZER] },
    spec: { hostPortClassName: options.className ?? "c1" },
    status: { phase: options.phase ?? (port > 0 ? "Allocated" : "Pending"), port },
  };
  if (options.claimRef !== undefined && options.claimRef !== null) {
    result.spec.claimRef = options.claimRef;
  }
  if (options.deleting === true) result.metadata.deletionTimestamp = "2026-01-01T00:00:00Z";
  return result;
}

/** A HostPortClass with the given pools. */
export function hostPortClass(
  name: string,
  pools: { start: number; end: number }[],
): HostPortClass {
  return {
    apiVersion: API_VERSION,
    kind: "HostPortClass",
    metadata: { name, finalizers: [FINALIZER] },
    spec: { pools },
  };
}

/** A container port as JSON. */
export type PortJson = Record<string, unknown> & { containerPort: number };

/** Options of {@linkcode pod}. */
export interface PodOptions {
  name?: string;
  generateName?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  containers?: PortJson[][];
  initContainers?: PortJson[][];
  hostNetwork?: boolean;
  deleting?: boolean;
  /** `status.phase`, when set. */
  phase?: string;
}

/** A pod as JSON, with one unknown field in metadata, spec, container and port each. */
export function pod(options: PodOptions = {}): Record<string, unknown> {
  const metadata: Record<string, unknown> = { namespace: "ns1", futureMetadataField: { a: 1 } };
  if (options.name !== undefined) metadata.name = options.name;
  else if (options.generateName === undefined) metadata.name = "p";
  if (options.generateName !== undefined) metadata.generateName = options.generateName;
  if (options.labels !== undefined) metadata.labels = options.labels;
  if (options.annotations !== undefined) metadata.annotations = options.annotations;
  if (options.deleting === true) metadata.deletionTimestamp = "2026-01-01T00:00:00Z";
  const toContainers = (lists: PortJson[][], prefix: string) =>
    lists.map((ports, i) => ({
      name: `${prefix}${i}`,
      image: "x",
      futureContainerField: true,
      ports,
    }));
  const spec: Record<string, unknown> = {
    futureSpecField: "keep me",
    containers: toContainers(options.containers ?? [[]], "c"),
  };
  if (options.initContainers !== undefined) {
    spec.initContainers = toContainers(options.initContainers, "i");
  }
  if (options.hostNetwork !== undefined) spec.hostNetwork = options.hostNetwork;
  const pod: Record<string, unknown> = { apiVersion: "v1", kind: "Pod", metadata, spec };
  if (options.phase !== undefined) pod.status = { phase: options.phase };
  return pod;
}

/** A named TCP port. */
export function port(name: string | undefined, containerPort: number, hostPort?: number): PortJson {
  const result: PortJson = { containerPort, protocol: "TCP", futurePortField: "x" };
  if (name !== undefined) result.name = name;
  if (hostPort !== undefined) result.hostPort = hostPort;
  return result;
}

/** What {@linkcode admissionReview} builds a request for. */
export interface ReviewOptions {
  kind?: { group: string; version: string; kind: string };
  operation?: "CREATE" | "UPDATE" | "DELETE" | "CONNECT";
  object?: unknown;
  oldObject?: unknown;
  namespace?: string;
  uid?: string;
  /** `request.userInfo.username`; default `tester`. */
  username?: string;
  /** `request.subResource`, when set. */
  subResource?: string;
}

/** An AdmissionReview request body; a pod CREATE in `ns1` by default. */
export function admissionReview(options: ReviewOptions = {}): Record<string, unknown> {
  const kind = options.kind ?? { group: "", version: "v1", kind: "Pod" };
  const request: Record<string, unknown> = {
    uid: options.uid ?? "req-1",
    kind,
    resource: { group: kind.group, version: kind.version, resource: `${kind.kind.toLowerCase()}s` },
    operation: options.operation ?? "CREATE",
    userInfo: { username: options.username ?? "tester" },
    object: options.object ?? null,
    oldObject: options.oldObject ?? null,
  };
  if (options.namespace !== undefined) request.namespace = options.namespace;
  if (options.subResource !== undefined) request.subResource = options.subResource;
  return { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", request };
}

/** The kind of each of the three CRDs, for {@linkcode admissionReview}. */
export const CRD_KIND = {
  HostPort: { group: "hostport.rmb938.com", version: "v1alpha1", kind: "HostPort" },
  HostPortClaim: { group: "hostport.rmb938.com", version: "v1alpha1", kind: "HostPortClaim" },
  HostPortClass: { group: "hostport.rmb938.com", version: "v1alpha1", kind: "HostPortClass" },
} as const;

/** In-memory lookups over fixed objects; records every call. */
export interface FakeLookups extends AdmissionLookups {
  /** Calls made, as `claim ns/name`, `hostPort name` or `classes`. */
  readonly calls: string[];
  /** Replaceable contents. */
  claims: HostPortClaim[];
  hostPorts: HostPort[];
  classes: HostPortClass[];
}

/** Builds {@linkcode FakeLookups}. */
export function fakeLookups(
  contents: { claims?: HostPortClaim[]; hostPorts?: HostPort[]; classes?: HostPortClass[] } = {},
): FakeLookups {
  const lookups: FakeLookups = {
    calls: [],
    claims: contents.claims ?? [],
    hostPorts: contents.hostPorts ?? [],
    classes: contents.classes ?? [],
    getClaim(namespace, name) {
      lookups.calls.push(`claim ${namespace}/${name}`);
      return Promise.resolve(structuredClone(
        lookups.claims.find((c) => c.metadata.namespace === namespace && c.metadata.name === name),
      ));
    },
    getHostPort(name) {
      lookups.calls.push(`hostPort ${name}`);
      return Promise.resolve(
        structuredClone(lookups.hostPorts.find((h) => h.metadata.name === name)),
      );
    },
    listHostPortClasses() {
      lookups.calls.push("classes");
      return Promise.resolve(structuredClone(lookups.classes));
    },
  };
  return lookups;
}

/** Lookups whose every call rejects with `message`. */
export function failingLookups(message: string): AdmissionLookups {
  const fail = () => Promise.reject(new Error(message));
  return { getClaim: fail, getHostPort: fail, listHostPortClasses: fail };
}

/** The operations of a response's patch (`[]` when it has none). */
export function patchOf(response: AdmissionResponse): JsonPatchOp[] {
  if (response.patch === undefined) return [];
  return decodeJsonPatch(response.patch) as JsonPatchOp[];
}

/**
 * Operations in path order: a pod patch's operations touch distinct paths, none inside
 * another, so their order does not change the patched pod.
 */
export function sortedOps(ops: readonly JsonPatchOp[]): JsonPatchOp[] {
  return [...ops].sort((a, b) => a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
}

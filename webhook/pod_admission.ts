/**
 * The pod webhook's decision, pure (seed 3.5): from the pod, its claim annotations and the
 * looked-up claims to a patch (a diff, so unknown fields are never touched) or field errors. Port
 * rules cover `initContainers` too (native sidecars, seed 5.4 #23).
 *
 * @module
 */
import * as z from "zod";
import jsonpatch from "fast-json-patch";
import {
  duplicate,
  type FieldError,
  fieldPath,
  forbidden,
  goQuote,
  internalError,
  invalid,
  notFound,
  tooMany,
} from "./field_errors.ts";
import type { Settled } from "./lookups.ts";
import type { JsonPatchOp } from "./review.ts";
import {
  claimRefMatches,
  FINALIZER,
  hasClaimRef,
  HOST_PORT_PHASE,
  type HostPort,
  type HostPortClaim,
  POD_LABEL_KEY,
  POD_LABEL_VALUE,
  POD_MESSAGE,
  portAnnotationKey,
  portNameOfClaimAnnotation,
  TERMINAL_POD_PHASES,
} from "../lib/api/mod.ts";

const ContainerSchema = z.object({
  name: z.string().optional(),
  ports: z.array(
    z.object({
      name: z.string().optional(),
      containerPort: z.int(),
      hostPort: z.int().optional(),
      protocol: z.string().optional(),
      hostIP: z.string().optional(),
    }).loose(),
  ).optional(),
}).loose();

/** Schema of a Pod as the webhook reads it; unknown fields are kept. */
export const PodSchema = z.object({
  metadata: z.object({
    name: z.string().optional(),
    generateName: z.string().optional(),
    namespace: z.string().optional(),
    labels: z.record(z.string(), z.string()).optional(),
    annotations: z.record(z.string(), z.string()).optional(),
    ownerReferences: z.array(z.object({}).loose()).optional(),
    deletionTimestamp: z.string().optional(),
  }).loose().optional(),
  spec: z.object({
    hostNetwork: z.boolean().optional(),
    containers: z.array(ContainerSchema).optional(),
    initContainers: z.array(ContainerSchema).optional(),
  }).loose().optional(),
  status: z.object({ phase: z.string().optional() }).loose().optional(),
}).loose();
/** A Pod, as far as the webhook reads it. */
export type Pod = z.infer<typeof PodSchema>;

/** Most claim annotations one pod may carry; each costs lookups, so the count is bounded. */
export const MAX_CLAIMS_PER_POD = 64;

/** A claim annotation; `portName` is `""` when the key is the bare prefix. */
interface ClaimAnnotation {
  readonly key: string;
  readonly portName: string;
  readonly claimName: string;
  readonly path: string;
}

/** The claim annotations, sorted by port name (a stable error order); `valid` ones name both. */
function readPodClaims(pod: Pod) {
  const all: ClaimAnnotation[] = [];
  for (const [key, claimName] of Object.entries(pod.metadata?.annotations ?? {})) {
    const portName = portNameOfClaimAnnotation(key);
    if (portName !== undefined) {
      all.push({ key, portName, claimName, path: fieldPath("metadata", "annotations", key) });
    }
  }
  all.sort((a, b) => compare(a.portName, b.portName) || compare(a.key, b.key));
  return {
    all,
    valid: all.filter((claim) => claim.portName !== "" && claim.claimName !== ""),
    tooMany: all.length > MAX_CLAIMS_PER_POD
      ? tooMany(fieldPath("metadata", "annotations"), all.length, MAX_CLAIMS_PER_POD)
      : undefined,
  };
}

/** Orders strings by UTF-16 code units (unlike `localeCompare`, the same everywhere). */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * One container port; `nodePort` is what it takes on the node: `hostPort`, or `containerPort` for
 * a hostNetwork pod (the API defaults `hostPort` to it before admission), or 0.
 */
export interface PodPort {
  readonly path: string;
  readonly pointer: string;
  readonly name: string;
  readonly containerPort: number;
  readonly nodePort: number;
}

/** Every port of `spec.containers`, then of `spec.initContainers` (ephemeral ones have none). */
export function listPodPorts(pod: Pod): PodPort[] {
  const hostNetwork = pod.spec?.hostNetwork === true;
  return (["containers", "initContainers"] as const).flatMap((list) =>
    (pod.spec?.[list] ?? []).flatMap((container, c) =>
      (container.ports ?? []).map((port, p) => ({
        path: `spec.${list}[${c}].ports[${p}]`,
        pointer: `/spec/${list}/${c}/ports/${p}`,
        name: port.name ?? "",
        containerPort: port.containerPort,
        nodePort: port.hostPort ? port.hostPort : hostNetwork ? port.containerPort : 0,
      }))
    )
  );
}

/** Detail of the hostPort refusal for hostNetwork pods. */
export const HOST_NETWORK_DETAIL = `${POD_MESSAGE.hostPortsForbidden}: a hostNetwork pod ` +
  "uses each container port as a host port, so each port must be named and claimed with a " +
  "claim.hostport.rmb938.com/<port name> annotation";

/**
 * The port rules: a port that takes a node port must be claimed, and a claimed name must name
 * one port only; unclaimed ports need neither a name nor a unique one (seed 5.4 #22).
 */
function checkPorts(
  ports: readonly PodPort[],
  claimed: ReadonlySet<string>,
  hostNetwork: boolean,
): FieldError[] {
  const errors: FieldError[] = [];
  const seen = new Set<string>();
  for (const port of ports) {
    const isClaimed = port.name !== "" && claimed.has(port.name);
    if (isClaimed && seen.has(port.name)) {
      errors.push(duplicate(`${port.path}.name`, port.name));
    }
    if (isClaimed) seen.add(port.name);
    if (port.nodePort > 0 && !isClaimed) {
      const detail = hostNetwork ? HOST_NETWORK_DETAIL : POD_MESSAGE.hostPortsForbidden;
      errors.push(invalid(`${port.path}.hostPort`, port.nodePort, detail));
    }
  }
  return errors;
}

/**
 * What the webhook sets on an admitted pod: annotations, the label the operator watches pods by,
 * and each port's host port (also as `containerPort` for hostNetwork pods, which need them equal).
 */
export interface PodMutation {
  readonly annotations?: ReadonlyMap<string, string>;
  readonly assignments?: readonly PortAssignment[];
  readonly label?: boolean;
}

interface PortAssignment {
  readonly port: PodPort;
  readonly hostPort: number;
  readonly setContainerPort: boolean;
}

/** The pod with the mutation applied, as a copy. */
export function mutatePod(pod: Pod, mutation: PodMutation): Pod {
  const mutated = asJson(pod);
  const annotations = [...mutation.annotations ?? []];
  if (annotations.length > 0 || mutation.label === true) mutated.metadata ??= {};
  if (annotations.length > 0) {
    mutated.metadata!.annotations = {
      ...mutated.metadata!.annotations,
      ...Object.fromEntries(annotations),
    };
  }
  if (mutation.label === true) {
    mutated.metadata!.labels = { ...mutated.metadata!.labels, [POD_LABEL_KEY]: POD_LABEL_VALUE };
  }
  for (const { port, hostPort, setContainerPort } of mutation.assignments ?? []) {
    const target = jsonpatch.getValueByPointer(mutated, port.pointer) as Record<string, unknown>;
    if (setContainerPort) target.containerPort = hostPort;
    target.hostPort = hostPort;
  }
  return mutated;
}

/** The mutated pod and its JSON Patch: the difference between the pod and the mutated pod. */
function mutationPatch(pod: Pod, mutation: PodMutation): { patch: JsonPatchOp[]; mutated: Pod } {
  const original = asJson(pod); // one copy for both sides: mutatePod copies it again
  const mutated = mutatePod(original, mutation);
  return { patch: jsonpatch.compare(original, mutated), mutated };
}

/** The JSON Patch that turns `original` into `mutated` (none when they are equal). */
export function podPatch(original: Pod, mutated: Pod): JsonPatchOp[] {
  return jsonpatch.compare(asJson(original), asJson(mutated));
}

/** A JSON copy: a member `undefined` in memory is absent for the API server, so it is `add`ed. */
function asJson(pod: Pod): Pod {
  return JSON.parse(JSON.stringify(pod));
}

/**
 * The decision: admit with a patch (possibly empty) and warnings, or refuse with errors,
 * `retryable` when every error is a claim on its way to a port (looking again may admit it).
 */
export type PodAdmission =
  | { allowed: true; patch: JsonPatchOp[]; mutated?: Pod; warnings: string[] }
  | { allowed: false; errors: FieldError[]; retryable: boolean };

/** What was looked up for one claim name: the claim and, if it names one, its HostPort. */
export interface ClaimState {
  readonly claim: Settled<HostPortClaim | undefined>;
  readonly hostPort?: Settled<HostPort | undefined>;
}

/** The claim names a new pod needs looked up (none when it has too many: it is refused). */
export function claimsToLookUp(pod: Pod): string[] {
  const claims = readPodClaims(pod);
  if (claims.tooMany !== undefined) return [];
  return [...new Set(claims.valid.map((claim) => claim.claimName))];
}

/**
 * Decides a new pod from the states of the claims {@linkcode claimsToLookUp} named (in the pod's
 * namespace); every claim is resolved, so users see all problems at once. A claim naming no port
 * is refused (seed 5.4 #24), with `Port name must be set` on the unnamed ports likely meant.
 */
export function admitNewPod(
  pod: Pod,
  namespace: string,
  states: ReadonlyMap<string, ClaimState>,
): PodAdmission {
  const claims = readPodClaims(pod);
  const ports = listPodPorts(pod);
  const findPort = (name: string) => ports.find((port) => port.name === name);
  const hostNetwork = pod.spec?.hostNetwork === true;
  const errors = claims.tooMany === undefined ? [] : [claims.tooMany];
  for (const claim of claims.all) {
    if (claim.portName === "") {
      errors.push(invalid(claim.path, claim.key, POD_MESSAGE.annotationNeedsPortName));
    }
    if (claim.claimName === "") {
      errors.push(invalid(claim.path, "", POD_MESSAGE.annotationNeedsClaimName));
    }
    if (claim.portName === "" || findPort(claim.portName) !== undefined) continue;
    errors.push(invalid(claim.path, claim.claimName, missingPortDetail(claim.portName)));
  }
  if (claims.all.some((claim) => claim.portName !== "" && !findPort(claim.portName))) {
    for (const port of ports.filter((port) => port.name === "")) {
      errors.push(invalid(`${port.path}.name`, "", POD_MESSAGE.portNameRequired));
    }
  }
  // Ports some claim annotation names (valid or not) may take host ports.
  const claimed = new Set(claims.all.map((claim) => claim.portName).filter((name) => name !== ""));
  errors.push(...checkPorts(ports, claimed, hostNetwork));
  if (claims.tooMany !== undefined) return { allowed: false, errors, retryable: false };

  const structural = errors.length;
  const annotations = new Map<string, string>();
  const assignments: PortAssignment[] = [];
  let retryable = true;
  for (const claim of claims.valid) {
    const resolved = resolveClaim(claim, namespace, states.get(claim.claimName) ?? NOT_LOOKED_UP);
    if (typeof resolved !== "number") {
      errors.push(resolved.error);
      retryable &&= resolved.transient;
      continue;
    }
    const port = findPort(claim.portName);
    if (port === undefined) continue; // already reported as a missing port
    annotations.set(portAnnotationKey(claim.portName), String(resolved));
    assignments.push({ port, hostPort: resolved, setContainerPort: hostNetwork });
  }
  if (errors.length > 0) {
    return { allowed: false, errors, retryable: retryable && structural === 0 };
  }
  const warnings = assignments
    .filter(({ port, hostPort, setContainerPort }) =>
      setContainerPort && port.containerPort !== hostPort
    )
    .map(({ port, hostPort }) =>
      `${port.path}.containerPort: set from ${port.containerPort} to ${hostPort}, because a ` +
      `hostNetwork pod listens on its host port; read it from the annotation ` +
      `port.hostport.rmb938.com/${port.name}`
    );
  const label = assignments.length > 0;
  return { allowed: true, ...mutationPatch(pod, { annotations, assignments, label }), warnings };
}

/** Detail when a claim annotation names a port that does not exist. */
export function missingPortDetail(portName: string): string {
  return `no container or init container port is named ${goQuote(portName)}`;
}

const NOT_LOOKED_UP: ClaimState = {
  claim: { ok: false, error: new Error("the claim was not looked up") },
};

/**
 * Why `claim` may not use `hostPort`: bound to another claim (seed 5.2 #10; one naming no claim
 * yet is fine), or of another class. Shared by the pod and the claim webhooks.
 */
export function bindingProblems(hostPort: HostPort, claim: HostPortClaim): string[] {
  const problems: string[] = [];
  const ref = hostPort.spec.claimRef;
  if (hasClaimRef(ref) && !claimRefMatches(ref, claim)) {
    problems.push("hostport is bound to another hostPortClaim");
  }
  if (hostPort.spec.hostPortClassName !== claim.spec.hostPortClassName) {
    problems.push(
      `hostport is of hostPortClass ${goQuote(hostPort.spec.hostPortClassName)}, ` +
        `not ${goQuote(claim.spec.hostPortClassName)}`,
    );
  }
  return problems;
}

/** A claim's port, or the error at its annotation and whether it may clear up shortly. */
type Resolution = number | { error: FieldError; transient: boolean };

function resolveClaim(claim: ClaimAnnotation, namespace: string, state: ClaimState): Resolution {
  const { path, claimName } = claim;
  // A failed read may succeed on the next attempt (the API server was busy): transient.
  if (!state.claim.ok) return { error: internalError(path, state.claim.error), transient: true };
  const stored = state.claim.value;
  // Lookups go to the pod's namespace only; anything else is treated as absent.
  if (stored === undefined || (stored.metadata.namespace ?? namespace) !== namespace) {
    return { error: notFound(path, claimName), transient: false };
  }
  // A deleting claim takes no new pods, so its finalizer can be removed once its pods are gone
  // without racing new admissions (architecture.md "Release", seed 5.3 #16).
  if (stored.metadata.deletionTimestamp !== undefined) {
    return { error: invalid(path, claimName, POD_MESSAGE.claimDeleting), transient: false };
  }
  const hostPortName = stored.spec.hostPortName ?? "";
  // The operator adds our finalizer when it first reconciles the claim: until then, not bound.
  if (!(stored.metadata.finalizers ?? []).includes(FINALIZER) || hostPortName === "") {
    return { error: invalid(path, claimName, POD_MESSAGE.claimNotBound), transient: true };
  }
  const at = `${path}.hostPort`;
  const lookup = state.hostPort;
  if (lookup === undefined) {
    return { error: internalError(at, "the HostPort was not looked up"), transient: false };
  }
  if (!lookup.ok) return { error: internalError(at, lookup.error), transient: true };
  const hostPort = lookup.value;
  if (hostPort === undefined) return { error: notFound(at, hostPortName), transient: false };
  const [problem] = bindingProblems(hostPort, {
    ...stored,
    metadata: { ...stored.metadata, namespace },
  });
  if (problem !== undefined) return { error: invalid(at, hostPortName, problem), transient: false };
  const port = hostPort.status?.port ?? 0;
  const deleting = hostPort.metadata.deletionTimestamp !== undefined;
  if (deleting || hostPort.status?.phase !== HOST_PORT_PHASE.Allocated || port <= 0) {
    // Bound but not written yet is worth a short wait; a deleting HostPort is not (seed S6).
    const error = invalid(at, hostPortName, POD_MESSAGE.hostPortNotAllocated);
    return { error, transient: !deleting };
  }
  return port;
}

/**
 * Decides a pod UPDATE (of the pod or its `status`) without looking claims up again (seed 5.4
 * #26). While the stored pod can run, its claims hold its ports, so they are frozen (seed S15)
 * and the port annotations the webhook wrote are put back; a finished pod's are not checked.
 */
export function admitPodUpdate(pod: Pod, oldPod: Pod): PodAdmission {
  if (TERMINAL_POD_PHASES.has(oldPod.status?.phase ?? "")) {
    return { allowed: true, patch: [], warnings: [] };
  }
  const now = claimEntries(pod);
  const before = claimEntries(oldPod);
  const portName = (key: string) => portNameOfClaimAnnotation(key) ?? "";
  const keys = [...new Set([...now.keys(), ...before.keys()])]
    .sort((a, b) => compare(portName(a), portName(b)) || compare(a, b));
  const errors: FieldError[] = [];
  const restore = new Map<string, string>();
  for (const key of keys) {
    const [value, old] = [now.get(key), before.get(key)];
    const path = fieldPath("metadata", "annotations", key);
    const portKey = portAnnotationKey(portName(key));
    const written = oldPod.metadata?.annotations?.[portKey];
    if (value === old) {
      if (written !== undefined) restore.set(portKey, written);
    } else if (value === undefined) {
      // The port still holds its host port while the pod can run: say so on the port itself.
      const detail = pod.spec?.hostNetwork === true
        ? HOST_NETWORK_DETAIL
        : POD_MESSAGE.hostPortsForbidden;
      const held = listPodPorts(pod)
        .filter((port) => portName(key) !== "" && port.name === portName(key) && port.nodePort > 0)
        .map((port) => invalid(`${port.path}.hostPort`, port.nodePort, detail));
      errors.push(...(held.length > 0 ? held : [forbidden(path, CLAIM_REMOVED)]));
    } else if (old === undefined) {
      errors.push(forbidden(path, "cannot add a claim to an existing pod"));
    } else {
      errors.push(invalid(path, value, "cannot change the claim of an existing pod"));
    }
  }
  if (errors.length > 0) return { allowed: false, errors, retryable: false };
  return { allowed: true, ...mutationPatch(pod, { annotations: restore }), warnings: [] };
}

/** Detail when an update removes a claim annotation whose port holds no host port. */
const CLAIM_REMOVED = "cannot remove the claim of a pod that can still run";

function claimEntries(pod: Pod): Map<string, string> {
  const entries = Object.entries(pod.metadata?.annotations ?? {});
  return new Map(entries.filter(([key]) => portNameOfClaimAnnotation(key) !== undefined));
}

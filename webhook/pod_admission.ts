/**
 * The pod webhook's decision, pure (seed 3.5): from the pod, its claim annotations and the
 * looked-up claims to a mutation (patched as a diff, so unknown fields are never touched) or field
 * errors. Port rules cover `initContainers` too (native sidecars, seed 5.4 #23).
 *
 * @module
 */
import * as z from "zod";
import {
  duplicate,
  type FieldError,
  forbidden,
  goQuote,
  internalError,
  invalid,
  notFound,
  tooMany,
} from "./field_errors.ts";
import type { Settled } from "./lookups.ts";
import {
  CLAIM_ANNOTATION_PREFIX,
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
  TERMINAL_POD_PHASES,
} from "../lib/api/mod.ts";

const ContainerSchema = z.object({
  ports: z.array(z.object({
    name: z.string().optional(),
    containerPort: z.int(),
    hostPort: z.int().optional(),
  })).optional(),
});

/**
 * Schema of a Pod as the webhook reads it. Fields it does not read are dropped, not copied (less
 * to allocate per admission): the patch only ever touches fields read here.
 */
export const PodSchema = z.object({
  metadata: z.object({
    name: z.string().optional(),
    generateName: z.string().optional(),
    namespace: z.string().optional(),
    labels: z.record(z.string(), z.string()).optional(),
    annotations: z.record(z.string(), z.string()).optional(),
    ownerReferences: z.array(z.object({}).loose()).optional(),
  }).optional(),
  spec: z.object({
    hostNetwork: z.boolean().optional(),
    containers: z.array(ContainerSchema).optional(),
    initContainers: z.array(ContainerSchema).optional(),
  }).optional(),
  status: z.object({ phase: z.string().optional() }).optional(),
});
/** A Pod, as far as the webhook reads it. */
export type Pod = z.infer<typeof PodSchema>;

/** Most claim annotations one pod may carry; each costs lookups, so the count is bounded. */
const MAX_CLAIMS_PER_POD = 64;

/**
 * A `<prefix><portName>: <name>` annotation naming a claim or a claim template; `portName` is `""`
 * when the key is the bare prefix.
 */
export interface PortAnnotation {
  readonly key: string;
  readonly portName: string;
  readonly name: string;
  readonly path: string;
}

/**
 * The pod's annotations with `prefix`, sorted by key (so by port name: a stable error order), and
 * the error when there are more than {@linkcode MAX_CLAIMS_PER_POD}.
 */
export function readPortAnnotations(
  pod: Pod,
  prefix: string,
): { all: PortAnnotation[]; tooMany: FieldError | undefined } {
  const annotations = pod.metadata?.annotations ?? {};
  const all = Object.keys(annotations).filter((key) => key.startsWith(prefix)).sort()
    .map((key) => ({
      key,
      portName: key.slice(prefix.length),
      name: annotations[key] ?? "",
      path: `metadata.annotations.${key}`,
    }));
  if (all.length <= MAX_CLAIMS_PER_POD) return { all, tooMany: undefined };
  return { all, tooMany: tooMany("metadata.annotations", all.length, MAX_CLAIMS_PER_POD) };
}

/**
 * A pod's claim annotations, sorted by port name (a stable error order); `valid` ones name both,
 * and `names` are the claims to look up (none when there are too many: the pod is refused).
 */
export interface PodClaims {
  readonly all: readonly PortAnnotation[];
  readonly valid: readonly PortAnnotation[];
  readonly tooMany: FieldError | undefined;
  readonly names: readonly string[];
}

/** Reads a pod's {@linkcode PodClaims}, once per admission. */
export function readPodClaims(pod: Pod): PodClaims {
  const { all, tooMany } = readPortAnnotations(pod, CLAIM_ANNOTATION_PREFIX);
  const valid = all.filter((claim) => claim.portName !== "" && claim.name !== "");
  const names = tooMany === undefined ? [...new Set(valid.map((claim) => claim.name))] : [];
  return { all, valid, tooMany, names };
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
 * What the webhook sets on an admitted pod: its name, annotations, the label the operator watches
 * pods by, and host ports (also as `containerPort` for hostNetwork pods, which need them equal).
 */
export interface PodMutation {
  readonly name?: string | undefined;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly label?: boolean;
  readonly assignments?: readonly PortAssignment[];
}

interface PortAssignment {
  readonly port: PodPort;
  readonly hostPort: number;
}

/**
 * The pod with `mutation` applied, as a copy: the objects it changes are copied, the rest is
 * shared with `pod` (so a diff skips it at once).
 */
export function mutatePod(pod: Pod, mutation: PodMutation): Pod {
  const { name, annotations = {}, label = false, assignments = [] } = mutation;
  const annotate = Object.keys(annotations).length > 0;
  const mutated = { ...pod };
  if (name !== undefined || annotate || label) {
    const metadata = mutated.metadata = { ...pod.metadata };
    if (name !== undefined) metadata.name = name;
    if (annotate) metadata.annotations = { ...metadata.annotations, ...annotations };
    if (label) metadata.labels = { ...metadata.labels, [POD_LABEL_KEY]: POD_LABEL_VALUE };
  }
  for (const { port, hostPort } of assignments) {
    // Copies the spec, the list, the container, its ports and the port (no escapes in a pointer).
    let target: Record<string, unknown> = mutated;
    for (const key of port.pointer.split("/").slice(1)) {
      const next = target[key] as object;
      target = target[key] = (Array.isArray(next) ? [...next] : { ...next }) as typeof target;
    }
    if (pod.spec?.hostNetwork === true) target.containerPort = hostPort;
    target.hostPort = hostPort;
  }
  return mutated;
}

/**
 * The decision: admit with a mutation (possibly none) and warnings, or refuse with errors,
 * `retryable` when every error is a claim on its way to a port (looking again may admit it).
 */
export type PodAdmission =
  | { allowed: true; mutation: PodMutation; warnings: string[] }
  | { allowed: false; errors: FieldError[]; retryable: boolean };

/** What was looked up for one claim name: the claim and, if it names one, its HostPort. */
export interface ClaimState {
  readonly claim: Settled<HostPortClaim | undefined>;
  readonly hostPort?: Settled<HostPort | undefined>;
}

/**
 * Decides a new pod from the state of every claim `claims.names` names, in the pod's namespace,
 * as `lookupClaims` reads them; each is resolved, so users see all problems at once. A claim
 * naming no port is refused (seed 5.4 #24), with `Port name must be set` on the unnamed ports.
 */
export function admitNewPod(
  pod: Pod,
  claims: PodClaims,
  namespace: string,
  states: ReadonlyMap<string, ClaimState>,
): PodAdmission {
  const ports = listPodPorts(pod);
  const findPort = (name: string) => ports.find((port) => port.name === name);
  const hostNetwork = pod.spec?.hostNetwork === true;
  const errors = claims.tooMany === undefined ? [] : [claims.tooMany];
  const claimed = new Set<string>();
  let portMissing = false;
  for (const claim of claims.all) {
    if (claim.portName === "") {
      errors.push(invalid(claim.path, claim.key, POD_MESSAGE.annotationNeedsPortName));
    }
    if (claim.name === "") {
      errors.push(invalid(claim.path, "", POD_MESSAGE.annotationNeedsClaimName));
    }
    if (claim.portName === "") continue;
    // Ports some claim annotation names (valid or not) may take host ports.
    claimed.add(claim.portName);
    if (findPort(claim.portName) !== undefined) continue;
    portMissing = true;
    const detail = `no container or init container port is named ${goQuote(claim.portName)}`;
    errors.push(invalid(claim.path, claim.name, detail));
  }
  if (portMissing) {
    for (const port of ports.filter((port) => port.name === "")) {
      errors.push(invalid(`${port.path}.name`, "", POD_MESSAGE.portNameRequired));
    }
  }
  // A claimed port must have a name that one port only has; unclaimed ports need neither a name
  // nor a unique one, but may take no node port (seed 5.4 #22).
  const seen = new Set<string>();
  for (const port of ports) {
    const isClaimed = port.name !== "" && claimed.has(port.name);
    if (isClaimed && seen.has(port.name)) errors.push(duplicate(`${port.path}.name`, port.name));
    if (isClaimed) seen.add(port.name);
    if (port.nodePort > 0 && !isClaimed) {
      const detail = hostNetwork ? HOST_NETWORK_DETAIL : POD_MESSAGE.hostPortsForbidden;
      errors.push(invalid(`${port.path}.hostPort`, port.nodePort, detail));
    }
  }
  if (claims.tooMany !== undefined) return { allowed: false, errors, retryable: false };

  const structural = errors.length;
  const annotations: Record<string, string> = {};
  const assignments: PortAssignment[] = [];
  const warnings: string[] = [];
  let retryable = true;
  for (const claim of claims.valid) {
    const resolved = resolveClaim(claim, namespace, states.get(claim.name)!);
    if (typeof resolved !== "number") {
      errors.push(resolved.error);
      retryable &&= resolved.transient;
      continue;
    }
    const port = findPort(claim.portName);
    if (port === undefined) continue; // already reported as a missing port
    annotations[portAnnotationKey(claim.portName)] = String(resolved);
    assignments.push({ port, hostPort: resolved });
    if (hostNetwork && port.containerPort !== resolved) {
      warnings.push(
        `${port.path}.containerPort: set from ${port.containerPort} to ${resolved}, because a ` +
          `hostNetwork pod listens on its host port; read it from the annotation ` +
          `port.hostport.rmb938.com/${port.name}`,
      );
    }
  }
  if (errors.length > 0) {
    return { allowed: false, errors, retryable: retryable && structural === 0 };
  }
  const mutation = { annotations, assignments, label: assignments.length > 0 };
  return { allowed: true, mutation, warnings };
}

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

function resolveClaim(claim: PortAnnotation, namespace: string, state: ClaimState): Resolution {
  const { path, name: claimName } = claim;
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
  const lookup = state.hostPort!;
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
    return { allowed: true, mutation: {}, warnings: [] };
  }
  const before = oldPod.metadata?.annotations ?? {};
  const after = pod.metadata?.annotations ?? {};
  // The claim annotations of either version, in the order a new pod's errors have.
  const union: Pod = { metadata: { annotations: { ...before, ...after } } };
  const { all } = readPortAnnotations(union, CLAIM_ANNOTATION_PREFIX);
  const errors: FieldError[] = [];
  const restore: Record<string, string> = {};
  for (const { key, portName, path } of all) {
    const [value, old] = [after[key], before[key]];
    const portKey = portAnnotationKey(portName);
    const written = before[portKey];
    if (value === old) {
      if (written !== undefined) restore[portKey] = written;
    } else if (value === undefined) {
      // The port still holds its host port while the pod can run: say so on the port itself.
      const detail = pod.spec?.hostNetwork === true
        ? HOST_NETWORK_DETAIL
        : POD_MESSAGE.hostPortsForbidden;
      const held = listPodPorts(pod)
        .filter((port) => portName !== "" && port.name === portName && port.nodePort > 0)
        .map((port) => invalid(`${port.path}.hostPort`, port.nodePort, detail));
      const removed = forbidden(path, "cannot remove the claim of a pod that can still run");
      errors.push(...(held.length > 0 ? held : [removed]));
    } else if (old === undefined) {
      errors.push(forbidden(path, "cannot add a claim to an existing pod"));
    } else {
      errors.push(invalid(path, value, "cannot change the claim of an existing pod"));
    }
  }
  if (errors.length > 0) return { allowed: false, errors, retryable: false };
  return { allowed: true, mutation: { annotations: restore }, warnings: [] };
}

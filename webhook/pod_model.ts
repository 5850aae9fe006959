/**
 * What the pod webhook reads and writes on a pod, pure: the loose schema of the parts it reads,
 * its claim annotations (`claim.hostport.rmb938.com/<portName>: <claim name>`), its container
 * ports with the port rules (seed 3.5 steps 1 and 2, applied to `initContainers` too: native
 * sidecars are init containers, seed 5.4 #23), and the mutation with its JSON Patch: the
 * difference between the pod and the mutated pod, so fields the webhook does not know are never
 * touched (seed 5.4 #27).
 *
 * @module
 */
import * as z from "zod";
import jsonpatch from "fast-json-patch";
import {
  POD_LABEL_KEY,
  POD_LABEL_VALUE,
  POD_MESSAGE,
  portNameOfClaimAnnotation,
} from "../lib/api/mod.ts";
import {
  duplicate,
  type FieldError,
  type FieldPath,
  fieldPath,
  invalid,
  tooMany,
} from "./field_errors.ts";
import type { JsonPatchOp } from "./json_patch.ts";

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

/** One claim annotation. */
export interface ClaimAnnotation {
  /** The annotation key. */
  readonly key: string;
  /** The port name after the prefix; `""` when the key is the bare prefix. */
  readonly portName: string;
  /** The annotation value: the claim's name in the pod's namespace. */
  readonly claimName: string;
  /** `metadata.annotations.<key>`. */
  readonly path: FieldPath;
}

/** The claim annotations of a pod and the problems with them. */
export interface PodClaims {
  /** Every claim annotation, sorted by port name (so errors come in a fixed order). */
  readonly all: readonly ClaimAnnotation[];
  /** The usable ones: both port name and claim name set. */
  readonly valid: readonly ClaimAnnotation[];
  /** Names that some claim annotation claims (valid or not): their hostPorts are allowed. */
  readonly claimedPortNames: ReadonlySet<string>;
  /** `Too many` when the pod has more than {@linkcode MAX_CLAIMS_PER_POD} claim annotations. */
  readonly tooMany: FieldError | undefined;
}

/**
 * Reads the claim annotations, sorted by port name (the original followed Go map order, so its
 * error order changed between calls; seed 5.4 #30).
 */
export function readPodClaims(
  annotations: Readonly<Record<string, string>> | undefined,
): PodClaims {
  const all: ClaimAnnotation[] = [];
  for (const [key, claimName] of Object.entries(annotations ?? {})) {
    const portName = portNameOfClaimAnnotation(key);
    if (portName !== undefined) all.push({ key, portName, claimName, path: annotationPath(key) });
  }
  all.sort((a, b) => compare(a.portName, b.portName) || compare(a.key, b.key));
  return {
    all,
    valid: all.filter((claim) => claim.portName !== "" && claim.claimName !== ""),
    claimedPortNames: new Set(all.map((claim) => claim.portName).filter((name) => name !== "")),
    tooMany: all.length > MAX_CLAIMS_PER_POD
      ? tooMany(fieldPath("metadata", "annotations"), all.length, MAX_CLAIMS_PER_POD)
      : undefined,
  };
}

/** The original's two annotation messages (both when both apply). */
export function claimAnnotationErrors(claim: ClaimAnnotation): FieldError[] {
  const errors: FieldError[] = [];
  if (claim.portName === "") {
    errors.push(invalid(claim.path, claim.key, POD_MESSAGE.annotationNeedsPortName));
  }
  if (claim.claimName === "") {
    errors.push(invalid(claim.path, "", POD_MESSAGE.annotationNeedsClaimName));
  }
  return errors;
}

/** `metadata.annotations.<key>` (the key is not escaped, as in the original). */
export function annotationPath(key: string): FieldPath {
  return fieldPath("metadata", "annotations", key);
}

/** Orders strings by UTF-16 code units, the same everywhere (unlike `localeCompare`). */
export function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** One container port, with where it is. */
export interface PodPort {
  /** `spec.containers[c].ports[p]` or `spec.initContainers[c].ports[p]`. */
  readonly path: FieldPath;
  /** JSON pointer of the port object, for patches. */
  readonly pointer: string;
  /** The port name; `""` when unnamed. */
  readonly name: string;
  /** `containerPort`. */
  readonly containerPort: number;
  /**
   * The port the pod takes on the node: `hostPort`, or for a hostNetwork pod `containerPort`
   * (the API defaults `hostPort = containerPort` for them before admission); 0 for none.
   */
  readonly nodePort: number;
}

/** Every port of `spec.containers`, then of `spec.initContainers` (ephemeral ones have none). */
export function listPodPorts(pod: Pod): PodPort[] {
  const hostNetwork = pod.spec?.hostNetwork === true;
  return (["containers", "initContainers"] as const).flatMap((list) =>
    (pod.spec?.[list] ?? []).flatMap((container, c) =>
      (container.ports ?? []).map((port, p) => ({
        path: fieldPath("spec", list).index(c).child("ports").index(p),
        pointer: `/spec/${list}/${c}/ports/${p}`,
        name: port.name ?? "",
        containerPort: port.containerPort,
        nodePort: port.hostPort ? port.hostPort : hostNetwork ? port.containerPort : 0,
      }))
    )
  );
}

/** Detail of the hostPort refusal for hostNetwork pods; it keeps the original's text first. */
export const HOST_NETWORK_DETAIL = `${POD_MESSAGE.hostPortsForbidden}: a hostNetwork pod ` +
  "uses each container port as a host port, so each port must be named and claimed with a " +
  "claim.hostport.rmb938.com/<port name> annotation";

/**
 * The port rules: a port that takes a node port must be claimed (else `host ports cannot be
 * set`), and a claimed name must name one port only (else `Duplicate value`). Unclaimed ports
 * need neither a name nor a unique one (seed 5.4 #22).
 */
export function checkPorts(
  ports: readonly PodPort[],
  claimed: ReadonlySet<string>,
  hostNetwork: boolean,
): FieldError[] {
  const errors: FieldError[] = [];
  const seen = new Set<string>();
  for (const port of ports) {
    const isClaimed = port.name !== "" && claimed.has(port.name);
    if (isClaimed && seen.has(port.name)) {
      errors.push(duplicate(port.path.child("name"), port.name));
    }
    if (isClaimed) seen.add(port.name);
    if (port.nodePort > 0 && !isClaimed) {
      const detail = hostNetwork ? HOST_NETWORK_DETAIL : POD_MESSAGE.hostPortsForbidden;
      errors.push(invalid(port.path.child("hostPort"), port.nodePort, detail));
    }
  }
  return errors;
}

/** A port to point at an allocated host port. */
export interface PortAssignment {
  /** The container port. */
  readonly port: PodPort;
  /** The allocated port. */
  readonly hostPort: number;
  /** Also set `containerPort` (hostNetwork pods: the API requires `hostPort == containerPort`). */
  readonly setContainerPort: boolean;
}

/** What the webhook sets on an admitted pod. */
export interface PodMutation {
  /** Annotation values, by key. */
  readonly annotations?: ReadonlyMap<string, string>;
  /** Ports and their allocated host ports. */
  readonly assignments?: readonly PortAssignment[];
  /** Set the label the operator watches pods by ({@linkcode POD_LABEL_KEY}). */
  readonly label?: boolean;
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

/** The JSON Patch of a mutation: the difference between the pod and the mutated pod. */
export function mutationPatch(pod: Pod, mutation: PodMutation): JsonPatchOp[] {
  const original = asJson(pod); // one copy for both sides: mutatePod copies it again
  return jsonpatch.compare(original, mutatePod(original, mutation));
}

/** The JSON Patch that turns `original` into `mutated` (none when they are equal). */
export function podPatch(original: Pod, mutated: Pod): JsonPatchOp[] {
  return jsonpatch.compare(asJson(original), asJson(mutated));
}

/**
 * A copy of the pod as the API server holds it, as JSON: a member set to `undefined` in memory
 * is absent there, so the patch must `add` it, not `replace` it.
 */
function asJson(pod: Pod): Pod {
  return JSON.parse(JSON.stringify(pod));
}

/**
 * What the pod webhook reads and writes on a pod, pure: the loose schema of the parts it reads
 * (it never re-serialises the pod), its claim annotations
 * (`claim.hostport.rmb938.com/<portName>: <claim name>`), its container ports with the port rules
 * (seed 3.5 steps 1 and 2, applied to `initContainers` as well as `containers`: seed 5.4 #23,
 * native sidecars are init containers with `restartPolicy: Always`, and a hostPort there must not
 * slip through), and the mutation with its JSON Patch: the difference between the pod and the
 * mutated pod (`fast-json-patch`'s `compare`). Only what the webhook sets differs, so fields it
 * does not know are never touched (seed 5.4 #27: the original diffed a re-marshalled typed pod and
 * removed every field its compiled types lacked).
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
import { applyJsonPatch, type JsonPatchOp, jsonPointer } from "./json_patch.ts";

/** Schema of a container port (`containerPort` is required by the API). */
const ContainerPortSchema = z.object({
  name: z.string().optional(),
  containerPort: z.int(),
  hostPort: z.int().optional(),
  protocol: z.string().optional(),
  hostIP: z.string().optional(),
}).loose();

/** Schema of a container or init container (only its ports matter here). */
const ContainerSchema = z.object({
  name: z.string().optional(),
  ports: z.array(ContainerPortSchema).optional(),
}).loose();
/** A container. */
export type Container = z.infer<typeof ContainerSchema>;

/** Schema of the pod metadata the webhook reads. */
const PodMetadataSchema = z.object({
  name: z.string().optional(),
  generateName: z.string().optional(),
  namespace: z.string().optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  ownerReferences: z.array(z.object({}).loose()).optional(),
  deletionTimestamp: z.string().optional(),
}).loose();

/** Schema of the pod spec the webhook reads. */
const PodSpecSchema = z.object({
  hostNetwork: z.boolean().optional(),
  containers: z.array(ContainerSchema).optional(),
  initContainers: z.array(ContainerSchema).optional(),
}).loose();

/** Schema of the pod status the webhook reads. */
const PodStatusSchema = z.object({
  phase: z.string().optional(),
}).loose();

/** Schema of a Pod as the webhook reads it. */
export const PodSchema = z.object({
  metadata: PodMetadataSchema.optional(),
  spec: PodSpecSchema.optional(),
  status: PodStatusSchema.optional(),
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
 * Reads the claim annotations (seed 3.5 step 1, with a fixed order: the original followed Go
 * map order, so its error order changed between calls; seed 5.4 #30).
 *
 * @param annotations the pod's annotations
 * @returns the claims, sorted by port name
 */
export function readPodClaims(
  annotations: Readonly<Record<string, string>> | undefined,
): PodClaims {
  const all: ClaimAnnotation[] = [];
  for (const [key, claimName] of Object.entries(annotations ?? {})) {
    const portName = portNameOfClaimAnnotation(key);
    if (portName === undefined) continue;
    all.push({ key, portName, claimName, path: annotationPath(key) });
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

/**
 * The problems with one claim annotation itself: `Annotation name must contain the port name`
 * and `Annotation value must contain the claim name` (both when both apply, as in the original).
 *
 * @param claim the annotation
 * @returns the errors
 */
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

/**
 * The path of an annotation: `metadata.annotations.<key>` (the key is not escaped, as in the
 * original).
 *
 * @param key the annotation key
 * @returns the path
 */
export function annotationPath(key: string): FieldPath {
  return fieldPath("metadata", "annotations").child(key);
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
  /** `hostPort` as written; absent when the field is not set. */
  readonly hostPort: number | undefined;
  /**
   * The port the pod takes on the node: `hostPort`, or for a hostNetwork pod `containerPort`
   * (the API defaults `hostPort = containerPort` for them before admission); 0 for none.
   */
  readonly nodePort: number;
}

const CONTAINER_LISTS = ["containers", "initContainers"] as const;

/**
 * Lists every port of `spec.containers`, then of `spec.initContainers`, in order.
 * (`ephemeralContainers` may not declare ports, so they are not listed.)
 *
 * @param pod the pod
 * @returns the ports
 */
export function listPodPorts(pod: Pod): PodPort[] {
  const hostNetwork = pod.spec?.hostNetwork === true;
  const ports: PodPort[] = [];
  for (const list of CONTAINER_LISTS) {
    (pod.spec?.[list] ?? []).forEach((container, c) => {
      (container.ports ?? []).forEach((port, p) => {
        const hostPort = port.hostPort;
        const set = hostPort !== undefined && hostPort !== 0;
        ports.push({
          path: fieldPath("spec", list).index(c).child("ports").index(p),
          pointer: jsonPointer("spec", list, c, "ports", p),
          name: port.name ?? "",
          containerPort: port.containerPort,
          hostPort,
          nodePort: set ? hostPort : hostNetwork ? port.containerPort : 0,
        });
      });
    });
  }
  return ports;
}

/** Detail of the hostPort refusal for hostNetwork pods; it keeps the original's text first. */
export const HOST_NETWORK_DETAIL = `${POD_MESSAGE.hostPortsForbidden}: a hostNetwork pod ` +
  "uses each container port as a host port, so each port must be named and claimed with a " +
  "claim.hostport.rmb938.com/<port name> annotation";

/**
 * The port rules for a pod with the given claimed port names:
 *
 * - a port that takes a node port (hostPort, or any port of a hostNetwork pod) must be claimed:
 *   else `host ports cannot be set` on `...hostPort`;
 * - a claimed name must name one port only: else `Duplicate value` on the later `...name`.
 *   Unclaimed ports need neither a name nor a unique one (seed 5.4 #22: the original refused
 *   any unnamed or repeated port name once a pod had a claim, which broke unnamed sidecar ports).
 *
 * @param ports the pod's ports
 * @param claimed the port names that claim annotations name
 * @param hostNetwork whether the pod uses the host network
 * @returns the errors, in port order
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

/**
 * `Port name must be set` on every unnamed port, reported only when a claim names a port that
 * does not exist: then an unnamed port is most likely the one meant (the only case where the
 * original's rule still helps).
 *
 * @param ports the pod's ports
 * @returns the errors, in port order
 */
export function unnamedPortErrors(ports: readonly PodPort[]): FieldError[] {
  return ports.filter((port) => port.name === "").map((port) =>
    invalid(port.path.child("name"), "", POD_MESSAGE.portNameRequired)
  );
}

/**
 * Returns the first port with the given name.
 *
 * @param ports the pod's ports
 * @param name a port name
 * @returns the port, if any
 */
export function findPort(ports: readonly PodPort[], name: string): PodPort | undefined {
  return ports.find((port) => port.name === name);
}

/** A port to point at an allocated host port. */
export interface PortAssignment {
  /** The container port. */
  readonly port: PodPort;
  /** The allocated port. */
  readonly hostPort: number;
  /**
   * Also set `containerPort` (hostNetwork pods: the API requires `hostPort == containerPort`
   * there, so the container must listen on the allocated port, which it reads from the
   * `port.hostport.rmb938.com/<port name>` annotation through the downward API).
   */
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

/**
 * The pod with the mutation applied; `pod` itself is not changed.
 *
 * @param pod the pod as admitted
 * @param mutation what to set
 * @returns a mutated copy
 */
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

/**
 * The JSON Patch of a mutation: the difference between the pod and the mutated pod.
 *
 * @param pod the pod as admitted
 * @param mutation what to set
 * @returns the operations (none when the mutation changes nothing)
 */
export function mutationPatch(pod: Pod, mutation: PodMutation): JsonPatchOp[] {
  const original = asJson(pod); // one copy for both sides: mutatePod copies it again
  return jsonpatch.compare(original, mutatePod(original, mutation)) as JsonPatchOp[];
}

/**
 * The JSON Patch that turns `original` into `mutated`.
 *
 * @param original the pod as admitted
 * @param mutated the pod as the webhook wants it stored
 * @returns the operations (none when the two are equal)
 */
export function podPatch(original: Pod, mutated: Pod): JsonPatchOp[] {
  return jsonpatch.compare(asJson(original), asJson(mutated)) as JsonPatchOp[];
}

/**
 * A copy of the pod as the API server holds it, as JSON: a member set to `undefined` in memory
 * is absent there, so the patch must `add` it, not `replace` it.
 */
function asJson(pod: Pod): Pod {
  return JSON.parse(JSON.stringify(pod));
}

/**
 * `pod` with `patch` applied (to a copy).
 *
 * @param pod the pod
 * @param patch operations computed against it
 * @returns the patched copy
 */
export function patchedPod(pod: Pod, patch: readonly JsonPatchOp[]): Pod {
  return applyJsonPatch(pod, patch);
}

/**
 * Reading the claim annotations of a pod: `claim.hostport.rmb938.com/<portName>: <claim name>`.
 *
 * @module
 */
import { POD_MESSAGE, portNameOfClaimAnnotation } from "../lib/api/mod.ts";
import { type FieldError, type FieldPath, fieldPath, invalid, tooMany } from "./field_errors.ts";

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

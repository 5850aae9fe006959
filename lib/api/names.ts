/**
 * Names derived from other names: the dynamic HostPort of a claim and the pod annotation keys.
 *
 * @module
 */
import {
  CLAIM_ANNOTATION_PREFIX,
  HOST_PORT_NAME_PREFIX,
  PORT_ANNOTATION_PREFIX,
} from "./constants.ts";

/**
 * Returns the name of the HostPort provisioned for a claim: `hpc-<claim uid>`.
 *
 * @param claimUid the claim's `metadata.uid`
 * @returns the HostPort name
 */
export function hostPortNameForClaim(claimUid: string): string {
  return `${HOST_PORT_NAME_PREFIX}${claimUid}`;
}

/**
 * Returns the pod annotation key that names a claim for a port: `claim.hostport.rmb938.com/<portName>`.
 *
 * @param portName the container port name
 * @returns the annotation key
 */
export function claimAnnotationKey(portName: string): string {
  return `${CLAIM_ANNOTATION_PREFIX}${portName}`;
}

/**
 * Returns the pod annotation key that carries a port's allocated number:
 * `port.hostport.rmb938.com/<portName>`.
 *
 * @param portName the container port name
 * @returns the annotation key
 */
export function portAnnotationKey(portName: string): string {
  return `${PORT_ANNOTATION_PREFIX}${portName}`;
}

/**
 * Returns the port name of a claim annotation key, `""` for the bare prefix, or `undefined` when
 * the key is not a claim annotation.
 *
 * @param key a pod annotation key
 * @returns the port name after `claim.hostport.rmb938.com/`, if the key has that prefix
 */
export function portNameOfClaimAnnotation(key: string): string | undefined {
  if (!key.startsWith(CLAIM_ANNOTATION_PREFIX)) return undefined;
  return key.slice(CLAIM_ANNOTATION_PREFIX.length);
}

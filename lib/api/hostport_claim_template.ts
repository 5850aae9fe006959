/**
 * HostPortClaimTemplate: a namespaced recipe for claims, one per pod. A pod annotated
 * `claim-template.hostport.rmb938.com/<portName>: <template>` gets a claim of its own made from
 * it, as a StatefulSet's `volumeClaimTemplates` give each replica its own volume.
 *
 * @module
 */
import * as z from "zod";
import { API_VERSION, KIND } from "./constants.ts";
import { ObjectMetaSchema, type OwnerReference, parseObject } from "./meta.ts";

/** Longest object name Kubernetes accepts (a DNS subdomain). */
const MAX_NAME_LENGTH = 253;

/** Schema of `HostPortClaimTemplate.spec`. */
export const HostPortClaimTemplateSpecSchema = z.object({
  hostPortClassName: z.string().meta({ minLength: 1, maxLength: MAX_NAME_LENGTH }).describe(
    "The host port class of the claims made from this template",
  ),
  metadata: z.object({
    labels: z.record(z.string(), z.string().describe("A label value")).optional().describe(
      "Labels of each claim",
    ),
    annotations: z.record(z.string(), z.string().describe("An annotation value")).optional()
      .describe("Annotations of each claim"),
  }).loose().optional().describe("Labels and annotations copied into each claim"),
}).loose().describe("What each claim made from this template looks like");
/** Schema of a HostPortClaimTemplate object. */
export const HostPortClaimTemplateSchema = z.object({
  apiVersion: z.literal(API_VERSION).describe("API version of the object"),
  kind: z.literal(KIND.HostPortClaimTemplate).describe("Kind of the object"),
  metadata: ObjectMetaSchema,
  spec: HostPortClaimTemplateSpecSchema,
}).loose().describe(
  "HostPortClaimTemplate makes one HostPortClaim per pod. A pod annotated " +
    "claim-template.hostport.rmb938.com/<port name>: <template name> gets its own claim: " +
    "<template>-<pod> for StatefulSet pods (kept across restarts, retained as the StatefulSet's " +
    "persistentVolumeClaimRetentionPolicy says), <pod>-<port name> owned by the pod otherwise.",
);
/** A HostPortClaimTemplate. */
export type HostPortClaimTemplate = z.infer<typeof HostPortClaimTemplateSchema>;

/**
 * Parses a HostPortClaimTemplate; unknown fields are kept.
 *
 * @param value an untrusted value
 * @returns the typed object
 * @throws {InvalidObjectError} naming every bad field when the value is not a template
 */
export function parseHostPortClaimTemplate(value: unknown): HostPortClaimTemplate {
  return parseObject(HostPortClaimTemplateSchema, value, KIND.HostPortClaimTemplate);
}

/** The StatefulSet's claim retention, as in `persistentVolumeClaimRetentionPolicy`. */
export interface RetentionPolicy {
  /** `Delete`: claims go with the StatefulSet; `Retain` (default): they stay. */
  readonly whenDeleted: "Retain" | "Delete";
  /** `Delete`: a scaled-away ordinal's claim goes with its pod; `Retain` (default): it stays. */
  readonly whenScaled: "Retain" | "Delete";
}

/**
 * Reads a StatefulSet's `persistentVolumeClaimRetentionPolicy` (both fields default `Retain`).
 *
 * @param policy the field as stored
 */
export function retentionPolicyOf(
  policy: { whenDeleted?: string | undefined; whenScaled?: string | undefined } | undefined,
): RetentionPolicy {
  return {
    whenDeleted: policy?.whenDeleted === "Delete" ? "Delete" : "Retain",
    whenScaled: policy?.whenScaled === "Delete" ? "Delete" : "Retain",
  };
}

/**
 * The owner reference a StatefulSet gets on its claims (as the StatefulSet controller sets on
 * its PVCs: not the controller, since the claim outlives pods and sets under `Retain`).
 *
 * @param set the StatefulSet's name and uid
 * @returns the owner reference
 */
export function statefulSetReference(set: { name: string; uid: string }): OwnerReference {
  return { apiVersion: "apps/v1", kind: "StatefulSet", name: set.name, uid: set.uid };
}

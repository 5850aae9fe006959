/**
 * The parts of a core/v1 Pod the pod webhook reads, as a loose zod schema. The webhook never
 * re-serialises the pod (it answers with narrow JSON Patch operations), so fields it does not
 * know are never touched.
 *
 * @module
 */
import * as z from "zod";

/** Schema of a container port (`containerPort` is required by the API). */
export const ContainerPortSchema = z.object({
  name: z.string().optional(),
  containerPort: z.int(),
  hostPort: z.int().optional(),
  protocol: z.string().optional(),
  hostIP: z.string().optional(),
}).loose();
/** A container port. */
export type ContainerPort = z.infer<typeof ContainerPortSchema>;

/** Schema of a container or init container (only its ports matter here). */
export const ContainerSchema = z.object({
  name: z.string().optional(),
  ports: z.array(ContainerPortSchema).optional(),
}).loose();
/** A container. */
export type Container = z.infer<typeof ContainerSchema>;

/** Schema of the pod metadata the webhook reads. */
export const PodMetadataSchema = z.object({
  name: z.string().optional(),
  generateName: z.string().optional(),
  namespace: z.string().optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  ownerReferences: z.array(z.object({}).loose()).optional(),
  deletionTimestamp: z.string().optional(),
}).loose();

/** Schema of the pod spec the webhook reads. */
export const PodSpecSchema = z.object({
  hostNetwork: z.boolean().optional(),
  containers: z.array(ContainerSchema).optional(),
  initContainers: z.array(ContainerSchema).optional(),
}).loose();

/** Schema of the pod status the webhook reads. */
export const PodStatusSchema = z.object({
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

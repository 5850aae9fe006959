/**
 * Pods as the operator caches them: a descriptor that decodes every Pod into a `PodSummary`
 * (identity, phase, deletion and claim annotations), so a cluster-wide pod cache stays small.
 *
 * @module
 */
import { defineResource, type ResourceDescriptor } from "../kube/resource.ts";
import { type PodSummary, summarizePod } from "../reconcile/pods.ts";

/** `v1` Pods, decoded to `PodSummary` (lists, watches and gets alike). */
export const POD_SUMMARY_RESOURCE: ResourceDescriptor<PodSummary> = defineResource<PodSummary>({
  group: "",
  version: "v1",
  kind: "Pod",
  plural: "pods",
  namespaced: true,
  schema: {
    parse(value: unknown): PodSummary {
      const summary = summarizePod(value as Parameters<typeof summarizePod>[0]);
      if (!summary.metadata.name) throw new TypeError("metadata.name is missing");
      return summary;
    },
  },
});

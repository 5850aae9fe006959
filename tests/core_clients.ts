/**
 * Clients of tests and benchmarks: Namespaces (the operator never reads or writes them), deleting
 * a pod at once, and a `KubeRestClient` that `using` closes.
 *
 * @module
 */
import type { Namespace } from "kubernetes-types/core/v1.d.ts";
import { defineResource, ResourceClient } from "../lib/kube/resource.ts";
import type { KubeRestClient, RestClient } from "../lib/kube/rest_client.ts";

const NAMESPACE_RESOURCE = defineResource<Namespace>({
  group: "",
  version: "v1",
  kind: "Namespace",
  plural: "namespaces",
  namespaced: false,
});

/** A client of `v1` Namespaces over `kube.rest`. */
export function namespaces(kube: { readonly rest: RestClient }): ResourceClient<Namespace> {
  return new ResourceClient(kube.rest, NAMESPACE_RESOURCE);
}

/** Deletes a pod at once (grace period 0): without a kubelet a graceful delete never ends. */
export async function deletePodNow(
  kube: { readonly rest: RestClient },
  name: string,
  namespace: string,
): Promise<void> {
  await kube.rest.performRequest({
    method: "DELETE",
    path: `/api/v1/namespaces/${namespace}/pods/${name}`,
    bodyJson: { apiVersion: "v1", kind: "DeleteOptions", gracePeriodSeconds: 0 },
  });
}

/** `rest`, closed when a `using` declaration holding it goes out of scope. */
export function closing(rest: KubeRestClient): KubeRestClient & Disposable {
  return Object.assign(rest, { [Symbol.dispose]: () => rest.close() });
}

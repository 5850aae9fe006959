/**
 * The Kubernetes client the operator runs on: configuration (kubeconfig, exec plugins,
 * in-cluster), a `RestClient` on Deno's `fetch` with typed errors, typed resource clients,
 * watches, an informer with an indexed cache, and a rate-limited work queue.
 *
 * @example List HostPortClaims and watch for changes
 * ```ts ignore
 * import { createKubeClients, Informer, KubeRestClient } from "./mod.ts";
 *
 * using rest = await KubeRestClient.fromEnvironment();
 * const kube = createKubeClients(rest);
 * const claims = new Informer(kube.hostPortClaims);
 * claims.addEventHandler({ onAdd: (claim) => console.log(claim.metadata.name) });
 * claims.start();
 * await claims.synced;
 * await claims.stop();
 * ```
 *
 * @module
 */
export * from "./rest_contract.ts";
export * from "./errors.ts";
export * from "./cluster_config.ts";
export * from "./kubeconfig_schema.ts";
export * from "./kubeconfig.ts";
export * from "./kubeconfig_resolve.ts";
export * from "./in_cluster.ts";
export * from "./exec_credential.ts";
export * from "./credentials.ts";
export * from "./load_config.ts";
export * from "./rate_limiter.ts";
export * from "./rest_client.ts";
export * from "./resource.ts";
export * from "./resource_options.ts";
export * from "./resource_client.ts";
export * from "./watch.ts";
export * from "./builtin_resources.ts";
export * from "./hostport_resources.ts";
export * from "./clients.ts";
export * from "./self_subject.ts";
export * from "./clock.ts";
export * from "./backoff.ts";
export * from "./store.ts";
export * from "./informer.ts";
export * from "./work_queue.ts";

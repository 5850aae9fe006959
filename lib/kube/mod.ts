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
export * from "./errors.ts";
export * from "./config.ts";
export * from "./credentials.ts";
export * from "./rest_client.ts";
export * from "./resource.ts";
export * from "./clients.ts";
export * from "./self_subject.ts";
export * from "./clock.ts";
export * from "./store.ts";
export * from "./informer.ts";
export * from "./work_queue.ts";

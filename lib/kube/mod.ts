/**
 * The Kubernetes client the operator runs on: configuration and credentials, a `RestClient` on
 * Deno's `fetch` with typed errors, typed resource clients and watches, an informer with an
 * indexed cache, and a rate-limited work queue.
 *
 * @module
 */
export * from "./config.ts";
export * from "./rest_client.ts";
export * from "./resource.ts";
export * from "./clock.ts";
export * from "./informer.ts";
export * from "./work_queue.ts";

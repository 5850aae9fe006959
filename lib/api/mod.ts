/**
 * The `hostport.rmb938.com/v1alpha1` API: its strings, the zod schemas and parsers of the kinds,
 * and the CRD builder. Pure: it imports only zod.
 *
 * @module
 */
export * from "./constants.ts";
export * from "./types.ts";
export * from "./crd.ts";

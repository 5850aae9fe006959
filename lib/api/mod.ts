/** The `hostport.rmb938.com/v1alpha1` API: strings, zod schemas, parsers, CRDs. @module */
export * from "./constants.ts";
export * from "./types.ts";
export * from "./crd.ts";

/**
 * Pure port allocation: no I/O, no clock, no randomness, nothing imported from outside this
 * folder. {@linkcode PortRegistry} holds the ports held cluster-wide (over the one
 * {@linkcode PortBitmap}) and allocates from a class's ordered pools; {@linkcode validatePools}
 * and {@linkcode findClassOverlaps} check pools for the webhooks.
 *
 * @module
 */
export * from "./port_bitmap.ts";
export * from "./port_registry.ts";
export * from "./pools.ts";

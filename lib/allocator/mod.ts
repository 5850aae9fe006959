/** Pure port allocation: the bitmap, the registry over it, and checks of pools. @module */
export * from "./port_bitmap.ts";
export * from "./port_registry.ts";
export * from "./pools.ts";

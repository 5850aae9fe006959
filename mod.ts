/**
 * hostport-allocator: a Kubernetes operator that hands out host ports the way
 * Kubernetes hands out volumes.
 *
 * @module
 */
if (import.meta.main) {
  console.error("hostport-allocator: the operator is not built yet (see the open issues)");
  Deno.exit(1);
}

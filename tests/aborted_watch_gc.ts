/**
 * Run by kube_rest_client_test.ts as `deno run --v8-flags=--expose-gc`: opens a watch on a local
 * server that sends one event and then stays quiet, forces full garbage collections while the
 * watch waits for more, aborts it, and prints how the watch ended: the error's name, "ended", or
 * "still running" when the abort was lost.
 */
import type { Pod } from "kubernetes-types/core/v1.d.ts";
import { KubeRestClient, POD_RESOURCE, ResourceClient } from "../lib/kube/mod.ts";

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("Run with --v8-flags=--expose-gc");

const event = { type: "ADDED", object: { apiVersion: "v1", kind: "Pod", metadata: { name: "p" } } };
const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () =>
  new Response(
    new ReadableStream<Uint8Array>({
      start: (c) => c.enqueue(new TextEncoder().encode(`${JSON.stringify(event)}\n`)),
    }),
  ));
const rest = new KubeRestClient({
  server: `http://127.0.0.1:${server.addr.port}`,
  auth: { type: "none" },
});
const pods = new ResourceClient<Pod>(rest, POD_RESOURCE);
const abort = new AbortController();
const firstEvent = Promise.withResolvers<void>();
const outcome = (async () => {
  try {
    for await (const _event of pods.watch({ abortSignal: abort.signal })) firstEvent.resolve();
    return "ended";
  } catch (error) {
    return (error as Error).name;
  }
})();

await firstEvent.promise;
// The watch waits for its next line; only the client itself still refers to the Response.
gc();
abort.abort();
let deadline: ReturnType<typeof setTimeout> | undefined;
const result = await Promise.race([
  outcome,
  new Promise<string>((resolve) => deadline = setTimeout(() => resolve("still running"), 5_000)),
]);
clearTimeout(deadline);
console.log(result);
Deno.exit(0); // a lost abort leaves the body read pending, which would keep the process alive
